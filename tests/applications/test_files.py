"""Files of messages: GET /v1/files/{id}/preview (service-api.md §2.11), the signed, expiring URLs
of `source_url` and `message_files[].url` served without a key, and the `files` argument's checks
(§2.21). Other apps' and other workspaces' files stay out of reach."""

import base64
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from apps.applications import message_files
from apps.applications.config import with_defaults
from apps.applications.models import App, UploadFile
from apps.core.errors import ServiceError
from apps.logs.models import Message
from apps.providers.runtime.entities import ImagePart, PromptMessage
from tests.applications.test_service_endpoints import ALPHA, PNG, call, in_schema, seed
from tests.fakes.base import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture
def media(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


async def _upload(key: str, name: str = "cat.png", data: bytes = PNG, content_type: str = "image/png") -> dict:
    response = await call("post", "/v1/files/upload", key, {"user": "u-1"},
                          files={"file": SimpleUploadedFile(name, data, content_type=content_type)})
    assert response.status_code == 201, response.content
    return response.json()


def _path(url: str) -> tuple[str, dict]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def _body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content)


@sync_to_async
def _use_in_message(app: App, file_id: str, schema: str = ALPHA) -> Message:
    """A message of `app` that carries the uploaded file, as a chat turn with `files` stores it."""
    with schema_context(schema):
        message = Message.objects.filter(app=app).order_by("-created_at").first()
        upload = UploadFile.objects.get(pk=file_id)
        message_files.attach(message.pk, [message_files.FileRef("image", "local_file", upload=upload)])
        return message


async def test_source_url_is_signed_and_served_without_a_key(api, media) -> None:  # type: ignore[no-untyped-def]
    uploaded = await _upload(api.chat_key)
    path, query = _path(uploaded["source_url"])
    assert path == f"/v1/files/{uploaded['id']}/file-preview" and set(query) == {"tenant", "timestamp", "nonce", "sign"}
    served = await call("get", path, None, query=query)
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["Content-Length"] == str(len(PNG)) and _body(served) == PNG
    assert "Content-Disposition" not in served

    # Tampered signature, another file under the same signature, another workspace, no signature.
    for bad in ({**query, "sign": query["sign"][:-2] + ("AA" if not query["sign"].endswith("AA") else "BB")},
                {**query, "nonce": "0" * 32}, {**query, "tenant": "999999"}, {}):
        refused = await call("get", path, None, query=bad)
        assert refused.status_code == 403
        assert refused.json() == {"code": "file_access_denied", "status": 403,
                                  "message": "Access to the requested file is denied."}
    other_file = f"/v1/files/{uuid.uuid4()}/file-preview"
    assert (await call("get", other_file, None, query=query)).status_code == 403


async def test_signed_url_expires(api, media, settings) -> None:  # type: ignore[no-untyped-def]
    uploaded = await _upload(api.chat_key)
    path, query = _path(uploaded["source_url"])
    # A genuine signature, made FILES_ACCESS_TIMEOUT + 1 seconds ago.
    old = str(int(time.time()) - settings.FILES_ACCESS_TIMEOUT - 1)
    expired = {**query, "timestamp": old, "sign": message_files._sign(query["tenant"], uploaded["id"], old,
                                                                       query["nonce"])}
    refused = await call("get", path, None, query=expired)
    assert refused.status_code == 403 and refused.json()["code"] == "file_access_denied"
    settings.FILES_ACCESS_TIMEOUT = 3600  # configurable: the same URL is good for longer
    assert (await call("get", path, None, query=expired)).status_code == 200


