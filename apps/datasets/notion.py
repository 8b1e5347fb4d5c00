"""Reading Notion through its public API with an integration's token: who the token is, which
pages it can see, and a page's blocks rendered as Markdown-like text for the Knowledge pipeline
(KN-29/30). The token is an internal integration's, or a public integration's access token from
Notion's OAuth flow (authorize_url, exchange_code; KN-32).

Notion is an operator-level integration: the base URL comes from the NOTION_API_BASE setting, not
from a user, so plain httpx is used rather than apps.core.outbound's guarded client (tests point
the setting at a fake server on 127.0.0.1).

Images, files, embeds and child pages are not imported (KN-30); tables become text rows.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings

MAX_DEPTH = 8  # nested children followed this deep
MAX_PAGES = 50  # pagination requests per listing, a guard against a server that never ends


class NotionError(Exception):
    """A readable reason a Notion call failed; `status` is the HTTP status (0: not reached)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _reason(response: httpx.Response) -> str:
    try:
        detail = str(response.json().get("message") or "")
    except ValueError:
        detail = ""
    status = response.status_code
    if status == 401:
        return "Notion refused the integration token. Check that it is correct and not revoked."
    if status in (403, 404):
        return f"Notion denied access to this page; share it with the integration. {detail}".strip()
    if status == 429:
        return "Notion is rate limiting requests (HTTP 429). Try again in a few minutes."
    if status >= 500:
        return f"Notion is unavailable (HTTP {status}). Try again later."
    return f"Notion answered HTTP {status}. {detail}".strip()


# --- OAuth (public integrations) ------------------------------------------------------------------


def oauth_configured() -> bool:
    return bool(settings.NOTION_CLIENT_ID and settings.NOTION_CLIENT_SECRET)


def integration_type() -> str:
    """KN-32: how this deployment connects Notion, "public" (OAuth with the operator's integration)
    or "internal" (each workspace pastes its own integration's token). NOTION_INTEGRATION_TYPE
    chooses; unset, a configured public integration wins. Only the chosen way is offered and
    accepted, so an operator who picked OAuth does not get tokens pasted past it, and vice versa."""
    chosen = settings.NOTION_INTEGRATION_TYPE
    if chosen in ("public", "internal"):
        return chosen
    return "public" if oauth_configured() else "internal"


def authorize_url(state: str, redirect_uri: str) -> str:
    """Notion's consent page for the operator's public integration; it comes back to
    `redirect_uri` with `code` and the same `state`."""
    query = urlencode({"client_id": settings.NOTION_CLIENT_ID, "response_type": "code", "owner": "user",
                       "redirect_uri": redirect_uri, "state": state})
    return f"{settings.NOTION_API_BASE.rstrip('/')}/v1/oauth/authorize?{query}"


def exchange_code(code: str, redirect_uri: str) -> dict[str, Any]:
    """Trade an authorisation code for an access token: POST /v1/oauth/token with HTTP basic auth of
    the client id and secret. Returns Notion's answer (access_token, bot_id, workspace_name…)."""
    try:
        response = httpx.post(
            f"{settings.NOTION_API_BASE.rstrip('/')}/v1/oauth/token", timeout=settings.NOTION_TIMEOUT,
            auth=(settings.NOTION_CLIENT_ID, settings.NOTION_CLIENT_SECRET),
            headers={"Notion-Version": settings.NOTION_VERSION},
            json={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})
    except httpx.HTTPError as exc:
        raise NotionError(f"Cannot reach Notion: {exc.__class__.__name__}.") from exc
    if response.status_code == 401:
        raise NotionError("Notion refused the integration's client id or secret (NOTION_CLIENT_ID, "
                          "NOTION_CLIENT_SECRET).", 401)
    if response.status_code == 400:
        raise NotionError("Notion did not accept the authorisation code; it may have expired or been used. "
                          "Connect again.", 400)
    if response.status_code >= 400:
        raise NotionError(_reason(response), response.status_code)
    try:
        data = response.json()
    except ValueError as exc:
        raise NotionError("Notion sent a response that is not JSON.", response.status_code) from exc
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str) or not data["access_token"]:
        raise NotionError("Notion's answer has no access token.", response.status_code)
    return data


