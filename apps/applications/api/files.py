"""Files of the Service API: POST /v1/files/upload (service-api.md §2.10; stored under the
workspace's prefix), GET /v1/files/{id}/preview (§2.11) and the keyless, signed
/v1/files/{id}/file-preview that the `source_url`/`url` fields point to."""

import uuid

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import schema_context

from apps.applications.api.auth import AppCaller, caller_end_user
from apps.applications.api.common import api_view, timestamp
from apps.applications.message_files import check_upload, file_response, signed_url, store_upload, verify
from apps.applications.models import MessageFile, UploadFile
from apps.core.errors import ServiceError, error_response, invalid_param, method_not_allowed
from apps.workspaces.models import Workspace


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
    check_upload(file)
    end_user = caller_end_user(caller, request.POST, required=False)
    row = store_upload(caller.app, caller.workspace.schema_name, file, end_user)
    return JsonResponse({
        "id": str(row.pk), "name": row.name, "size": row.size, "extension": row.extension,
        "mime_type": row.mime_type, "created_by": str(end_user.pk), "created_at": timestamp(row.created_at),
        "preview_url": None, "source_url": signed_url(caller.workspace.pk, row.pk), "original_url": None,
        "user_id": None, "tenant_id": str(caller.workspace.pk), "conversation_id": None, "file_key": None,
    }, status=201, json_dumps_params={"ensure_ascii": False})


TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off", "")


def _file_not_found() -> ServiceError:
    return ServiceError("file_not_found", "The requested file was not found.", 404)


def _access_denied() -> ServiceError:
    return ServiceError("file_access_denied", "Access to the requested file is denied.", 403)


def _bool_arg(value: str | None, name: str) -> bool:
    text = (value or "").strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise invalid_param(f"{name} must be a boolean")


@api_view("GET")
def preview(request: HttpRequest, caller: AppCaller, file_id: str) -> HttpResponse:
    """An uploaded file, once a message of this app uses it: none → 404 file_not_found, only
    another app's messages → 403 file_access_denied (another workspace's ids simply do not exist
    in this schema: 404)."""
    as_attachment = _bool_arg(request.GET.get("as_attachment"), "as_attachment")
    try:
        pk = uuid.UUID(file_id)
    except ValueError:
        raise _file_not_found() from None
    uses = MessageFile.objects.filter(upload_file_id=pk)
    if not uses.exists():
        raise _file_not_found()
    if not uses.filter(message__app=caller.app).exists():
        raise _access_denied()
    upload = UploadFile.objects.get(pk=pk)
    return file_response(upload, as_attachment=as_attachment)


@csrf_exempt
def signed_file(request: HttpRequest, file_id: str) -> HttpResponse:
    """The target of signed `source_url`/`url` fields: no API key, only a valid, unexpired
    signature (403 file_access_denied otherwise) for the workspace and file it names."""
    try:
        if request.method != "GET":
            return error_response(method_not_allowed())
        args = request.GET
        tenant = args.get("tenant", "")
        if not verify(tenant, file_id, args.get("timestamp", ""), args.get("nonce", ""), args.get("sign", "")):
            raise _access_denied()
        workspace = Workspace.objects.filter(pk=tenant).first()
        if workspace is None:
            raise _file_not_found()
        with schema_context(workspace.schema_name):
            upload = UploadFile.objects.filter(pk=file_id).first()
            if upload is None:
                raise _file_not_found()
            return file_response(upload, as_attachment=_bool_arg(args.get("as_attachment"), "as_attachment"))
    except ServiceError as exc:
        return error_response(exc)
