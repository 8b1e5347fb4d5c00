"""Files inside a run: the file objects of inputs and sys.files (service-api.md §2.21), reading
their bytes, and saving files that nodes produce (HTTP responses).

A local file is found by id *within the running app*, so one app (or workspace) cannot read
another's uploads by guessing ids.
"""

import base64
import mimetypes
import uuid
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from apps.applications.models import UploadFile
from apps.core.errors import invalid_param
from apps.workflows.engine.entities import NodeError
from apps.workspaces.sync import run_in_tenant_detached

IDENTITY = "__dify__file__"
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "gif", "webp", "svg")
DOCUMENT_EXTENSIONS = ("txt", "md", "markdown", "mdx", "pdf", "html", "htm", "xlsx", "xls", "vtt", "properties",
                       "doc", "docx", "csv", "eml", "msg", "pptx", "ppt", "xml", "epub", "json", "yaml", "yml")


def file_type(extension: str) -> str:
    ext = extension.lower().lstrip(".")
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in DOCUMENT_EXTENSIONS:
        return "document"
    if ext in ("mp3", "m4a", "wav", "webm", "amr", "mpga"):
        return "audio"
    if ext in ("mp4", "mov", "mpeg"):
        return "video"
    return "custom"


def build(app_id: Any, raw: Any) -> dict[str, Any]:
    """A file object from the API (§2.21) as the pool holds it (sync, in the workspace schema)."""
    if not isinstance(raw, dict):
        raise invalid_param("A file must be an object with type, transfer_method and url or upload_file_id")
    method = raw.get("transfer_method")
    if method == "remote_url":
        url = raw.get("url") or raw.get("remote_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise invalid_param("A remote_url file needs an http(s) url")
        name = url.rsplit("/", 1)[-1].split("?")[0]
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        return {"dify_model_identity": IDENTITY, "type": raw.get("type") or file_type(extension),
                "transfer_method": "remote_url", "remote_url": url, "url": url, "related_id": None,
                "filename": name, "extension": f".{extension}" if extension else "",
                "mime_type": mimetypes.guess_type(name)[0] or "", "size": -1}
    if method == "local_file":
        file_id = raw.get("upload_file_id")
        try:
            uuid.UUID(str(file_id))
        except ValueError:
            raise invalid_param("upload_file_id must be a valid UUID") from None
        row = UploadFile.objects.filter(pk=file_id, app_id=app_id).first()
        if row is None:
            raise invalid_param(f"File {file_id} not found")
        return {"dify_model_identity": IDENTITY, "type": raw.get("type") or file_type(row.extension),
                "transfer_method": "local_file", "remote_url": None, "url": _data_url(row) if
                file_type(row.extension) == "image" else None, "related_id": str(row.pk), "filename": row.name,
                "extension": f".{row.extension}", "mime_type": row.mime_type, "size": row.size}
    raise invalid_param("transfer_method must be remote_url or local_file")


def _data_url(row: UploadFile) -> str:
    """Images go to vision models inline: the model never has to reach this server."""
    with default_storage.open(row.key, "rb") as handle:
        content = handle.read()
    return f"data:{row.mime_type};base64,{base64.b64encode(content).decode()}"


def _read_local(app_id: str, file_id: str) -> bytes:
    row = UploadFile.objects.filter(pk=file_id, app_id=app_id).first()
    if row is None:
        raise NodeError(f"File {file_id} not found", "FileNotFound")
    with default_storage.open(row.key, "rb") as handle:
        return handle.read()


async def read(ctx: Any, file: dict[str, Any]) -> bytes:
    """The bytes of a file object: local files from storage, remote ones through the guarded client."""
    limit = int(getattr(settings, "WORKFLOW_FILE_MAX_BYTES", 15 * 1024 * 1024))
    if file.get("transfer_method") in ("local_file", "tool_file") and file.get("related_id"):
        return await run_in_tenant_detached(ctx.tenant, _read_local, ctx.app_id, str(file["related_id"]))
    url = file.get("remote_url") or file.get("url")
    if not url:
        raise NodeError("The file has no content to read.", "FileNotFound")
    from apps.core import outbound

    try:
        async with outbound.async_client(timeout=30) as http:
            response = await http.get(url)
    except outbound.OutboundBlocked as exc:
        raise NodeError(str(exc), "OutboundBlocked") from None
    except Exception as exc:
        raise NodeError(f"Downloading the file failed: {exc}", "FileDownloadError") from None
    if len(response.content) > limit:
        raise NodeError("The file is too large.", "FileTooLarge")
    return response.content


def _save(app_id: str, content: bytes, mime_type: str, name: str) -> dict[str, Any]:
    extension = (mimetypes.guess_extension(mime_type or "") or ".bin").lstrip(".")
    file_id = uuid.uuid4()
    key = default_storage.save(f"upload_files/{connection.schema_name}/{file_id}.{extension}", ContentFile(content))
    row = UploadFile.objects.create(id=file_id, app_id=app_id, key=key, name=name or f"{file_id}.{extension}",
                                    size=len(content), extension=extension, mime_type=mime_type or "")
    return {"dify_model_identity": IDENTITY, "type": file_type(extension), "transfer_method": "tool_file",
            "remote_url": None, "url": None, "related_id": str(row.pk), "filename": row.name,
            "extension": f".{extension}", "mime_type": row.mime_type, "size": row.size}


async def save(ctx: Any, content: bytes, mime_type: str, name: str = "") -> dict[str, Any]:
    return await run_in_tenant_detached(ctx.tenant, _save, ctx.app_id, content, mime_type, name)


def with_urls(value: Any, workspace_id: Any) -> Any:
    """Outputs with a signed, expiring `url` on every stored file that has none (files the run made,
    uploads), so API clients and the WebApp can fetch them without a key (as the reference does)."""
    from apps.applications.message_files import signed_url

    if isinstance(value, list):
        return [with_urls(v, workspace_id) for v in value]
    if isinstance(value, dict) and value.get("dify_model_identity") == IDENTITY:
        if not value.get("url") and value.get("related_id"):
            return {**value, "url": signed_url(workspace_id, value["related_id"])}
        return value
    if isinstance(value, dict):
        return {k: with_urls(v, workspace_id) for k, v in value.items()}
    return value
