"""Custom tools from OpenAPI / Swagger / OpenAI plugin documents (TL-03), called against a fake
API with key auth over HTTP, through the SSRF guard."""

import json

import pytest
import yaml
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError

from apps.tools import openapi, services
from apps.tools.entities import ToolInvokeError
from apps.tools.models import ApiToolProvider
from apps.tools.runtime import available_tools, resolve_tool
from tests.tools.fakes import PET_KEY, pet_openapi

pytestmark = pytest.mark.django_db

KEY_AUTH = {"header": "X-API-Key", "api_key": PET_KEY}


def _pets(server, **kwargs) -> ApiToolProvider:  # type: ignore[no-untyped-def]
    return services.api_provider_save(name="pets", schema=json.dumps(pet_openapi(server.url)),
                                      auth_type="api_key_header", auth=KEY_AUTH, **kwargs)


def test_one_tool_per_operation_with_llm_parameters(alpha, pet_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    provider = _pets(pet_server)
    assert [t["operation_id"] for t in provider.tools] == ["getPet", "addPet"]
    get_pet, add_pet = available_tools(alpha, [
        {"provider_type": "api", "provider_id": str(provider.pk), "tool_name": "getPet"},
        {"provider_type": "api", "provider_id": "another-id", "provider_name": "pets", "tool_name": "addPet"}])
    assert get_pet.parameters_schema() == {"type": "object", "required": ["petId"], "properties": {
        "petId": {"type": "number", "description": "The pet's id"}, "verbose": {"type": "boolean", "description": "verbose"}}}
    assert add_pet.parameters_schema()["properties"]["kind"] == {"type": "string", "description": "kind",
                                                                 "enum": ["cat", "dog"]}
    assert add_pet.parameters_schema()["required"] == ["name"]


def test_calls_send_the_key_path_query_and_body(alpha, pet_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    provider = _pets(pet_server)
    get_pet = resolve_tool(alpha, {"provider_type": "api", "provider_id": str(provider.pk), "tool_name": "getPet"})
    [message] = async_to_sync(get_pet.invoke)({"petId": "12", "verbose": True})
    assert (message.type, message.payload) == ("json", {"id": 12, "name": "Rex", "kind": "dog", "owner": "Olivia"})
    seen = pet_server.requests[-1]
    assert (seen.path, seen.query, seen.headers["x-api-key"]) == ("/pets/12", {"verbose": "true"}, PET_KEY)
    add_pet = resolve_tool(alpha, {"provider_type": "api", "provider_id": str(provider.pk), "tool_name": "addPet"})
    [added] = async_to_sync(add_pet.invoke)({"name": "Tom", "kind": "cat"})
    assert added.payload == {"id": 7, "name": "Tom", "kind": "cat"}


def test_http_errors_become_tool_invoke_errors(alpha, pet_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    provider = _pets(pet_server)
    get_pet = resolve_tool(alpha, {"provider_type": "api", "provider_id": str(provider.pk), "tool_name": "getPet"})
    with pytest.raises(ToolInvokeError, match="The API answered 404"):
        async_to_sync(get_pet.invoke)({"petId": 404})
    services.api_provider_save(name="pets", schema=provider.schema, auth_type="api_key_header",
                               auth={"header": "X-API-Key", "api_key": "wrong"}, provider=provider)
    stale = resolve_tool(alpha, {"provider_type": "api", "provider_id": str(provider.pk), "tool_name": "getPet"})
    with pytest.raises(ToolInvokeError, match="401"):
        async_to_sync(stale.invoke)({"petId": 1})


@pytest.mark.parametrize(("auth_type", "auth", "expect"), [
    ("api_key_query", {"query_param": "key", "api_key": "q-1"}, ("query", "key", "q-1")),
    ("bearer", {"api_key": "tok"}, ("header", "authorization", "Bearer tok")),
    ("basic", {"username": "ann", "password": "pw"}, ("header", "authorization", "Basic YW5uOnB3")),
    ("none", {}, ("header", "authorization", None)),
])
def test_each_authorization_reaches_the_api(alpha, pet_server, allow_loopback, auth_type, auth, expect) -> None:  # type: ignore[no-untyped-def]
    provider = services.api_provider_save(name="p", schema=json.dumps(pet_openapi(pet_server.url)),
                                          auth_type=auth_type, auth=auth)
    handle = resolve_tool(alpha, {"provider_type": "api", "provider_id": "p", "tool_name": "getPet"})
    with pytest.raises(ToolInvokeError, match="401"):  # the fake wants X-API-Key
        async_to_sync(handle.invoke)({"petId": 1})
    seen = pet_server.requests[-1]
    where, name, value = expect
    assert (seen.query if where == "query" else seen.headers).get(name) == value
    if auth_type != "none":  # stored encrypted, shown masked
        assert "q-1" not in provider.secret_config and "tok" not in provider.secret_config


def test_secrets_are_kept_when_the_form_sends_them_back_masked(alpha, pet_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    provider = _pets(pet_server)
    shown = services.masked(services.AUTH_FIELDS["api_key_header"],
                            {**provider.auth_public, **services.decrypt(provider.secret_config)})
    assert shown["api_key"] != PET_KEY and "•" in shown["api_key"] and shown["header"] == "X-API-Key"
    services.api_provider_save(name="pets", schema=provider.schema, auth_type="api_key_header", auth=shown,
                               provider=provider)
    assert services.api_endpoint(ApiToolProvider.objects.get()).secret == {"api_key": PET_KEY}


def test_swagger_2_and_yaml(alpha, pet_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    swagger = {"swagger": "2.0", "host": f"127.0.0.1:{pet_server.port}", "schemes": ["http"], "basePath": "/",
               "info": {"title": "Pets"}, "paths": {"/pets": {"post": {
                   "operationId": "addPet", "parameters": [{"name": "body", "in": "body", "schema": {
                       "$ref": "#/definitions/New"}}]}}},
               "definitions": {"New": {"type": "object", "properties": {"name": {"type": "string"}}}}}
    provider = services.api_provider_save(name="swag", schema=yaml.safe_dump(swagger), auth_type="api_key_header",
                                          auth=KEY_AUTH)
    assert provider.schema_type == "swagger"
    handle = resolve_tool(alpha, {"provider_type": "api", "provider_id": "swag", "tool_name": "addPet"})
    [message] = async_to_sync(handle.invoke)({"name": "Kit"})
    assert message.payload == {"id": 7, "name": "Kit"}


def test_plugin_manifests_and_documents_are_fetched_by_url(alpha, pet_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    manifest = services.schema_fetch(f"{pet_server.url}/.well-known/ai-plugin.json")
    provider = services.api_provider_save(name="plugin", schema=manifest, auth_type="api_key_header", auth=KEY_AUTH)
    assert (provider.schema_type, [t["operation_id"] for t in provider.tools]) == ("openai_plugin",
                                                                                    ["getPet", "addPet"])


@pytest.mark.parametrize(("document", "where"), [
    ('{"openapi": "3.0.0", "paths": ', "line 1, column"),
    ("openapi: 3.0.0\npaths: [\n  - a\n b: c", "line 3, column 3"),
    ('{"openapi": "3.0.0", "servers": [{"url": "/relative"}], "paths": {}}', "servers[0].url"),
    ('{"openapi": "3.0.0", "servers": [{"url": "https://x.test"}], "paths": {"/a": {"get": {'
     '"parameters": [{"in": "query"}]}}}}', "paths./a.get.parameters[0]"),
    ('{"openapi": "3.0.0", "servers": [{"url": "https://x.test"}], "paths": {"/a": {"get": {'
     '"requestBody": {"$ref": "#/components/requestBodies/Missing"}}}}}', "paths./a.get.requestBody"),
    ('{"info": {}}', "top level"),
])
def test_parse_errors_say_where(document, where) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openapi.SchemaError) as caught:
        openapi.parse(document)
    assert where in str(caught.value)


def test_private_server_urls_are_refused_unless_allowed(alpha, pet_server, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOWED_NETWORKS = ""
    with pytest.raises(ValidationError, match="loopback address"):
        _pets(pet_server)
    with pytest.raises(ValidationError, match="not allowed"):
        services.schema_fetch(f"{pet_server.url}/openapi.json")
    metadata = json.dumps({**pet_openapi("http://169.254.169.254/latest"), "servers": [
        {"url": "http://169.254.169.254/latest"}]})
    with pytest.raises(ValidationError, match="link-local"):
        services.api_provider_save(name="meta", schema=metadata)
    settings.OUTBOUND_ALLOWED_NETWORKS = "127.0.0.1/32"
    provider = _pets(pet_server)
    settings.OUTBOUND_ALLOWED_NETWORKS = ""  # allowance withdrawn: the call itself is refused
    handle = resolve_tool(alpha, {"provider_type": "api", "provider_id": str(provider.pk), "tool_name": "getPet"})
    with pytest.raises(ToolInvokeError, match="not allowed"):
        async_to_sync(handle.invoke)({"petId": 1})
    assert ApiToolProvider.objects.count() == 1


def test_test_this_tool(alpha, pet_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    provider = _pets(pet_server)
    [message] = services.api_tool_test(provider=provider, operation_id="getPet", arguments={"petId": 3})
    assert message.payload["id"] == 3
    with pytest.raises(ValidationError, match="Missing required parameter: petId"):
        services.api_tool_test(provider=provider, operation_id="getPet", arguments={})
