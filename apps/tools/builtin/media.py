"""Image and video providers: dalle (OpenAI images), stablediffusion (a WebUI's API), vectorizer
(Vectorizer.AI) and youtube (YouTube Data API statistics). Every call goes through the guard."""

from __future__ import annotations

import base64
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.tools.builtin.base import BuiltinProvider, BuiltinTool, Call, Result
from apps.tools.entities import (
    CredentialField,
    Option,
    RawFile,
    ToolContext,
    ToolInvokeError,
    ToolMessage,
    ToolParameter,
)

DRAWS = _("Draws an image from a description.")
PROMPT = ToolParameter("prompt", "string", "llm", required=True, label=_("Prompt"),
                       llm_description="What the image should show, in English, detailed.")


# --- dalle ------------------------------------------------------------------------------------------


def _openai(call: Call) -> tuple[str, dict[str, str]]:
    key = str(call.credentials.get("openai_api_key") or "")
    if not key:
        raise ToolInvokeError("No OpenAI key: authorise DALL-E or set up the OpenAI model provider.")
    base = str(call.credentials.get("openai_base_url") or settings.TOOL_OPENAI_BASE_URL).rstrip("/")
    return base, {"Authorization": f"Bearer {key}"}


def workspace_openai_credentials() -> dict[str, Any] | None:
    """The workspace's OpenAI model-provider key (sync, in its schema): DALL-E uses it when the tool
    itself was not given a key."""
    from django.db import connection

    from apps.providers import crypto
    from apps.providers.models import ProviderCredential

    row = ProviderCredential.objects.filter(provider="openai").first()
    if row is None:
        return None
    config = crypto.decrypt(connection.schema_name, row.secret_config)
    return {"openai_api_key": config.get("api_key", ""), "openai_base_url": config.get("base_url", "")}


def _image_tool(name: str, label: Any, model: str, sizes: tuple[str, ...], extra: tuple[ToolParameter, ...],
                description: str) -> BuiltinTool:
    async def run(params: dict[str, Any], call: Call) -> Result:
        base, headers = _openai(call)
        body: dict[str, Any] = {"model": model, "prompt": params["prompt"], "n": 1,
                                "size": params.get("size") or sizes[0]}
        if model.startswith("dall-e"):
            body["response_format"] = "b64_json"
        for param in extra:
            if params.get(param.name):
                body[param.name] = params[param.name]
        response = await call.request("POST", f"{base}/images/generations", json=body, headers=headers,
                                      timeout=float(getattr(settings, "TOOL_CALL_TIMEOUT", 60)))
        images = []
        for item in (response.json().get("data") or []):
            if item.get("b64_json"):
                png = base64.b64decode(item["b64_json"])
                images.append(RawFile(png, "image/png", f"{name}.png", kind="image"))
            elif item.get("url"):
                images.append(ToolMessage("image", item["url"], {"mime_type": "image/png"}))
        if not images:
            raise ToolInvokeError("The image service returned no image.")
        return images

    return BuiltinTool(
        name=name, label=label, description=DRAWS, llm_description=description,
        parameters=(PROMPT, ToolParameter("size", "select", "form", label=_("Size"), default=sizes[0],
                                          options=tuple(Option(s, s) for s in sizes)), *extra),
        run=run)


async def _validate_dalle(credentials: dict[str, Any]) -> None:
    if credentials.get("openai_api_key"):
        call = Call(credentials, ToolContext())
        base, headers = _openai(call)
        await call.request("GET", f"{base}/models", headers=headers)


DALLE = BuiltinProvider(
    name="dalle", label=_("DALL-E"), icon="🎨", tags=("image",),
    description=_("Images from OpenAI (DALL-E 3, gpt-image-1), with this key or the workspace's OpenAI key."),
    credentials=(CredentialField("openai_api_key", required=False, label=_("OpenAI API key"),
                                 help=_("Leave empty to use the OpenAI model provider's key.")),
                 CredentialField("openai_base_url", "text-input", required=False, label=_("OpenAI base URL"),
                                 placeholder="https://api.openai.com/v1")),
    validate=_validate_dalle,
    fallback=workspace_openai_credentials,
    tools=(
        _image_tool("dalle3", _("DALL-E 3"), "dall-e-3", ("1024x1024", "1792x1024", "1024x1792"), (
            ToolParameter("quality", "select", "form", label=_("Quality"), default="standard",
                          options=(Option("standard", "standard"), Option("hd", "hd"))),
            ToolParameter("style", "select", "form", label=_("Style"), default="vivid",
                          options=(Option("vivid", "vivid"), Option("natural", "natural")))),
            "DALL-E 3 is a text to image tool. Input should be a detailed prompt."),
        _image_tool("gpt_image", _("GPT Image"), "gpt-image-1", ("1024x1024", "1536x1024", "1024x1536"), (),
                    "gpt-image-1 generates an image from a detailed prompt."),
    ),
)


