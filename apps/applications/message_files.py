"""Files of messages: the `files` argument of chat/completion messages (service-api.md §2.21),
the rows that tie them to messages, the images handed to vision models, and the signed,
expiring URLs through which uploaded files are served without an API key.

Signed URLs: `{FILES_URL}/v1/files/<file id>/file-preview?tenant=<workspace id>&timestamp=&nonce=&sign=`.
The signature is an HMAC-SHA256 (key derived from SECRET_KEY) over the workspace, the file, the
time and a nonce; it is good for FILES_ACCESS_TIMEOUT seconds. The workspace is in the URL because
files live in per-workspace schemas and the URL carries no key; it is covered by the signature.
"""

import base64
import dataclasses
import os
import secrets
import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, HttpResponse
from django.utils.crypto import constant_time_compare, salted_hmac

from apps.applications.config import with_defaults
from apps.applications.models import App, MessageFile, UploadFile
from apps.core.errors import ServiceError, invalid_param
from apps.datasets.pipeline import extract
from apps.providers.runtime.entities import ImagePart, PromptMessage

SIGN_SALT = "tessera.files.signed-url"
SIGNED_PATH = "/v1/files/{file_id}/file-preview"
# Only these are shown inline; everything else (HTML, SVG, XML, scripts …) is a download, since
# a browser would run scripts in them on this site's origin.
INLINE_PREFIXES = ("image/", "audio/", "video/")
INLINE_TYPES = ("text/plain", "application/pdf")
ACTIVE_EXTENSIONS = ("html", "htm", "xhtml", "svg", "svgz", "xml", "xsl", "xslt")
RANGE_TYPES = ("audio/", "video/")


# --- Uploads ------------------------------------------------------------------------------------

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "gif", "webp", "svg")
AUDIO_EXTENSIONS = ("mp3", "m4a", "wav", "webm", "amr", "mpga")
VIDEO_EXTENSIONS = ("mp4", "mov", "mpeg", "mpg")
# MB per kind (§2.10); documents and anything else take UPLOAD_FILE_SIZE_LIMIT.
SIZE_SETTINGS = (("image", IMAGE_EXTENSIONS, "UPLOAD_IMAGE_FILE_SIZE_LIMIT", 10),
                 ("video", VIDEO_EXTENSIONS, "UPLOAD_VIDEO_FILE_SIZE_LIMIT", 100),
                 ("audio", AUDIO_EXTENSIONS, "UPLOAD_AUDIO_FILE_SIZE_LIMIT", 50))


def _extension(file: UploadedFile) -> str:
    if not file.name:
        raise ServiceError("filename_not_exists_error", "The specified filename does not exist.")
    return os.path.splitext(file.name)[1].lstrip(".").lower()


def _size_limit(file: UploadedFile, setting: str, default_mb: int) -> None:
    limit = getattr(settings, setting, default_mb) * 1024 * 1024
    if file.size > limit:
        raise ServiceError("file_too_large", f"File size exceeded. {file.size} > {limit}", 413)


def check_upload(file: UploadedFile) -> None:
    """§2.10's checks of a /v1/files/upload file: a name, a type, an extension not on the operator's
    blocklist (UPLOAD_FILE_EXTENSION_BLACKLIST), the size limit of its kind, and content that is what
    the extension and the declared type say (the Knowledge API's check: an ELF or a zip named .pdf
    is refused)."""
    extension = _extension(file)
    if not file.content_type:
        raise ServiceError("unsupported_file_type", "File type not allowed.", 415)
    if not extension or extension in settings.UPLOAD_FILE_EXTENSION_BLACKLIST:
        raise ServiceError("file_extension_blocked", "The file extension is blocked for security reasons.")
    for _kind, extensions, setting, default_mb in SIZE_SETTINGS:
        if extension in extensions:
            _size_limit(file, setting, default_mb)
            break
    else:
        _size_limit(file, "UPLOAD_FILE_SIZE_LIMIT", 15)
    _check_content(file)


def _check_content(file: UploadedFile) -> None:
    whole = extract.needs_whole_file(file.name or "", file.content_type or "")
    file.seek(0)
    data = file.read() if whole else file.read(extract.HEAD_BYTES)
    file.seek(0)
    extract.check_content(file.name or "", data, file.content_type or "")


def check_image(file: UploadedFile) -> None:
    """An image only (the console's debug panel, for vision models), with §2.10's error codes."""
    extension = _extension(file)
    if not file.content_type or extension not in IMAGE_EXTENSIONS:
        raise ServiceError("unsupported_file_type", "File type not allowed.", 415)
    _size_limit(file, "UPLOAD_IMAGE_FILE_SIZE_LIMIT", 10)
    _check_content(file)