async def test_preview_needs_a_message_of_this_app(api, media, fake_openai) -> None:  # type: ignore[no-untyped-def]
    uploaded = await _upload(api.chat_key)
    url = f"/v1/files/{uploaded['id']}/preview"
    # Freshly uploaded, not used by any message yet.
    missing = await call("get", url, api.chat_key)
    assert missing.status_code == 404 and missing.json() == {
        "code": "file_not_found", "status": 404, "message": "The requested file was not found."}

    fake_openai.script("chat", Reply("A cat."))
    turn = await call("post", "/v1/chat-messages", api.chat_key,
                      {"query": "What is this?", "inputs": {"name": "Ada"}, "user": "u-1"})
    assert turn.status_code == 200
    await _use_in_message(api.chat, uploaded["id"])

    inline = await call("get", url, api.chat_key, query={"user": "u-1"})
    assert inline.status_code == 200 and inline["Content-Type"] == "image/png"
    assert inline["Content-Length"] == str(len(PNG)) and _body(inline) == PNG
    attachment = await call("get", url, api.chat_key, query={"as_attachment": "true"})
    assert attachment["Content-Type"] == "application/octet-stream"
    assert attachment["Content-Disposition"] == "attachment; filename*=UTF-8''cat.png"
    bad = await call("get", url, api.chat_key, query={"as_attachment": "maybe"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_param"

    # Another app of the workspace: 403; another workspace: the id does not exist there (404).
    other_app = await call("get", url, api.completion_key)
    assert other_app.status_code == 403 and other_app.json() == {
        "code": "file_access_denied", "status": 403, "message": "Access to the requested file is denied."}
    beta = await call("get", url, api.beta_key)
    assert beta.status_code == 404 and beta.json()["code"] == "file_not_found"
    assert (await call("get", "/v1/files/not-a-uuid/preview", api.chat_key)).status_code == 404
    assert (await call("get", url, None)).status_code == 401


async def test_beta_file_is_404_for_an_alpha_key(api, media, fake_openai) -> None:  # type: ignore[no-untyped-def]
    uploaded = await _upload(api.beta_key, name="beta.png")
    fake_openai.script("chat", Reply("Beta answer."))
    turn = await call("post", "/v1/chat-messages", api.beta_key, {"query": "Hi", "inputs": {}, "user": "b"})
    assert turn.status_code == 200
    await _use_in_message(api.beta_chat, uploaded["id"], schema="ws_beta")
    assert (await call("get", f"/v1/files/{uploaded['id']}/preview", api.beta_key)).status_code == 200
    for key in (api.chat_key, api.completion_key):
        response = await call("get", f"/v1/files/{uploaded['id']}/preview", key)
        assert response.status_code == 404 and response.json()["code"] == "file_not_found"


async def test_active_content_is_always_a_download(api, media, fake_openai) -> None:  # type: ignore[no-untyped-def]
    uploaded = await _upload(api.chat_key, name="x.svg", data=SVG, content_type="image/svg+xml")
    fake_openai.script("chat", Reply("ok"))
    await call("post", "/v1/chat-messages", api.chat_key, {"query": "Hi", "inputs": {"name": "A"}, "user": "u"})
    await _use_in_message(api.chat, uploaded["id"])
    response = await call("get", f"/v1/files/{uploaded['id']}/preview", api.chat_key)
    assert response.status_code == 200 and response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    path, query = _path(uploaded["source_url"])
    signed = await call("get", path, None, query=query)
    assert signed["Content-Type"] == "application/octet-stream" and signed["Content-Disposition"].startswith("attachment;")


async def test_messages_list_files_with_signed_urls(api, media) -> None:  # type: ignore[no-untyped-def]
    uploaded = await _upload(api.chat_key)
    conversation, _ = await seed(api.chat, "u-1", 1)
    await _use_in_message(api.chat, uploaded["id"])
    page = (await call("get", "/v1/messages", api.chat_key,
                       query={"conversation_id": str(conversation.pk), "user": "u-1"})).json()
    [entry] = page["data"][0]["message_files"]
    assert {k: entry[k] for k in ("filename", "type", "mime_type", "size", "transfer_method", "belongs_to",
                                  "upload_file_id")} == {
        "filename": "cat.png", "type": "image", "mime_type": "image/png", "size": len(PNG),
        "transfer_method": "local_file", "belongs_to": "user", "upload_file_id": uploaded["id"]}
    path, query = _path(entry["url"])
    assert (await call("get", path, None, query=query)).status_code == 200


def _files_config(**image) -> dict:  # type: ignore[no-untyped-def]
    return with_defaults({"file_upload": {"image": {"enabled": True, "number_limits": 2,
                                                    "transfer_methods": ["local_file", "remote_url"], **image}}})


def _check_files(app: App, schema: str, uploads: list[str], beta_upload: str) -> None:
    with schema_context(schema):
        app = App.objects.get(pk=app.pk)
        local = {"type": "image", "transfer_method": "local_file", "upload_file_id": uploads[0]}
        remote = {"type": "image", "transfer_method": "remote_url", "url": "https://img.example/cat.png"}
        # The app has no image upload: files are ignored, as in Dify.
        assert message_files.parse_files(app, with_defaults({}), [local]) == []
        refs = message_files.parse_files(app, _files_config(), [local, remote])
        assert [r.transfer_method for r in refs] == ["local_file", "remote_url"]
        assert refs[0].upload.pk == uuid.UUID(uploads[0]) and refs[1].url == remote["url"]
        for files, message in [
            ([local, remote, local], "Number of image files exceeds the maximum limit of 2"),
            ([{**local, "type": "document"}], "File type 'document' is not allowed; this app accepts images"),
            ([{**local, "upload_file_id": beta_upload}], "Invalid upload file"),  # beta's upload
            ([{**local, "upload_file_id": uploads[1]}], "Invalid upload file"),  # another app's upload
            ([{**remote, "url": "file:///etc/passwd"}], "A remote_url file needs an http(s) url"),
            ("nope", "files must be a list of file objects"),
        ]:
            with pytest.raises(ServiceError) as error:
                message_files.parse_files(app, _files_config(), files)
            assert (error.value.code, error.value.message) == ("invalid_param", message)
        with pytest.raises(ServiceError):
            message_files.parse_files(app, _files_config(transfer_methods=["local_file"]), [remote])

        # Vision: the images join the last user message; uploads as data: URLs.
        prompt = [PromptMessage("system", "Be brief."), PromptMessage("user", "What is this?")]
        sent = message_files.with_images(prompt, refs, "low")
        assert sent[0] == prompt[0] and sent[1].content[0] == "What is this?"
        assert sent[1].content[1] == ImagePart(f"data:image/png;base64,{base64.b64encode(PNG).decode()}", "low")
        assert sent[1].content[2] == ImagePart("https://img.example/cat.png", "low")


async def test_files_argument_is_checked_against_the_app(api, media) -> None:  # type: ignore[no-untyped-def]
    mine = await _upload(api.chat_key)
    other_app = await _upload(api.completion_key)
    beta = await _upload(api.beta_key)
    await sync_to_async(_check_files)(api.chat, ALPHA, [mine["id"], other_app["id"]], beta["id"])
    assert await in_schema(lambda: UploadFile.objects.count()) == 2


async def test_signatures_do_not_cross_files() -> None:
    url = message_files.signed_url(7, "f1")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert message_files.verify("7", "f1", query["timestamp"], query["nonce"], query["sign"])
    assert not message_files.verify("7", "f2", query["timestamp"], query["nonce"], query["sign"])
    assert not message_files.verify("8", "f1", query["timestamp"], query["nonce"], query["sign"])
    assert not message_files.verify("7", "f1", "x", query["nonce"], query["sign"])


async def test_upload_takes_documents_with_their_own_size_limit(api, media, settings) -> None:  # type: ignore[no-untyped-def]
    settings.UPLOAD_FILE_SIZE_LIMIT = 1
    doc = await _upload(api.chat_key, name="notes.txt", data=b"hello", content_type="text/plain")
    assert (doc["extension"], doc["mime_type"]) == ("txt", "text/plain")
    path, query = _path(doc["source_url"])
    served = await call("get", path, None, query=query)
    assert served["Content-Type"] == "text/plain" and _body(served) == b"hello"
    big = await call("post", "/v1/files/upload", api.chat_key, {"user": "u-1"}, files={
        "file": SimpleUploadedFile("big.pdf", b"x" * (1024 * 1024 + 1), content_type="application/pdf")})
    assert big.status_code == 413 and big.json()["code"] == "file_too_large"
    settings.UPLOAD_FILE_EXTENSION_BLACKLIST = ["txt"]  # the operator's blocklist
    blocked = await call("post", "/v1/files/upload", api.chat_key, {"user": "u-1"}, files={
        "file": SimpleUploadedFile("more.TXT", b"x", content_type="text/plain")})
    assert blocked.status_code == 400 and blocked.json() == {
        "code": "file_extension_blocked", "status": 400,
        "message": "The file extension is blocked for security reasons."}
    assert await in_schema(lambda: UploadFile.objects.count()) == 1


PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _content_for(name: str) -> bytes:
    """Content that is what the extension says (uploads are checked for it)."""
    return {"png": PNG, "pdf": PDF}.get(name.rsplit(".", 1)[-1], b"<x/>")


@pytest.mark.parametrize(("name", "content_type", "inline"), [
    ("a.png", "image/png", True), ("a.txt", "text/plain", True), ("a.pdf", "application/pdf", True),
    ("a.html", "text/html", False), ("a.xml", "text/xml", False), ("a.png", "image/svg+xml", False),
    ("a.svg", "image/svg+xml", False), ("a.js", "application/javascript", False),
    ("a.bin", "text/html; charset=utf-8", False),
])
async def test_only_passive_types_are_inline(api, media, name, content_type, inline) -> None:  # type: ignore[no-untyped-def]
    uploaded = await _upload(api.chat_key, name=name, data=_content_for(name), content_type=content_type)
    path, query = _path(uploaded["source_url"])
    served = await call("get", path, None, query=query)
    assert served.status_code == 200
    if inline:
        assert served["Content-Type"] == content_type and "Content-Disposition" not in served
    else:
        assert served["Content-Type"] == "application/octet-stream"
        assert served["Content-Disposition"] == f"attachment; filename*=UTF-8''{name}"


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40


@pytest.mark.parametrize(("name", "data", "content_type"), [
    ("report.pdf", ELF, "application/pdf"),  # a program named .pdf
    ("report.pdf", ZIP, "application/pdf"),  # an archive named .pdf
    ("cat.png", ELF, "image/png"),
    ("cat.png", b"<svg onload=alert(1)>", "image/png"),  # SVG (active content) posing as a PNG
    ("notes.txt", ZIP, "text/plain"),
    ("sheet.docx", ZIP, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("tool.bin", ELF, "application/octet-stream"),  # no name may hide a program
    ("cat.gif", PNG, "application/pdf"),  # the declared type is checked too
    ("clip.mp4", ELF, "video/mp4"),
])
async def test_upload_refuses_content_that_is_not_what_it_claims(api, media, name, data,
                                                               content_type) -> None:  # type: ignore[no-untyped-def]
    response = await call("post", "/v1/files/upload", api.chat_key, {"user": "u-1"},
                          files={"file": SimpleUploadedFile(name, data, content_type=content_type)})
    body = response.json()
    assert response.status_code == 415 and body["code"] == "unsupported_file_type" and body["status"] == 415
    assert body["message"].startswith("File type not allowed.")
    assert await in_schema(lambda: UploadFile.objects.count()) == 0


async def test_upload_takes_real_files_of_each_kind(api, media) -> None:  # type: ignore[no-untyped-def]
    kinds = [("report.pdf", PDF, "application/pdf"), ("cat.png", PNG, "image/png"),
             ("song.mp3", b"ID3" + b"\x00" * 32, "audio/mpeg"), ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 16,
                                                                   "video/mp4"),
             ("data.json", b'{"a": 1}', "application/json"), ("notes.md", "# Überblick\n".encode(), "text/markdown")]
    for name, data, content_type in kinds:
        uploaded = await _upload(api.chat_key, name=name, data=data, content_type=content_type)
        assert uploaded["mime_type"] == content_type and uploaded["size"] == len(data)
    assert await in_schema(lambda: UploadFile.objects.count()) == len(kinds)