# --- stablediffusion ----------------------------------------------------------------------------------


def _webui(call: Call) -> str:
    base = str(call.credentials.get("base_url") or "").rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ToolInvokeError("The Stable Diffusion WebUI base URL must start with http:// or https://.")
    return base


async def stable_diffusion(params: dict[str, Any], call: Call) -> Result:
    body: dict[str, Any] = {"prompt": params["prompt"],
                            "negative_prompt": params.get("negative_prompt") or "",
                            "width": int(params.get("width") or 512),
                            "height": int(params.get("height") or 512),
                            "steps": int(params.get("steps") or 20)}
    if call.credentials.get("model"):
        body["override_settings"] = {"sd_model_checkpoint": call.credentials["model"]}
    response = await call.request("POST", f"{_webui(call)}/sdapi/v1/txt2img", json=body,
                                  timeout=float(getattr(settings, "TOOL_CALL_TIMEOUT", 60)))
    images = response.json().get("images") or []
    if not images:
        raise ToolInvokeError("The WebUI returned no image.")
    return [RawFile(base64.b64decode(images[0]), "image/png", "stable_diffusion.png", kind="image")]


async def _validate_webui(credentials: dict[str, Any]) -> None:
    call = Call(credentials, ToolContext())
    models = (await call.request("GET", f"{_webui(call)}/sdapi/v1/sd-models")).json()
    names = {m.get("model_name") for m in models if isinstance(m, dict)} | {
        m.get("title") for m in models if isinstance(m, dict)}
    if credentials.get("model") and credentials["model"] not in names:
        raise ToolInvokeError(f"The WebUI has no model {credentials['model']!r}.")


STABLE_DIFFUSION = BuiltinProvider(
    name="stablediffusion", label=_("Stable Diffusion"), icon="🖼️", tags=("image",),
    description=_("Images from your Stable Diffusion WebUI (started with --api)."),
    credentials=(CredentialField("base_url", "text-input", label=_("WebUI base URL"),
                                 placeholder="http://192.168.1.10:7860"),
                 CredentialField("model", "text-input", required=False, label=_("Model"),
                                 help=_("A model_name from /sdapi/v1/sd-models; "
                                        "empty: the WebUI's current one."))),
    validate=_validate_webui,
    tools=(BuiltinTool(
        name="stable_diffusion", label=_("Stable Diffusion"), description=DRAWS,
        llm_description="Stable Diffusion draws an image from a detailed English prompt.",
        parameters=(PROMPT,
                    ToolParameter("negative_prompt", "string", "form", label=_("Negative prompt")),
                    ToolParameter("width", "number", "form", label=_("Width"), default=512),
                    ToolParameter("height", "number", "form", label=_("Height"), default=512),
                    ToolParameter("steps", "number", "form", label=_("Steps"), default=20)),
        run=stable_diffusion),),
)


# --- vectorizer ---------------------------------------------------------------------------------------


def _vectorizer_auth(call: Call) -> tuple[str, str]:
    return str(call.credentials.get("api_key_name") or ""), str(call.credentials.get("api_key_value") or "")


