"""A workspace's tools: credentials of built-in providers, custom (OpenAPI) tools, workflow tools
and MCP servers. Secrets are encrypted with the workspace's key (apps.providers.crypto)."""

import uuid

from django.db import models


class Stamped(models.Model):
    """Who made a row (a public-schema user id) and when it changed."""

    created_by_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class NamedProvider(Stamped):
    """A provider the workspace made itself, found by id or by its unique name."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=128, unique=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BuiltinCredential(Stamped):
    """The credentials a workspace authorised a built-in provider with (all fields, encrypted)."""

    provider = models.CharField(max_length=64, unique=True)
    secret_config = models.TextField()

    def __str__(self) -> str:
        return self.provider


class ApiToolProvider(NamedProvider):
    """A custom tool provider from an OpenAPI 3.x, Swagger 2 or OpenAI plugin document: one tool per
    operation (`tools`, parsed at save time), called on `server_url` with its authorization."""

    class Auth(models.TextChoices):
        NONE = "none"
        API_KEY_HEADER = "api_key_header"
        API_KEY_QUERY = "api_key_query"
        BEARER = "bearer"
        BASIC = "basic"

    description = models.TextField(blank=True)
    icon = models.CharField(max_length=16, default="🔧")
    schema_type = models.CharField(max_length=16)  # openapi | swagger | openai_plugin
    schema = models.TextField()
    server_url = models.CharField(max_length=2048)
    tools = models.JSONField(default=list)
    auth_type = models.CharField(max_length=20, choices=Auth.choices, default=Auth.NONE)
    # Non-secret parts (the header or query parameter name); the secret goes to secret_config.
    auth_public = models.JSONField(default=dict)
    secret_config = models.TextField(blank=True)
    privacy_policy = models.CharField(max_length=2048, blank=True)


class WorkflowToolProvider(NamedProvider):
    """A published workflow app offered as a tool; its Start variables are the parameters."""

    app = models.OneToOneField("applications.App", on_delete=models.CASCADE, related_name="workflow_tool")
    label = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    # [{name, description, form: llm|form}] per Start variable; the types come from the Start node.
    parameters = models.JSONField(default=list)


class McpServer(NamedProvider):
    """An MCP server the workspace calls as a client; `tools` is the last tools/list answer."""

    class Transport(models.TextChoices):
        STREAMABLE_HTTP = "streamable_http"
        SSE = "sse"

    server_url = models.CharField(max_length=2048)
    transport = models.CharField(max_length=20, choices=Transport.choices, default=Transport.STREAMABLE_HTTP)
    # {"headers": {name: value}}: custom headers and the bearer token, encrypted.
    secret_config = models.TextField(blank=True)
    header_names = models.JSONField(default=list)  # shown in the console without the values
    tools = models.JSONField(default=list)
    tools_refreshed_at = models.DateTimeField(null=True, blank=True)


def new_mcp_code() -> str:
    """The path code of an app's MCP server: 16 URL-safe characters."""
    import secrets

    return secrets.token_urlsafe(12)


class AppMcpServer(Stamped):
    """An app published as an MCP server at /mcp/<code> (off until enabled). Clients authenticate
    with the server's own key, stored hashed; the public ApiKeyRoute (kind mcp) routes it."""

    app = models.OneToOneField("applications.App", on_delete=models.CASCADE, related_name="mcp_server")
    code = models.CharField(max_length=32, unique=True, default=new_mcp_code)
    key_hash = models.CharField(max_length=64, blank=True)
    key_prefix = models.CharField(max_length=12, blank=True)
    enabled = models.BooleanField(default=False)
    description = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"MCP server of {self.app_id}"