def store_upload(app: App, schema_name: str, file: UploadedFile, end_user: Any = None) -> UploadFile:
    """Keep a checked upload under the workspace's prefix (in the workspace schema)."""
    extension = os.path.splitext(file.name or "")[1].lstrip(".").lower()
    file_id = uuid.uuid4()
    key = default_storage.save(f"upload_files/{schema_name}/{file_id}.{extension}", file)
    return UploadFile.objects.create(id=file_id, app=app, key=key, name=os.path.basename(file.name or "")[:255],
                                     size=file.size, extension=extension, mime_type=file.content_type,
                                     created_by=end_user)


# --- Signed URLs --------------------------------------------------------------------------------


def _sign(workspace_id: str, file_id: str, timestamp: str, nonce: str) -> str:
    message = f"file-preview|{workspace_id}|{file_id}|{timestamp}|{nonce}"
    digest = salted_hmac(SIGN_SALT, message, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signed_url(workspace_id: Any, file_id: Any) -> str:
    """An absolute URL that serves the uploaded file for FILES_ACCESS_TIMEOUT seconds."""
    workspace_id, file_id = str(workspace_id), str(file_id)
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    query = urlencode({"tenant": workspace_id, "timestamp": timestamp, "nonce": nonce,
                       "sign": _sign(workspace_id, file_id, timestamp, nonce)})
    return f"{settings.FILES_URL}{SIGNED_PATH.format(file_id=file_id)}?{query}"


def verify(workspace_id: str, file_id: str, timestamp: str, nonce: str, sign: str) -> bool:
    """True for an untampered signature younger than FILES_ACCESS_TIMEOUT."""
    if not all(isinstance(v, str) and v for v in (workspace_id, file_id, timestamp, nonce, sign)):
        return False
    if not constant_time_compare(_sign(workspace_id, file_id, timestamp, nonce), sign):
        return False
    try:
        age = time.time() - int(timestamp)
    except ValueError:
        return False
    return 0 <= age <= settings.FILES_ACCESS_TIMEOUT


def file_response(upload: UploadFile, *, as_attachment: bool) -> HttpResponse:
    """The file's bytes, streamed, with §2.11's headers: its own type inline, octet-stream with a
    Content-Disposition as an attachment, and anything that could be active content (HTML, SVG,
    XML …) always as a download."""
    try:
        handle = default_storage.open(upload.key, "rb")
    except (FileNotFoundError, OSError):
        raise ServiceError("file_not_found", "The requested file was not found.", 404) from None
    mime = upload.mime_type.split(";")[0].strip().lower()
    inline = ((mime.startswith(INLINE_PREFIXES) or mime in INLINE_TYPES) and "svg" not in mime and "xml" not in mime
              and upload.extension not in ACTIVE_EXTENSIONS)
    download = as_attachment or not inline
    response = FileResponse(handle, content_type="application/octet-stream" if download else upload.mime_type)
    response["Content-Length"] = str(upload.size)
    if download:
        response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(upload.name, safe='')}"
    else:
        response.headers.pop("Content-Disposition", None)
    if upload.mime_type.startswith(RANGE_TYPES):
        response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    return response


# --- The `files` argument -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FileRef:
    """One checked entry of `files`."""

    type: str
    transfer_method: str
    upload: UploadFile | None = None
    url: str = ""


def parse_files(app: App, config: dict[str, Any], files: Any) -> list[FileRef]:
    """Check `files` against the app's file_upload config (in the workspace schema). Ignored,
    as in Dify, when the app has no image upload; otherwise bad entries are 400 invalid_param."""
    if files is None or files == []:
        return []
    image = with_defaults(config)["file_upload"]["image"]
    if not image.get("enabled"):
        return []
    if not isinstance(files, list):
        raise invalid_param("files must be a list of file objects")
    limit = int(image.get("number_limits") or 3)
    if len(files) > limit:
        raise invalid_param(f"Number of image files exceeds the maximum limit of {limit}")
    methods = image.get("transfer_methods") or ["remote_url", "local_file"]
    refs: list[FileRef] = []
    for entry in files:
        if not isinstance(entry, dict):
            raise invalid_param("Each file must be an object with type and transfer_method")
        if entry.get("type") != "image":
            raise invalid_param(f"File type {entry.get('type')!r} is not allowed; this app accepts images")
        method = entry.get("transfer_method")
        if method not in methods:
            raise invalid_param(f"File transfer method {method!r} is not allowed")
        if method == MessageFile.TransferMethod.LOCAL_FILE:
            refs.append(FileRef("image", method, upload=_own_upload(app, entry.get("upload_file_id"))))
        else:
            url = entry.get("url") or entry.get("remote_url")
            if not isinstance(url, str) or not url.startswith(("https://", "http://")) or len(url) > 2048:
                raise invalid_param("A remote_url file needs an http(s) url")
            refs.append(FileRef("image", method, url=url))
    return refs