async def vectorize(params: dict[str, Any], call: Call) -> Result:
    image = params.get("image")
    url = image.get("url") or image.get("remote_url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise ToolInvokeError("The vectorizer needs an image (a file or its URL).")
    if url.startswith("data:"):
        header, _sep, data = url.partition(",")
        content = base64.b64decode(data)
    else:
        content = (await call.request("GET", url)).content
    base = settings.TOOL_VECTORIZER_BASE_URL.rstrip("/")
    response = await call.request("POST", f"{base}/vectorize", auth=_vectorizer_auth(call),
                              files={"image": ("image.png", content)},
                              data={"mode": params.get("mode") or "production"})
    return [RawFile(response.content, "image/svg+xml", "vectorized.svg", kind="blob")]


async def _validate_vectorizer(credentials: dict[str, Any]) -> None:
    call = Call(credentials, ToolContext())
    await call.request("GET", f"{settings.TOOL_VECTORIZER_BASE_URL.rstrip('/')}/account",
                   auth=_vectorizer_auth(call))


VECTORIZER = BuiltinProvider(
    name="vectorizer", label=_("Vectorizer.AI"), icon="✒️", tags=("image",),
    description=_("Turns PNG and JPG images into SVG vectors."),
    credentials=(CredentialField("api_key_name", label=_("API key name")),
                 CredentialField("api_key_value", label=_("API key value"))),
    validate=_validate_vectorizer,
    tools=(BuiltinTool(
        name="vectorizer", label=_("Vectorizer.AI"), description=_("An SVG from an image."),
        llm_description="Convert a PNG or JPG image into an SVG vector image.",
        parameters=(ToolParameter("image", "file", "llm", required=True, label=_("Image"),
                                  llm_description="The image to convert"),
                    ToolParameter("mode", "select", "form", label=_("Mode"), default="production",
                                  options=(Option("production", "production"), Option("test", "test")))),
        run=vectorize),),
)


# --- youtube ------------------------------------------------------------------------------------------


async def youtube_statistics(params: dict[str, Any], call: Call) -> Result:
    base, key = settings.TOOL_YOUTUBE_BASE_URL.rstrip("/"), call.credentials.get("google_api_key", "")
    found = await call.get_json(f"{base}/search", params={"part": "snippet", "q": params["channel"],
                                                          "type": "channel", "maxResults": 1, "key": key})
    channels = found.get("items") or []
    if not channels:
        return [ToolMessage("text", f"No YouTube channel matches {params['channel']!r}.")]
    channel_id = channels[0]["id"]["channelId"]
    query: dict[str, Any] = {"part": "snippet", "channelId": channel_id, "type": "video", "order": "date",
                             "maxResults": 10, "key": key}
    if params.get("start_date"):
        query["publishedAfter"] = f"{params['start_date']}T00:00:00Z"
    if params.get("end_date"):
        query["publishedBefore"] = f"{params['end_date']}T23:59:59Z"
    videos = (await call.get_json(f"{base}/search", params=query)).get("items") or []
    ids = [v["id"]["videoId"] for v in videos if v.get("id", {}).get("videoId")]
    if not ids:
        return [ToolMessage("text", "The channel published no videos in that time.")]
    stats = await call.get_json(f"{base}/videos", params={"part": "snippet,statistics", "id": ",".join(ids),
                                                           "key": key})
    lines = [f"{v['snippet']['title']}: {v['statistics'].get('viewCount', 0)} views, "
             f"{v['statistics'].get('likeCount', 0)} likes" for v in stats.get("items") or []]
    return [ToolMessage("text", "\n".join(lines))]


async def _validate_youtube(credentials: dict[str, Any]) -> None:
    await youtube_statistics({"channel": "TED"}, Call(credentials, ToolContext()))


YOUTUBE = BuiltinProvider(
    name="youtube", label=_("YouTube"), icon="▶️", tags=("videos",),
    description=_("Video statistics of a YouTube channel through the YouTube Data API."),
    credentials=(CredentialField("google_api_key", label=_("YouTube Data API key")),),
    validate=_validate_youtube,
    tools=(BuiltinTool(
        name="youtube_video_statistics", label=_("Video statistics"),
        description=_("Views and likes of a channel's recent videos."),
        llm_description="Get the statistics (views, likes) of a YouTube channel's videos between two dates.",
        parameters=(ToolParameter("channel", "string", "llm", required=True, label=_("Channel"),
                                  llm_description="The channel name"),
                    ToolParameter("start_date", "string", "llm", label=_("Start date"),
                                  llm_description="YYYY-MM-DD"),
                    ToolParameter("end_date", "string", "llm", label=_("End date"),
                                  llm_description="YYYY-MM-DD")),
        run=youtube_statistics),),
)
