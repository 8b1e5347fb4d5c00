"""Search providers: google (through SerpApi), searxng (a user's instance) and wikipedia."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.tools.builtin.base import BuiltinProvider, BuiltinTool, Call, Result
from apps.tools.entities import (
    CredentialField,
    Option,
    ToolContext,
    ToolInvokeError,
    ToolMessage,
    ToolParameter,
)

QUERY = ToolParameter("query", "string", "llm", required=True, label=_("Query"),
                      llm_description="The search query.")


def _results_text(results: list[dict[str, Any]], title: str, link: str, snippet: str) -> str:
    lines = [f"{i}. {r.get(title) or ''}\n{r.get(link) or ''}\n{r.get(snippet) or ''}".strip()
             for i, r in enumerate(results, 1)]
    return "\n\n".join(lines) or "No results."


# --- google (SerpApi) -------------------------------------------------------------------------------


async def google_search(params: dict[str, Any], call: Call) -> Result:
    data = await call.get_json(f"{settings.TOOL_SERPAPI_BASE_URL.rstrip('/')}/search.json", params={
        "engine": "google", "q": params["query"], "api_key": call.credentials.get("serpapi_api_key", ""),
        "hl": params.get("hl") or "en", "gl": params.get("gl") or "us"})
    if data.get("error"):
        raise ToolInvokeError(f"SerpApi: {data['error']}")
    results = data.get("organic_results") or []
    if params.get("result_type") == "link":
        return [ToolMessage("link", r["link"]) for r in results if r.get("link")]
    return [ToolMessage("text", _results_text(results, "title", "link", "snippet"))]


async def _validate_google(credentials: dict[str, Any]) -> None:
    await google_search({"query": "test"}, Call(credentials, ToolContext()))


GOOGLE = BuiltinProvider(
    name="google", label=_("Google"), icon="🔎", tags=("search",),
    description=_("Google search results through SerpApi."),
    credentials=(CredentialField("serpapi_api_key", label=_("SerpApi API key"),
                                 help=_("Get a key at serpapi.com.")),),
    validate=_validate_google,
    tools=(BuiltinTool(
        name="google_search", label=_("Google Search"), description=_("Searches the web with Google."),
        llm_description="A tool for performing a Google search and extracting snippets and webpages. "
                        "Input should be a search query.",
        parameters=(QUERY, ToolParameter("result_type", "select", "form", label=_("Result type"),
                                         default="text",
                                         options=(Option("text", _("Text")), Option("link", _("Links"))))),
        run=google_search),),
)


# --- searxng ------------------------------------------------------------------------------------------


async def searxng_search(params: dict[str, Any], call: Call) -> Result:
    base = str(call.credentials.get("searxng_base_url") or "").rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ToolInvokeError("The SearXNG base URL must start with http:// or https://.")
    data = await call.get_json(f"{base}/search", params={
        "q": params["query"], "format": "json", "categories": params.get("search_type") or "general"})
    return [ToolMessage("text", _results_text(data.get("results") or [], "title", "url", "content"))]


async def _validate_searxng(credentials: dict[str, Any]) -> None:
    await searxng_search({"query": "SearXNG"}, Call(credentials, ToolContext()))


SEARXNG = BuiltinProvider(
    name="searxng", label=_("SearXNG"), icon="🔍", tags=("search",),
    description=_("Search through your own SearXNG instance (with the json format enabled)."),
    credentials=(CredentialField("searxng_base_url", "text-input", label=_("SearXNG base URL"),
                                 placeholder="http://searxng.example:8080"),),
    validate=_validate_searxng,
    tools=(BuiltinTool(
        name="searxng_search", label=_("SearXNG Search"), description=_("Searches with SearXNG."),
        llm_description="Perform searches on SearXNG and get results. Input should be a search query.",
        parameters=(QUERY, ToolParameter(
            "search_type", "select", "form", label=_("Category"), default="general",
            options=tuple(Option(v, v) for v in ("general", "images", "videos", "news", "music", "it",
                                                 "science", "files", "social_media")))),
        run=searxng_search),),
)


# --- wikipedia ----------------------------------------------------------------------------------------

LANGUAGES = ("en", "zh", "ja", "de", "fr", "es", "it", "pt", "ru", "ko", "ar")


async def wikipedia_search(params: dict[str, Any], call: Call) -> Result:
    language = str(params.get("language") or "en")
    api = settings.TOOL_WIKIPEDIA_BASE_URL.format(language=language).rstrip("/") + "/w/api.php"
    found = await call.get_json(api, params={"action": "query", "list": "search", "srsearch": params["query"],
                                             "srlimit": 3, "format": "json"})
    titles = [hit["title"] for hit in (found.get("query") or {}).get("search") or [] if hit.get("title")]
    if not titles:
        return [ToolMessage("text", "No good Wikipedia search result was found.")]
    pages = await call.get_json(api, params={"action": "query", "prop": "extracts", "exintro": 1,
                                             "explaintext": 1, "titles": "|".join(titles), "format": "json"})
    found_pages = ((pages.get("query") or {}).get("pages") or {}).values()
    by_title = {p.get("title"): p.get("extract") or "" for p in found_pages}
    text = "\n\n".join(f"Page: {t}\nSummary: {by_title.get(t, '').strip()}" for t in titles)
    return [ToolMessage("text", text)]


WIKIPEDIA = BuiltinProvider(
    name="wikipedia", label=_("Wikipedia"), icon="📚", tags=("search", "education"),
    description=_("Searches Wikipedia and returns page summaries."),
    tools=(BuiltinTool(
        name="wikipedia_search", label=_("Wikipedia Search"), description=_("Page summaries from Wikipedia."),
        llm_description="A tool for performing a Wikipedia search and extracting snippets and webpages. "
                        "Input should be a search query.",
        parameters=(QUERY, ToolParameter("language", "select", "form", label=_("Language"), default="en",
                                         options=tuple(Option(code, code) for code in LANGUAGES))),
        run=wikipedia_search),),
)
