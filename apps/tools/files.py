"""Files that tools produce (images, blobs): stored under the calling app like uploads, so the
user reaches them through signed URLs (apps.applications.message_files) and they can become
message_files of a message (AG-11, TL-08)."""

from __future__ import annotations

import base64
import mimetypes
import uuid
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from apps.applications import message_files
from apps.applications.models import UploadFile
from apps.tools.entities import RawFile, ToolMessage


def _extension(raw: RawFile) -> str:
    if "." in raw.filename:
        return raw.filename.rsplit(".", 1)[-1].lower()[:16]
    return (mimetypes.guess_extension(raw.mime_type or "") or ".bin").lstrip(".")


def _meta(raw: RawFile) -> dict[str, Any]:
    filename = raw.filename or f"{raw.kind}.{_extension(raw)}"
    return {"mime_type": raw.mime_type, "filename": filename, "size": len(raw.content)}


def inline(raw: RawFile) -> ToolMessage:
    """A file kept nowhere (a console test call has no app): its message carries a data: URL."""
    data = base64.b64encode(raw.content).decode()
    return ToolMessage(raw.kind, f"data:{raw.mime_type};base64,{data}", _meta(raw))


def store(raw: RawFile, app_id: str, workspace_id: Any) -> ToolMessage:
    """Keep the file under the app (sync, in the workspace schema); its message has a signed URL."""
    extension, meta = _extension(raw), _meta(raw)
    filename = meta["filename"]
    file_id = uuid.uuid4()
    key = default_storage.save(f"upload_files/{connection.schema_name}/{file_id}.{extension}",
                               ContentFile(raw.content))
    UploadFile.objects.create(id=file_id, app_id=app_id, key=key, name=filename[:255], size=len(raw.content),
                              extension=extension, mime_type=raw.mime_type or "application/octet-stream")
    meta["upload_file_id"] = str(file_id)
    return ToolMessage(raw.kind, message_files.signed_url(workspace_id, file_id), meta)
