"""Errors of the ingestion pipeline, with the Service API's file error codes (service-api.md §1.1)."""

from django.conf import settings

from apps.core.errors import ServiceError

SUPPORTED_EXTENSIONS = ("txt", "markdown", "md", "pdf", "html", "htm", "xlsx", "docx", "csv")


class ExtractionError(Exception):
    """The file could not be read; the message is shown to the user as the document's error."""


def unsupported_file_type(detail: str = "") -> ServiceError:
    message = "File type not allowed."
    if detail:
        message = f"{message} {detail}"
    return ServiceError("unsupported_file_type", message, 415)


def file_too_large(size: int) -> ServiceError:
    limit = settings.UPLOAD_FILE_SIZE_LIMIT
    return ServiceError("file_too_large",
                        f"File size exceeded. {size / 1024 / 1024:.1f} MB > {limit} MB.", 413)


def too_many_files(limit: int | None = None) -> ServiceError:
    if limit is None or limit <= 1:
        return ServiceError("too_many_files", "Only one file is allowed.", 400)
    return ServiceError("too_many_files", f"Too many files: at most {limit} per upload.", 400)


def no_file_uploaded() -> ServiceError:
    return ServiceError("no_file_uploaded", "Please upload your file.", 400)