def _own_upload(app: App, upload_file_id: Any) -> UploadFile:
    try:
        pk = uuid.UUID(str(upload_file_id))
    except ValueError:
        raise invalid_param("Invalid upload file") from None
    upload = UploadFile.objects.filter(pk=pk, app=app).first()  # another app's or workspace's: unknown
    if upload is None:
        raise invalid_param("Invalid upload file")
    return upload


def attach(message_id: Any, refs: list[FileRef]) -> list[MessageFile]:
    """Store the message's files (in the workspace schema): from then on /v1/files/{id}/preview
    serves its uploads to the app's keys."""
    return MessageFile.objects.bulk_create([
        MessageFile(message_id=message_id, type=ref.type, transfer_method=ref.transfer_method,
                    upload_file=ref.upload, url=ref.url, belongs_to="user") for ref in refs])


def attach_tool_files(message_id: Any, produced: list[Any]) -> list[dict[str, Any]]:
    """Store the files an agent's tools produced (apps.tools ToolMessages of type image or blob) as
    the assistant's files of the message (AG-11); returns the message_file events' fields. Files
    the tool runtime kept are served through signed URLs, remote images as they are; data: URLs
    (nothing kept) are not files of the message."""
    rows: list[tuple[MessageFile, str]] = []
    for item in produced:
        upload_id = (item.meta or {}).get("upload_file_id")
        kind = "image" if item.type == "image" else "document"
        if upload_id:
            rows.append((MessageFile(message_id=message_id, type=kind, transfer_method=MessageFile.TransferMethod.TOOL_FILE,
                                     upload_file_id=upload_id, belongs_to="assistant"), str(item.payload)))
        elif str(item.payload).startswith(("http://", "https://")):
            rows.append((MessageFile(message_id=message_id, type=kind, belongs_to="assistant",
                                     transfer_method=MessageFile.TransferMethod.REMOTE_URL, url=str(item.payload)),
                         str(item.payload)))
    MessageFile.objects.bulk_create([row for row, _ in rows])
    return [{"id": str(row.pk), "type": row.type, "belongs_to": "assistant", "url": url} for row, url in rows]


def with_images(messages: list[PromptMessage], refs: list[FileRef], detail: str = "high") -> list[PromptMessage]:
    """The prompt with the images added to the last user message, for vision models. Uploads go
    as data: URLs, so the provider never needs to reach this server."""
    if not refs:
        return messages
    parts: list[str | ImagePart] = []
    for ref in refs:
        if ref.upload is not None:
            with default_storage.open(ref.upload.key, "rb") as handle:
                data = base64.b64encode(handle.read()).decode()
            parts.append(ImagePart(f"data:{ref.upload.mime_type};base64,{data}", detail))  # type: ignore[arg-type]
        else:
            parts.append(ImagePart(ref.url, detail))  # type: ignore[arg-type]
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i].role == "user":
            text = out[i].content
            content = ([text] if text else []) if isinstance(text, str) else list(text)
            out[i] = dataclasses.replace(out[i], content=[*content, *parts])
            return out
    return [*out, PromptMessage("user", parts)]


def add_to_turn(prepared: Any, refs: list[FileRef], config: dict[str, Any]) -> None:
    """Give a prepared turn (generation.Prepared) its images: the vision model sees them with the
    turn's question, and they are stored with its message (in the workspace schema)."""
    if not refs:
        return
    detail = with_defaults(config)["file_upload"]["image"].get("detail") or "high"
    prepared.messages = with_images(prepared.messages, refs, detail)
    attach(prepared.message_id, refs)


def message_files_body(workspace_id: Any, message_files: list[MessageFile]) -> list[dict[str, Any]]:
    """`message_files` of /v1/messages (§2.12), uploads with freshly signed URLs."""
    body = []
    for f in message_files:
        upload = f.upload_file
        body.append({
            "id": str(f.pk), "filename": upload.name if upload else f.url.rsplit("/", 1)[-1],
            "type": f.type, "url": signed_url(workspace_id, upload.pk) if upload else f.url,
            "mime_type": upload.mime_type if upload else None, "size": upload.size if upload else None,
            "transfer_method": f.transfer_method, "belongs_to": f.belongs_to,
            "upload_file_id": str(upload.pk) if upload else None,
        })
    return body
