"""How a built-in provider is declared: its credentials form, its tools and a validation call.

Each provider module under apps/tools/builtin/ builds one BuiltinProvider and registers it in
apps.tools.builtin.PROVIDERS under the reference's provider name, so exported apps resolve it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
from django.conf import settings

from apps.core import outbound
from apps.tools.entities import (
    CredentialField,
    CredentialsInvalid,
    RawFile,
    ToolContext,
    ToolInvokeError,
    ToolMessage,
    ToolParameter,
)

Result = Sequence[ToolMessage | RawFile]


@dataclasses.dataclass
class Call:
    """What a built-in tool gets besides its parameters: the provider's credentials and the caller."""

    credentials: dict[str, Any]
    context: ToolContext

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        """The SSRF-guarded client every built-in uses, with the per-call timeout."""
        kwargs.setdefault("timeout", float(getattr(settings, "TOOL_HTTP_TIMEOUT", 30)))
        return outbound.async_client(**kwargs)

    async def request(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                      timeout: float | None = None, **kwargs: Any) -> httpx.Response:
        """One guarded request; transport and HTTP errors become ToolInvokeError with the service's words."""
        host = httpx.URL(url).host
        client = self.http(headers=headers, **({"timeout": timeout} if timeout else {}))
        try:
            async with client as http:
                response = await http.request(method, url, **kwargs)
        except outbound.OutboundBlocked as exc:
            raise ToolInvokeError(str(exc)) from None
        except httpx.HTTPError as exc:
            raise ToolInvokeError(f"The request to {host} failed: {exc}") from None
        if response.status_code >= 400:
            raise ToolInvokeError(f"{host} answered {response.status_code}: {response.text[:300]}")
        return response

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        """GET a JSON API (see request)."""
        response = await self.request("GET", url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ToolInvokeError(f"{httpx.URL(url).host} did not answer with JSON.") from None


Runner = Callable[[dict[str, Any], Call], Awaitable[Result]]


@dataclasses.dataclass(frozen=True)
class BuiltinTool:
    name: str
    label: Any
    description: Any  # for people (the console); translated
    llm_description: str  # for the model; English, as the reference's
    parameters: tuple[ToolParameter, ...]
    run: Runner


@dataclasses.dataclass(frozen=True)
class BuiltinProvider:
    name: str
    label: Any
    description: Any
    icon: str  # a short emoji, for tool pickers (the Tools page draws the console's own tool icon)
    tools: tuple[BuiltinTool, ...]
    credentials: tuple[CredentialField, ...] = ()
    # Proves credentials with a real call (TL-09); raises CredentialsInvalid.
    validate: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    tags: tuple[str, ...] = ()
    # Credentials to use when the workspace authorised none (sync, in its schema), e.g. DALL-E
    # falling back to the workspace's OpenAI model-provider key.
    fallback: Callable[[], dict[str, Any] | None] | None = None

    @property
    def needs_credentials(self) -> bool:
        return any(field.required for field in self.credentials)

    def tool(self, name: str) -> BuiltinTool | None:
        return next((t for t in self.tools if t.name == name), None)

    async def check_credentials(self, credentials: dict[str, Any]) -> None:
        missing = [str(f.label or f.name) for f in self.credentials
                   if f.required and not credentials.get(f.name)]
        if missing:
            raise CredentialsInvalid(f"Required: {', '.join(missing)}.")
        if self.validate is not None:
            try:
                await self.validate(credentials)
            except ToolInvokeError as exc:
                raise CredentialsInvalid(exc.message) from None
