"""Wire-contract checks of the Service API for chat and completion apps that the endpoint tests do
not already pin down (service-api.md §0–§4): the 401 header, unknown routes and methods, the
usage object, and the conversation-variables endpoints of chat apps."""

import uuid

import pytest

from tests.applications.test_service_endpoints import CHAT, call, seed
from tests.fakes.base import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

USAGE_KEYS = {"prompt_tokens", "prompt_unit_price", "prompt_price_unit", "prompt_price", "completion_tokens",
              "completion_unit_price", "completion_price_unit", "completion_price", "total_tokens", "total_price",
              "currency", "latency", "time_to_first_token", "time_to_generate"}


async def test_401_carries_the_bearer_challenge(api) -> None:  # type: ignore[no-untyped-def]
    for path in ("/v1/parameters", "/v1/messages"):
        response = await call("get", path, None)
        assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="api"'
        assert response.json() == {"code": "unauthorized", "status": 401,
                                   "message": "Authorization header must be provided and start with 'Bearer'"}
    wrong = await call("get", "/v1/parameters", "app-nope")
    assert wrong.status_code == 401 and wrong.json()["message"] == "Access token is invalid"


async def test_blocking_answer_shape_and_usage(api, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.script("chat", Reply("Hi Ada", usage=(12, 3)))
    body = (await call("post", "/v1/chat-messages", api.chat_key, CHAT)).json()
    assert list(body) == ["event", "task_id", "id", "message_id", "conversation_id", "mode", "answer", "metadata",
                          "created_at"]
    assert body["metadata"]["annotation_reply"] is None and body["metadata"]["retriever_resources"] == []
    usage = body["metadata"]["usage"]
    assert set(usage) == USAGE_KEYS
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (12, 3, 15)
    assert all(isinstance(usage[k], str) for k in ("prompt_unit_price", "prompt_price", "total_price"))

    fake_openai.script("chat", Reply("A poem"))
    completion = (await call("post", "/v1/completion-messages", api.completion_key,
                             {"inputs": {"topic": "sea"}, "user": "u-1"})).json()
    assert list(completion) == ["event", "task_id", "id", "message_id", "mode", "answer", "metadata", "created_at"]
    assert completion["mode"] == "completion"


async def test_conversation_variables_of_a_chat_app(api) -> None:  # type: ignore[no-untyped-def]
    """Chat apps have no conversation variables (advanced-chat ones do): an empty page for an own
    conversation, 404 for others, and the documented argument errors."""
    conversation, _ = await seed(api.chat, "u-1", 1)
    url = f"/v1/conversations/{conversation.pk}/variables"
    page = await call("get", url, api.chat_key, query={"user": "u-1"})
    assert page.status_code == 200 and page.json() == {"limit": 20, "has_more": False, "data": []}
    assert (await call("get", url, api.chat_key, query={"user": "u-1", "limit": "5"})).json()["limit"] == 5
    for query, code, status in [
        ({"user": "someone-else"}, "not_found", 404),
        ({"user": "u-1", "limit": "0"}, "invalid_param", 400),
        ({"user": "u-1", "variable_name": "bad name!"}, "invalid_param", 400),
        ({"user": "u-1", "last_id": str(uuid.uuid4())}, "invalid_param", 400),
    ]:
        response = await call("get", url, api.chat_key, query=query)
        assert (response.status_code, response.json()["code"]) == (status, code), query
    assert (await call("get", url, api.beta_key, query={"user": "u-1"})).status_code == 404
    not_chat = await call("get", url, api.completion_key, query={"user": "u-1"})
    assert not_chat.status_code == 400 and not_chat.json()["code"] == "not_chat_app"

    update = await call("put", f"{url}/{uuid.uuid4()}", api.chat_key, {"value": "x", "user": "u-1"})
    assert update.status_code == 404 and update.json() == {
        "code": "not_found", "status": 404, "message": "Conversation Variable Not Exists."}
    foreign = await call("put", f"{url}/{uuid.uuid4()}", api.chat_key, {"value": "x", "user": "other"})
    assert foreign.status_code == 404 and foreign.json()["message"] == "Conversation Not Exists."
    unknown = await call("get", f"/v1/conversations/{uuid.uuid4()}/variables", api.chat_key, query={"user": "u-1"})
    assert unknown.status_code == 404 and unknown.json()["message"] == "Conversation Not Exists."


async def test_unknown_route_and_method_answer_json(api) -> None:  # type: ignore[no-untyped-def]
    missing = await call("get", "/v1/no-such-thing", api.chat_key)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = await call("get", "/v1/conversations/" + str(uuid.uuid4()) + "/name", api.chat_key)
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


async def test_parameters_feature_shapes(api) -> None:  # type: ignore[no-untyped-def]
    body = (await call("get", "/v1/parameters", api.chat_key)).json()
    assert body["text_to_speech"] == {"enabled": False, "voice": "", "language": "", "autoPlay": "disabled"}
    assert body["sensitive_word_avoidance"] == {"enabled": False, "type": "", "configs": []}
    assert set(body["file_upload"]["image"]) >= {"enabled", "number_limits", "detail", "transfer_methods"}
    assert set(body["system_parameters"]) == {"image_file_size_limit", "video_file_size_limit",
                                              "audio_file_size_limit", "file_size_limit",
                                              "workflow_file_upload_limit"}
