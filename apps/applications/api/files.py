"""POST /v1/files/upload (service-api.md §2.10): images for now, stored under the workspace's prefix."""

import os
import uuid

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, JsonResponse

from apps.applications.api.auth import AppCaller, caller_end_user
from apps.applications.api.common import api_view, timestamp
from apps.applications.models import UploadFile
from apps.core.errors import ServiceError

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "gif", "webp", "svg")


def single_upload(request: HttpRequest, *, missing: ServiceError) -> UploadedFile:
    """The one file of a multipart request (field `file`): `missing` without it, too_many_files
    with more than one file in any field."""
    if "file" not in request.FILES:
        raise missing
    if sum(len(request.FILES.getlist(field)) for field in request.FILES) > 1:
        raise ServiceError("too_many_files", "Only one file is allowed.")
    return request.FILES["file"]


@api_view("POST")
def upload(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    file = single_upload(request, missing=ServiceError("no_file_uploaded", "Please upload your file."))
    if not file.name:
        raise ServiceError("filename_not_exists_error", "The specified filename does not exist.")
    extension = os.path.splitext(file.name)[1].lstrip(".").lower()
    if not file.content_type or extension not in IMAGE_EXTENSIONS:
        raise ServiceError("unsupported_file_type", "File type not allowed.", 415)
    limit_mb = getattr(settings, "UPLOAD_IMAGE_FILE_SIZE_LIMIT", 10)
    if file.size > limit_mb * 1024 * 1024:
        raise ServiceError("file_too_large",
                           f"File size exceeded. {file.size} > {limit_mb * 1024 * 1024}", 413)
    end_user = caller_end_user(caller, request.POST, required=False)
    file_id = uuid.uuid4()
    key = default_storage.save(f"upload_files/{caller.workspace.schema_name}/{file_id}.{extension}", file)
    row = UploadFile.objects.create(id=file_id, app=caller.app, key=key,
                                    name=os.path.basename(file.name)[:255], size=file.size,
                                    extension=extension, mime_type=file.content_type, created_by=end_user)
    return JsonResponse({
        "id": str(row.pk), "name": row.name, "size": row.size, "extension": row.extension,
        "mime_type": row.mime_type, "created_by": str(end_user.pk), "created_at": timestamp(row.created_at),
        "preview_url": None, "source_url": default_storage.url(key), "original_url": None, "user_id": None,
        "tenant_id": str(caller.workspace.pk), "conversation_id": None, "file_key": None,
    }, status=201, json_dumps_params={"ensure_ascii": False})
