"""Built-in providers against fake services over HTTP (SerpApi, SearXNG, Wikipedia, a web page),
authorising with a real validation call, secrets encrypted and masked; chart images and the code
sandbox run for real."""

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError

from apps.tools import services
from apps.tools.builtin import PROVIDERS
from apps.tools.entities import ToolInvokeError
from apps.tools.models import BuiltinCredential
from apps.tools.runtime import available_tools, resolve_tool
from tests.tools.fakes import SERPAPI_KEY

pytestmark = pytest.mark.django_db


def tool(workspace, provider, name, **form):  # type: ignore[no-untyped-def]
    return resolve_tool(workspace, {"provider_type": "builtin", "provider_id": provider, "tool_name": name,
                                    "tool_parameters": form})


def invoke(handle, arguments):  # type: ignore[no-untyped-def]
    return async_to_sync(handle.invoke)(arguments)


@pytest.fixture
def serpapi(search_server, allow_loopback):  # type: ignore[no-untyped-def]
    allow_loopback.TOOL_SERPAPI_BASE_URL = search_server.url
    return search_server


def test_reference_provider_and_tool_names() -> None:
    names = {p: [t.name for t in provider.tools] for p, provider in PROVIDERS.items()}
    assert names["time"] == ["current_time", "timezone_conversion"]
    assert names["google"] == ["google_search"] and names["wikipedia"] == ["wikipedia_search"]
    assert names["searxng"] == ["searxng_search"] and names["webscraper"] == ["webscraper"]
    assert names["chart"] == ["bar_chart", "line_chart", "pie_chart"] and names["code"] == ["simple_code"]


def test_google_needs_authorising_with_a_key_serpapi_accepts(alpha, serpapi) -> None:  # type: ignore[no-untyped-def]
    spec = {"provider_type": "builtin", "provider_id": "langgenius/google/google", "tool_name": "google_search"}
    assert available_tools(alpha, [spec]) == []  # not authorised yet
    with pytest.raises(ValidationError, match="Invalid API key"):
        services.builtin_credentials_set(provider="google", credentials={"serpapi_api_key": "wrong"})
    with pytest.raises(ValidationError, match="Required: SerpApi API key"):
        services.builtin_credentials_set(provider="google", credentials={})
    assert not BuiltinCredential.objects.exists()
    services.builtin_credentials_set(provider="google", credentials={"serpapi_api_key": SERPAPI_KEY})
    row = BuiltinCredential.objects.get()
    assert SERPAPI_KEY not in row.secret_config  # encrypted at rest
    shown = services.masked(PROVIDERS["google"].credentials, services.builtin_credentials("google"))
    assert shown["serpapi_api_key"] != SERPAPI_KEY and shown["serpapi_api_key"].endswith(SERPAPI_KEY[-4:])
    services.builtin_credentials_set(provider="google", credentials=shown)  # sent back masked: kept
    assert services.builtin_credentials("google") == {"serpapi_api_key": SERPAPI_KEY}
    [handle] = available_tools(alpha, [spec])
    [message] = invoke(handle, {"query": "tiling"})
    assert message.payload.startswith("1. tiling - first\nhttps://example.com/1\nAll about tiling.")
    assert serpapi.requests[-1].query["engine"] == "google"
    links = invoke(tool(alpha, "google", "google_search", result_type="link"), {"query": "x"})
    assert [(m.type, m.payload) for m in links] == [("link", "https://example.com/1"), ("link", "https://example.com/2")]


def test_searxng_with_the_users_base_url(alpha, search_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="answered 404"):
        services.builtin_credentials_set(provider="searxng", credentials={"searxng_base_url": search_server.url})
    services.builtin_credentials_set(provider="searxng",
                                     credentials={"searxng_base_url": f"{search_server.url}/searxng"})
    [message] = invoke(tool(alpha, "searxng", "searxng_search"), {"query": "hexagons"})
    assert message.payload == "1. SearX hexagons\nhttps://searx.example/a\nA result."
    assert search_server.requests[-1].query == {"q": "hexagons", "format": "json", "categories": "general"}


def test_searxng_on_a_private_address_is_refused_unless_allowed(alpha, search_server, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOWED_NETWORKS = ""
    with pytest.raises(ValidationError, match="loopback address"):
        services.builtin_credentials_set(provider="searxng",
                                         credentials={"searxng_base_url": f"{search_server.url}/searxng"})


def test_wikipedia_search_and_summaries_in_the_chosen_language(alpha, search_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    allow_loopback.TOOL_WIKIPEDIA_BASE_URL = search_server.url + "/{language}"
    [message] = invoke(tool(alpha, "wikipedia", "wikipedia_search", language="ja"), {"query": "Turing"})
    assert message.payload == ("Page: Alan Turing\nSummary: Alan Turing (ja) is a summary.\n\n"
                               "Page: Turing machine\nSummary: Turing machine (ja) is a summary.")


def test_webscraper_reads_the_main_text(alpha, search_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    [message] = invoke(tool(alpha, "webscraper", "webscraper"), {"url": f"{search_server.url}/article"})
    assert message.payload.startswith("TITLE: Tessellation basics")
    assert "fit together without gaps" in message.payload and "Cookie settings" not in message.payload
    with pytest.raises(ToolInvokeError, match="answered 404"):
        invoke(tool(alpha, "webscraper", "webscraper"), {"url": f"{search_server.url}/missing"})


def test_webscraper_refuses_private_addresses(alpha, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOUND_ALLOWED_NETWORKS = ""
    with pytest.raises(ToolInvokeError, match="link-local"):
        invoke(tool(alpha, "webscraper", "webscraper"), {"url": "http://169.254.169.254/latest/meta-data/"})


def test_charts_are_png_images(alpha) -> None:  # type: ignore[no-untyped-def]
    [bar] = invoke(tool(alpha, "chart", "bar_chart"), {"data": "3;5;2", "x_axis": "a;b;c"})
    assert bar.type == "image" and bar.payload.startswith("data:image/png;base64,iVBOR")  # no app: inline
    [pie] = invoke(tool(alpha, "chart", "pie_chart"), {"data": "1;1", "categories": "yes;no"})
    assert pie.meta["mime_type"] == "image/png" and pie.meta["filename"] == "pie_chart.png"
    with pytest.raises(ToolInvokeError, match="2 labels for 3 values"):
        invoke(tool(alpha, "chart", "line_chart"), {"data": "1;2;3", "x_axis": "a;b"})


def test_code_runs_in_the_sandbox(alpha) -> None:  # type: ignore[no-untyped-def]
    [python] = invoke(tool(alpha, "code", "simple_code"), {"language": "python3", "code": "print(6 * 7)"})
    assert python.payload == "42\n"
    [javascript] = invoke(tool(alpha, "code", "simple_code"),
                          {"language": "javascript", "code": "console.log([1, 2].map(x => x * 2).join(','))"})
    assert javascript.payload == "2,4"
    with pytest.raises(ToolInvokeError, match="ZeroDivisionError"):
        invoke(tool(alpha, "code", "simple_code"), {"language": "python3", "code": "1 / 0"})
