"""dalle, stablediffusion, vectorizer and youtube against fake services over HTTP: authorising with a
real call, images returned as files (stored under the app with signed URLs when an app calls)."""

import base64

import pytest
from django.core.exceptions import ValidationError

from apps.tools import services
from apps.tools.entities import ToolInvokeError
from apps.tools.runtime import available_tools, resolve_tool
from tests.tools.fakes import OPENAI_KEY, PNG, SVG, VECTORIZER_AUTH, YOUTUBE_KEY
from tests.tools.test_builtins import invoke, tool

pytestmark = pytest.mark.django_db


def _png(message) -> bytes:  # type: ignore[no-untyped-def]
    return base64.b64decode(message.payload.split(",", 1)[1])


def test_dalle_with_its_own_key(alpha, media) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="401"):
        services.builtin_credentials_set(provider="dalle", credentials={"openai_api_key": "sk-wrong"})
    services.builtin_credentials_set(provider="dalle", credentials={"openai_api_key": OPENAI_KEY})
    [image] = invoke(tool(alpha, "dalle", "dalle3", quality="hd"), {"prompt": "a hexagonal tiling"})
    assert image.type == "image" and _png(image) == PNG
    [gpt] = invoke(tool(alpha, "dalle", "gpt_image"), {"prompt": "a hexagonal tiling"})
    assert _png(gpt) == PNG


def test_dalle_falls_back_to_the_workspaces_openai_provider(alpha, media) -> None:  # type: ignore[no-untyped-def]
    from apps.providers import services as provider_services

    spec = {"provider_type": "builtin", "provider_id": "dalle", "tool_name": "dalle3"}
    with pytest.raises(ToolInvokeError, match="No OpenAI key"):
        invoke(resolve_tool(alpha, spec), {"prompt": "x"})
    provider_services.credential_save(provider_id="openai", validate=False,
                                      data={"api_key": OPENAI_KEY, "base_url": f"{media.url}/v1"})
    [handle] = available_tools(alpha, [spec])
    assert _png(invoke(handle, {"prompt": "a tiling"})[0]) == PNG


def test_stable_diffusion_with_the_webui_base_url_and_model(alpha, media) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="no model 'nope'"):
        services.builtin_credentials_set(provider="stablediffusion",
                                         credentials={"base_url": media.url, "model": "nope"})
    services.builtin_credentials_set(provider="stablediffusion",
                                     credentials={"base_url": media.url, "model": "v1-5-pruned"})
    [image] = invoke(tool(alpha, "stablediffusion", "stable_diffusion", width=640), {"prompt": "tiles"})
    assert _png(image) == PNG
    with pytest.raises(ToolInvokeError, match="answered 422"):  # the WebUI's own refusal reaches the caller
        invoke(tool(alpha, "stablediffusion", "stable_diffusion", width=641), {"prompt": "tiles"})


def test_vectorizer_turns_an_image_into_svg(alpha, media) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="Invalid credentials"):
        services.builtin_credentials_set(provider="vectorizer",
                                         credentials={"api_key_name": "x", "api_key_value": "y"})
    name, value = VECTORIZER_AUTH
    services.builtin_credentials_set(provider="vectorizer",
                                     credentials={"api_key_name": name, "api_key_value": value})
    [svg] = invoke(tool(alpha, "vectorizer", "vectorizer"), {"image": {"url": f"{media.url}/picture.png"}})
    assert svg.type == "blob" and base64.b64decode(svg.payload.split(",", 1)[1]) == SVG
    with pytest.raises(ToolInvokeError, match="needs an image"):
        invoke(tool(alpha, "vectorizer", "vectorizer"), {"image": {}})


def test_youtube_channel_statistics(alpha, media) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="API key not valid"):
        services.builtin_credentials_set(provider="youtube", credentials={"google_api_key": "bad"})
    services.builtin_credentials_set(provider="youtube", credentials={"google_api_key": YOUTUBE_KEY})
    [message] = invoke(tool(alpha, "youtube", "youtube_video_statistics"),
                       {"channel": "Tilings", "start_date": "2024-01-01", "end_date": "2024-12-31"})
    assert message.payload == "Tiling 101: 1200 views, 80 likes\nPenrose: 300 views, 12 likes"
    search = [r for r in media.requests if r.path == "/youtube/search"][-1]
    assert search.query["publishedAfter"] == "2024-01-01T00:00:00Z" and search.query["channelId"] == "UC123"
