"""Writes of the tools domain (sync, in the workspace's schema): authorising built-in providers
(TL-05, TL-09), custom OpenAPI tools (TL-03), MCP servers and workflow tools. Secrets are
encrypted with the workspace's key and only ever shown masked. User mistakes raise
ValidationError with a message for the form."""

from __future__ import annotations

import re
from typing import Any

import httpx
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core import outbound
from apps.providers import crypto
from apps.tools import api_call, openapi
from apps.tools.builtin import PROVIDERS
from apps.tools.builtin.base import BuiltinProvider
from apps.tools.entities import CredentialField, CredentialsInvalid, ToolInvokeError, ToolMessage
from apps.tools.models import ApiToolProvider, BuiltinCredential, McpServer

MASK_CHAR = "•"
NAME_RE = re.compile(r"^[\w][\w .-]{0,127}$")


def _encrypt(values: dict[str, Any]) -> str:
    return crypto.encrypt(connection.schema_name, values)


def decrypt(token: str) -> dict[str, Any]:
    return crypto.decrypt(connection.schema_name, token) if token else {}


def keep_masked(fields: Any, given: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """A form sends secrets back masked when the user left them alone: keep the stored value."""
    values = dict(given)
    for field in fields:
        value = values.get(field.name)
        if field.secret and stored and isinstance(value, str) and MASK_CHAR in value:
            values[field.name] = stored.get(field.name, "")
    return values


def masked(fields: Any, values: dict[str, Any] | None) -> dict[str, Any]:
    """What the console shows of stored credentials: secrets masked, the rest as they are."""
    if not values:
        return {}
    return {f.name: (crypto.mask(str(values.get(f.name) or "")) if f.secret else values.get(f.name, ""))
            for f in fields}


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise ValidationError(_("A name is 1-128 letters, digits, spaces, _ . or -."))
    return name


def check_url(url: str) -> str:
    """An http(s) URL a user gave, refused early (with the reason) when it points somewhere private."""
    url = (url or "").strip()
    if not url.startswith(("http://", "https://")):
        raise ValidationError(_("The URL must start with http:// or https://."))
    try:
        outbound.check_url(url)
    except outbound.OutboundBlocked as exc:
        raise ValidationError(str(exc)) from None
    except httpx.HTTPError as exc:
        raise ValidationError(str(exc)) from None
    return url


# --- Built-in providers ---------------------------------------------------------------------------


def builtin_provider(name: str) -> BuiltinProvider:
    provider = PROVIDERS.get(name)
    if provider is None:
        raise ValidationError(_("There is no built-in tool provider %(name)s.") % {"name": name})
    return provider


def builtin_credentials(provider: str) -> dict[str, Any] | None:
    """The decrypted credentials of an authorised built-in provider, or None."""
    row = BuiltinCredential.objects.filter(provider=provider).first()
    return decrypt(row.secret_config) if row else None


def builtin_credentials_set(*, provider: str, credentials: dict[str, Any], user_id: int | None = None,
                            validate: bool = True) -> BuiltinCredential:
    """Authorise a built-in provider: check the fields, prove them with a real call, store encrypted."""
    spec = builtin_provider(provider)
    if not isinstance(credentials, dict):
        raise ValidationError(_("The credentials must be a JSON object."))
    known = {f.name for f in spec.credentials}
    values = keep_masked(spec.credentials, {k: v for k, v in credentials.items() if k in known},
                         builtin_credentials(provider))
    values = {k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()}
    if validate:
        try:
            async_to_sync(spec.check_credentials)(values)
        except CredentialsInvalid as exc:
            raise ValidationError(str(exc)) from None
    with transaction.atomic():
        row, _created = BuiltinCredential.objects.update_or_create(
            provider=provider, defaults={"secret_config": _encrypt(values), "created_by_id": user_id})
    return row


def builtin_credentials_delete(*, provider: str) -> None:
    BuiltinCredential.objects.filter(provider=provider).delete()


# --- Custom (OpenAPI) tools -----------------------------------------------------------------------

AUTH_FIELDS: dict[str, tuple[CredentialField, ...]] = {
    "none": (),
    "api_key_header": (CredentialField("header", "text-input", label="Header", default="Authorization"),
                       CredentialField("api_key", label="API key")),
    "api_key_query": (CredentialField("query_param", "text-input", label="Query parameter", default="key"),
                      CredentialField("api_key", label="API key")),
    "bearer": (CredentialField("api_key", label="Token"),),
    "basic": (CredentialField("username", "text-input", label="Username"),
              CredentialField("password", label="Password")),
}
PUBLIC_AUTH_FIELDS = ("header", "query_param", "username")
AUTH_INPUTS = ("header", "query_param", "api_key", "username", "password")  # every field of AUTH_FIELDS


def schema_fetch(url: str) -> str:
    """An API description fetched by URL, through the SSRF guard."""
    check_url(url)
    try:
        with outbound.client(timeout=15) as http:
            response = http.get(url, headers={"Accept": "application/json, application/yaml, text/yaml, */*"})
    except outbound.OutboundBlocked as exc:
        raise ValidationError(str(exc)) from None
    except httpx.HTTPError as exc:
        raise ValidationError(_("Fetching %(url)s failed: %(error)s") % {"url": url, "error": exc}) from None
    if response.status_code >= 400:
        raise ValidationError(_("Fetching %(url)s failed: HTTP %(status)s") % {"url": url,
                                                                              "status": response.status_code})
    return response.text


def schema_read(text: str) -> tuple[openapi.Parsed, str]:
    """Parse a pasted, uploaded or fetched document: (parsed, the OpenAPI text kept). A plugin
    manifest's OpenAPI document is fetched and parsed in its place."""
    try:
        parsed = openapi.parse(text)
        if parsed.plugin_api_url:
            text = schema_fetch(parsed.plugin_api_url)
            inner = openapi.parse(text)
            inner.schema_type = "openai_plugin"
            inner.title = inner.title or parsed.title
            inner.description = inner.description or parsed.description
            parsed = inner
    except openapi.SchemaError as exc:
        raise ValidationError(str(exc)) from None
    return parsed, text


def _auth_values(auth_type: str, auth: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    if auth_type not in AUTH_FIELDS:
        raise ValidationError(_("Unknown authorization type %(type)s.") % {"type": auth_type})
    fields = AUTH_FIELDS[auth_type]
    values = keep_masked(fields, {f.name: str(auth.get(f.name) or f.default).strip() for f in fields}, stored)
    for field in fields:
        if not values.get(field.name):
            raise ValidationError(_("The authorization needs %(field)s.") % {"field": field.label})
    return values


def api_provider_save(*, name: str, schema: str, auth_type: str = "none", auth: dict[str, Any] | None = None,
                      description: str = "", icon: str = "", privacy_policy: str = "",
                      provider: ApiToolProvider | None = None, user_id: int | None = None) -> ApiToolProvider:
    """Create or update a custom tool provider from an API description (one tool per operation)."""
    name = check_name(name)
    parsed, text = schema_read(schema)
    check_url(parsed.server_url)
    if ApiToolProvider.objects.filter(name=name).exclude(pk=getattr(provider, "pk", None)).exists():
        raise ValidationError(_("A custom tool named %(name)s exists already.") % {"name": name})
    stored = decrypt(provider.secret_config) if provider and provider.auth_type == auth_type else None
    values = _auth_values(auth_type, auth or {}, stored)
    row = provider or ApiToolProvider(created_by_id=user_id)
    row.name, row.schema, row.schema_type = name, text, parsed.schema_type
    row.description = description or parsed.description or parsed.title
    row.icon = icon or row.icon or "🔧"
    row.server_url, row.tools, row.auth_type = parsed.server_url, parsed.tools, auth_type
    row.auth_public = {k: v for k, v in values.items() if k in PUBLIC_AUTH_FIELDS}
    row.secret_config = _encrypt({k: v for k, v in values.items() if k not in PUBLIC_AUTH_FIELDS})
    row.privacy_policy = privacy_policy
    row.save()
    return row


def api_provider_delete(*, provider: ApiToolProvider) -> None:
    provider.delete()


def api_endpoint(provider: ApiToolProvider) -> api_call.Endpoint:
    return api_call.Endpoint(provider.server_url, provider.auth_type, dict(provider.auth_public),
                             decrypt(provider.secret_config))


def api_tool_test(*, provider: ApiToolProvider, operation_id: str,
                  arguments: dict[str, Any]) -> list[ToolMessage]:
    """The console's "test this tool": one real call with the given arguments."""
    from apps.tools.runtime import resolve_tool

    handle = resolve_tool(connection.tenant, {"provider_type": "api", "provider_id": str(provider.pk),
                                              "tool_name": operation_id})
    try:
        return async_to_sync(handle.invoke)(arguments)
    except ToolInvokeError as exc:
        raise ValidationError(exc.message) from None


# --- MCP servers --------------------------------------------------------------------------------------


def parse_header_lines(lines: list[str]) -> dict[str, str]:
    """`Name: value` lines (the console's text box, the command's --header) → headers."""
    headers = {}
    for line in lines:
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name.strip()):
            raise ValidationError(
                _("A header is written Name: value, not %(line)s.") % {"line": line.strip()})
        headers[name.strip()] = value.strip()
    return headers


def mcp_headers(server: McpServer) -> dict[str, str]:
    return dict(decrypt(server.secret_config).get("headers") or {})


def mcp_server_save(*, name: str, url: str, transport: str = McpServer.Transport.STREAMABLE_HTTP,
                    headers: dict[str, str] | None = None, bearer: str = "", server: McpServer | None = None,
                    user_id: int | None = None) -> McpServer:
    """Add or change an MCP server; its tools are listed at once, which proves URL and headers."""
    name, url = check_name(name), check_url(url)
    if transport not in McpServer.Transport.values:
        raise ValidationError(_("Unknown transport %(transport)s.") % {"transport": transport})
    if McpServer.objects.filter(name=name).exclude(pk=getattr(server, "pk", None)).exists():
        raise ValidationError(_("An MCP server named %(name)s exists already.") % {"name": name})
    values = dict(headers or {})
    if server is not None:  # a header sent back masked keeps its stored value
        stored = mcp_headers(server)
        values = {k: (stored.get(k, "") if MASK_CHAR in v else v) for k, v in values.items()}
    if bearer.strip():
        values["Authorization"] = f"Bearer {bearer.strip()}"
    tools = mcp_tools_fetch(url, transport, values)
    row = server or McpServer(created_by_id=user_id)
    row.name, row.server_url, row.transport = name, url, transport
    row.secret_config, row.header_names = _encrypt({"headers": values}), sorted(values)
    row.tools, row.tools_refreshed_at = tools, timezone.now()
    row.save()
    return row


def mcp_tools_fetch(url: str, transport: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    from apps.tools import mcp_client

    try:
        return async_to_sync(mcp_client.list_tools)(url, transport, headers)
    except ToolInvokeError as exc:
        raise ValidationError(exc.message) from None


def mcp_server_refresh(*, server: McpServer) -> McpServer:
    """List the server's tools again (they change when the server is updated)."""
    server.tools = mcp_tools_fetch(server.server_url, server.transport, mcp_headers(server))
    server.tools_refreshed_at = timezone.now()
    server.save(update_fields=["tools", "tools_refreshed_at", "updated_at"])
    return server


def mcp_server_delete(*, server: McpServer) -> None:
    server.delete()


# --- Workflow tools -----------------------------------------------------------------------------------

TOOL_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


def workflow_tool_save(*, app: Any, name: str, label: str = "", description: str = "",
                       parameters: list[dict[str, Any]] | None = None, user_id: int | None = None) -> Any:
    """Register (or update) a published workflow app as a tool; its Start variables are the parameters."""
    from apps.applications.models import App
    from apps.tools.models import WorkflowToolProvider
    from apps.workflows import selectors

    if app.mode != App.Mode.WORKFLOW:
        raise ValidationError(_("Only workflow apps can be used as tools."))
    if selectors.published(app) is None:
        raise ValidationError(_("Publish the workflow before using it as a tool."))
    name = (name or "").strip()
    if not TOOL_NAME_RE.match(name):
        raise ValidationError(_("A tool name starts with a letter and has up to 64 letters, digits or _."))
    existing = WorkflowToolProvider.objects.filter(app=app).first()
    if WorkflowToolProvider.objects.filter(name=name).exclude(pk=getattr(existing, "pk", None)).exists():
        raise ValidationError(_("A workflow tool named %(name)s exists already.") % {"name": name})
    cleaned = [{"name": str(p.get("name")), "description": str(p.get("description") or ""),
                "form": "form" if p.get("form") == "form" else "llm"}
               for p in parameters or [] if isinstance(p, dict) and p.get("name")]
    row = existing or WorkflowToolProvider(app=app, created_by_id=user_id)
    row.name, row.label = name, (label or app.name)[:128]
    row.description, row.parameters = description or app.description or "", cleaned
    row.save()
    return row


def workflow_tool_delete(*, provider: Any) -> None:
    provider.delete()


# --- Apps published as MCP servers -------------------------------------------------------------------


def app_mcp_enable(*, app: Any, user_id: int | None = None) -> tuple[Any, str]:
    """Publish the app at /mcp/<code> with a new key: returns the row and the raw key (shown once).
    Enabling again replaces the key; the code stays."""
    import secrets

    from django_tenants.utils import get_public_schema_name, schema_context

    from apps.tools.models import AppMcpServer
    from apps.workspaces.models import ApiKeyRoute, hash_secret

    raw = "mcp-" + secrets.token_urlsafe(24)
    with transaction.atomic():
        row = AppMcpServer.objects.filter(app=app).first() or AppMcpServer(app=app, created_by_id=user_id)
        old = row.key_hash
        row.key_hash, row.key_prefix, row.enabled = hash_secret(raw), raw[:8], True
        row.save()
        workspace = connection.tenant
        with schema_context(get_public_schema_name()):
            if old:
                ApiKeyRoute.objects.filter(key_hash=old, kind=ApiKeyRoute.Kind.MCP).delete()
            ApiKeyRoute.objects.create(key_hash=row.key_hash, kind=ApiKeyRoute.Kind.MCP, workspace=workspace,
                                       app_id=app.pk)
    return row, raw


def app_mcp_disable(*, app: Any) -> None:
    """Stop serving the app over MCP; its key stops working at once."""
    from django_tenants.utils import get_public_schema_name, schema_context

    from apps.tools.models import AppMcpServer
    from apps.workspaces.models import ApiKeyRoute

    row = AppMcpServer.objects.filter(app=app).first()
    if row is None:
        return
    with transaction.atomic():
        digest = row.key_hash
        row.enabled, row.key_hash, row.key_prefix = False, "", ""
        row.save()
        with schema_context(get_public_schema_name()):
            ApiKeyRoute.objects.filter(key_hash=digest, kind=ApiKeyRoute.Kind.MCP).delete()