class Client:
    """A Notion API client for one token (use as a context manager)."""

    def __init__(self, token: str) -> None:
        self._http = httpx.Client(
            base_url=settings.NOTION_API_BASE.rstrip("/"), timeout=settings.NOTION_TIMEOUT,
            headers={"Authorization": f"Bearer {token}", "Notion-Version": settings.NOTION_VERSION,
                     "Content-Type": "application/json"})

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise NotionError(f"Cannot reach Notion: {exc.__class__.__name__}.") from exc
        if response.status_code >= 400:
            raise NotionError(_reason(response), response.status_code)
        try:
            return response.json()
        except ValueError as exc:
            raise NotionError("Notion sent a response that is not JSON.", response.status_code) from exc

    def me(self) -> dict[str, Any]:
        return self._call("GET", "/v1/users/me")

    def page(self, page_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/pages/{page_id}")

    def search_pages(self, query: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """Pages shared with the integration, most recently edited first."""
        body: dict[str, Any] = {"filter": {"property": "object", "value": "page"},
                                "page_size": min(limit, 100),
                                "sort": {"direction": "descending", "timestamp": "last_edited_time"}}
        if query:
            body["query"] = query
        data = self._call("POST", "/v1/search", json=body)
        return [page_summary(p) for p in data.get("results", []) if p.get("object") == "page"][:limit]

    def children(self, block_id: str) -> Iterator[dict[str, Any]]:
        """All child blocks of a block or page, following start_cursor/has_more."""
        cursor = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"page_size": 100}
            if cursor:
                params["start_cursor"] = cursor
            data = self._call("GET", f"/v1/blocks/{block_id}/children", params=params)
            yield from data.get("results", [])
            cursor = data.get("next_cursor")
            if not data.get("has_more") or not cursor:
                return


# --- Rendering ---------------------------------------------------------------------------------


def plain(rich_text: list[dict[str, Any]] | None) -> str:
    return "".join(str(part.get("plain_text") or "") for part in rich_text or [])


def page_title(page: dict[str, Any]) -> str:
    for prop in (page.get("properties") or {}).values():
        if isinstance(prop, dict) and prop.get("type") == "title":
            return plain(prop.get("title")).strip()
    return ""


def page_summary(page: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(page.get("id") or ""), "title": page_title(page) or "Untitled",
            "last_edited_time": str(page.get("last_edited_time") or ""), "url": str(page.get("url") or "")}


def _property_text(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    value = prop.get(kind) if kind else None
    if kind in ("rich_text",):
        return plain(value)
    if kind == "select" and value:
        return str(value.get("name") or "")
    if kind == "status" and value:
        return str(value.get("name") or "")
    if kind == "multi_select":
        return ", ".join(str(v.get("name") or "") for v in value or [])
    if kind == "date" and value:
        return " – ".join(v for v in (value.get("start"), value.get("end")) if v)
    if kind == "checkbox":
        return "Yes" if value else "No"
    if kind in ("number", "url", "email", "phone_number") and value is not None:
        return str(value)
    return ""


def properties_text(page: dict[str, Any]) -> list[str]:
    """A database row's properties as 'Name: value' lines (KN-30: properties summarised)."""
    lines = []
    for name, prop in (page.get("properties") or {}).items():
        if isinstance(prop, dict) and prop.get("type") != "title":
            text = _property_text(prop).strip()
            if text:
                lines.append(f"{name}: {text}")
    return lines


_PREFIX = {"heading_1": "# ", "heading_2": "## ", "heading_3": "### ", "bulleted_list_item": "- ",
           "numbered_list_item": "1. ", "quote": "> "}
_TEXT_BLOCKS = {"paragraph", "heading_1", "heading_2", "heading_3", "bulleted_list_item",
                "numbered_list_item",
                "to_do", "quote", "code", "callout", "toggle"}


def _block_lines(client: Client, block: dict[str, Any], depth: int) -> list[str]:
    kind = block.get("type", "")
    body = block.get(kind) or {}
    lines: list[str] = []
    indent = "  " * depth if kind in ("bulleted_list_item", "numbered_list_item", "to_do") else ""
    if kind == "code":
        lines += [f"```{body.get('language') or ''}", plain(body.get("rich_text")), "```"]
    elif kind == "to_do":
        lines.append(f"{indent}- [{'x' if body.get('checked') else ' '}] {plain(body.get('rich_text'))}")
    elif kind == "callout":
        icon = (body.get("icon") or {}).get("emoji") or ""
        lines.append(f"{icon} {plain(body.get('rich_text'))}".strip())
    elif kind == "table_row":
        lines.append(" | ".join(plain(cell) for cell in body.get("cells") or []))
    elif kind in _TEXT_BLOCKS:
        lines.append(f"{indent}{_PREFIX.get(kind, '')}{plain(body.get('rich_text'))}")
    elif kind not in ("table", "column_list", "column", "synced_block"):
        return []  # images, files, embeds, child pages, databases: not imported (KN-30)
    if block.get("has_children") and depth < MAX_DEPTH:
        nested = depth + 1 if kind in ("bulleted_list_item", "numbered_list_item", "to_do") else depth
        for child in client.children(str(block["id"])):
            lines += _block_lines(client, child, nested)
    return lines


def page_text(client: Client, page: dict[str, Any]) -> str:
    """A page as text: its title as a heading, its properties, then its blocks, one per line
    (blank lines between top-level blocks so the splitter sees paragraphs)."""
    parts = [f"# {page_title(page) or 'Untitled'}"]
    props = properties_text(page)
    if props:
        parts.append("\n".join(props))
    for block in client.children(str(page["id"])):
        lines = [line for line in _block_lines(client, block, 0) if line.strip()]
        if lines:
            parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"
