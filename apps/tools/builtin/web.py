"""webscraper: a page's main text, fetched through the SSRF guard and extracted with trafilatura."""

from __future__ import annotations

import asyncio
from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.tools.builtin.base import BuiltinProvider, BuiltinTool, Call, Result
from apps.tools.entities import ToolInvokeError, ToolMessage, ToolParameter

DEFAULT_AGENT = "Mozilla/5.0 (compatible; TesseraBot/1.0; +https://tessera.invalid/bot)"
PAGE_LIMIT = 5 * 1024 * 1024


def extract(html: str, url: str) -> str:
    """Title and main text (boilerplate such as navigation and footers dropped)."""
    import trafilatura

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=True) or ""
    metadata = trafilatura.extract_metadata(html, default_url=url)
    title = (metadata.title if metadata else "") or ""
    return f"TITLE: {title}\n\n{text}".strip() if title else text


async def webscraper(params: dict[str, Any], call: Call) -> Result:
    url = str(params.get("url") or "").strip()
    if not url.startswith(("http://", "https://")):
        raise ToolInvokeError("The URL must start with http:// or https://.")
    agent = str(params.get("user_agent") or DEFAULT_AGENT)
    response = await call.request("GET", url, headers={"User-Agent": agent})
    if len(response.content) > PAGE_LIMIT:
        raise ToolInvokeError("The page is larger than 5 MB.")
    kind = response.headers.get("content-type", "")
    if "html" not in kind and "xml" not in kind:
        return [ToolMessage("text", response.text[:100_000])]
    text = await asyncio.to_thread(extract, response.text, url)  # lxml work off the event loop
    return [ToolMessage("text", text or "The page has no readable text.")]


PROVIDER = BuiltinProvider(
    name="webscraper", label=_("Web Scraper"), icon="🕸️", tags=("productivity",),
    description=_("Reads the main text of a web page."),
    tools=(BuiltinTool(
        name="webscraper", label=_("Web Scraper"), description=_("The main text of a web page."),
        llm_description="A tool for scraping webpages. Input should be a URL.",
        parameters=(ToolParameter("url", "string", "llm", required=True, label=_("URL"),
                                  llm_description="The URL of the page to read"),
                    ToolParameter("user_agent", "string", "form", label=_("User agent"),
                                  default=DEFAULT_AGENT)),
        run=webscraper),),
)
