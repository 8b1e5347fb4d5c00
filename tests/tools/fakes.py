"""Fake external services for the tool tests, each a real HTTP server on 127.0.0.1 speaking the
service's wire format: an OpenAPI-described pet API with key auth, SerpApi, SearXNG, Wikipedia's
action API, and (in mcp_fake.py) an MCP server built with the mcp SDK.

Each is an ASGI app (Starlette) served by uvicorn in a daemon thread, so sync and async tests
alike reach it over HTTP; `requests` records what arrived.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

PET_KEY = "pet-secret-123"


@dataclasses.dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


class Served:
    """An ASGI app on a free loopback port, in its own thread and event loop."""

    def __init__(self, app: Any, *, lifespan: str = "on") -> None:
        self.app, self.requests = app, []
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self._recording, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan=lifespan, interface="asgi3")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    async def _recording(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            self.requests.append(Recorded(scope["method"], scope["path"], dict(request.query_params),
                                          {k.lower(): v for k, v in request.headers.items()}, b""))
        await self.app(scope, receive, send)

    def start(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the fake server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# --- An API described by OpenAPI, with an API key in a header --------------------------------------


def pet_openapi(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Pet store", "description": "Pets by id", "version": "1"},
        "servers": [{"url": base_url}],
        "paths": {
            "/pets/{petId}": {"get": {
                "operationId": "getPet", "summary": "Find a pet by id",
                "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"},
                                "description": "The pet's id"},
                               {"name": "verbose", "in": "query", "schema": {"type": "boolean"}}]}},
            "/pets": {"post": {
                "operationId": "addPet", "summary": "Add a pet",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/New"}}}}}},
        },
        "components": {"schemas": {"New": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "description": "The pet's name"},
            "kind": {"type": "string", "enum": ["cat", "dog"]}}}}},
    }


def pet_app() -> Starlette:
    def authorised(request: Request) -> bool:
        return request.headers.get("x-api-key") == PET_KEY

    async def get_pet(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"error": "invalid api key"}, status_code=401)
        pet_id = int(request.path_params["pet_id"])
        if pet_id == 404:
            return JSONResponse({"error": "no such pet"}, status_code=404)
        pet = {"id": pet_id, "name": "Rex", "kind": "dog"}
        if request.query_params.get("verbose") == "true":
            pet["owner"] = "Olivia"
        return JSONResponse(pet)

    async def add_pet(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"error": "invalid api key"}, status_code=401)
        body = await request.json()
        return JSONResponse({"id": 7, **body}, status_code=201)

    async def document(request: Request) -> Response:
        return JSONResponse(pet_openapi(str(request.base_url).rstrip("/")))

    async def manifest(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"schema_version": "v1", "name_for_human": "Pets", "name_for_model": "pets",
                             "description_for_human": "Pet lookup", "description_for_model": "Pets",
                             "auth": {"type": "none"}, "api": {"type": "openapi", "url": f"{base}/openapi.json"}})

    return Starlette(routes=[Route("/pets/{pet_id}", get_pet), Route("/pets", add_pet, methods=["POST"]),
                             Route("/openapi.json", document),
                             Route("/.well-known/ai-plugin.json", manifest)])


# --- Search and encyclopedia services --------------------------------------------------------------

SERPAPI_KEY = "serp-key-42"


def search_app() -> Starlette:
    """SerpApi (/search.json), SearXNG (/searxng/search?format=json) and Wikipedia (/<lang>/w/api.php)."""

    async def serpapi(request: Request) -> Response:
        if request.query_params.get("api_key") != SERPAPI_KEY:
            return JSONResponse({"error": "Invalid API key. Your API key should be here: "
                                          "https://serpapi.com/manage-api-key"}, status_code=401)
        query = request.query_params.get("q", "")
        return JSONResponse({"search_metadata": {"status": "Success"}, "organic_results": [
            {"position": 1, "title": f"{query} - first", "link": "https://example.com/1",
             "snippet": f"All about {query}."},
            {"position": 2, "title": f"{query} - second", "link": "https://example.com/2",
             "snippet": "More."}]})

    async def searxng(request: Request) -> Response:
        if request.query_params.get("format") != "json":
            return PlainTextResponse("Forbidden", status_code=403)
        query = request.query_params.get("q", "")
        return JSONResponse({"query": query, "results": [
            {"title": f"SearX {query}", "url": "https://searx.example/a", "content": "A result."}]})

    async def wikipedia(request: Request) -> Response:
        params, lang = request.query_params, request.path_params["lang"]
        if params.get("list") == "search":
            return JSONResponse({"query": {"search": [{"title": "Alan Turing", "pageid": 1},
                                                      {"title": "Turing machine", "pageid": 2}]}})
        if params.get("prop") == "extracts":
            titles = params.get("titles", "").split("|")
            pages = {str(i): {"pageid": i, "title": t, "extract": f"{t} ({lang}) is a summary."}
                     for i, t in enumerate(titles, 1)}
            return JSONResponse({"query": {"pages": pages}})
        return JSONResponse({"error": {"code": "badparams"}}, status_code=400)

    async def page(request: Request) -> Response:
        return HTMLResponse(ARTICLE)

    return Starlette(routes=[Route("/search.json", serpapi), Route("/searxng/search", searxng),
                             Route("/{lang}/w/api.php", wikipedia), Route("/article", page)])


ARTICLE = """<!doctype html><html><head><title>Tessellation basics</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About</a> | <a href="/login">Log in</a></nav>
<article><h1>Tessellation basics</h1>
<p>A tessellation covers a plane with shapes that fit together without gaps or overlaps.
Regular tessellations use a single regular polygon: triangles, squares or hexagons.</p>
<p>Semi-regular tessellations combine two or more regular polygons around identical vertices,
and they have fascinated mathematicians and artists for centuries.</p></article>
<footer>Copyright 2026 Example Corp. All rights reserved. Cookie settings.</footer></body></html>"""


# --- Image generation, vectorizing and YouTube -----------------------------------------------------

OPENAI_KEY = "sk-images-1"
VECTORIZER_AUTH = ("vk-name", "vk-value")
YOUTUBE_KEY = "yt-key-9"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect width="1" height="1"/></svg>'


def media_app() -> Starlette:
    """OpenAI's images API (/v1), a Stable Diffusion WebUI (/sdapi/v1), Vectorizer.AI (/vectorizer)
    and the YouTube Data API (/youtube), each checking its credentials as the real one does."""

    def openai_error(message: str, status: int) -> Response:
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status_code=status)

    async def images(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {OPENAI_KEY}":
            return openai_error("Incorrect API key provided.", 401)
        body = await request.json()
        if body.get("model") not in ("dall-e-3", "gpt-image-1") or not body.get("prompt"):
            return openai_error("Invalid model or prompt.", 400)
        return JSONResponse({"created": 1, "data": [{"b64_json": base64.b64encode(PNG).decode(),
                                                     "revised_prompt": body["prompt"]}]})

    async def models(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {OPENAI_KEY}":
            return openai_error("Incorrect API key provided.", 401)
        return JSONResponse({"object": "list", "data": [{"id": "dall-e-3", "object": "model"}]})

    async def txt2img(request: Request) -> Response:
        body = await request.json()
        checkpoint = (body.get("override_settings") or {}).get("sd_model_checkpoint")
        if checkpoint not in (None, "v1-5-pruned") or not body.get("prompt") or body.get("width", 512) % 8:
            return JSONResponse({"error": "OperationalError", "detail": "bad request"}, status_code=422)
        return JSONResponse({"images": [base64.b64encode(PNG).decode()], "parameters": body, "info": "{}"})

    async def sd_models(request: Request) -> Response:
        return JSONResponse([{"title": "v1-5 [abc]", "model_name": "v1-5-pruned", "hash": "abc"}])

    def vectorizer_ok(request: Request) -> bool:
        expected = "Basic " + base64.b64encode(":".join(VECTORIZER_AUTH).encode()).decode()
        return request.headers.get("authorization") == expected

    async def vectorize(request: Request) -> Response:
        if not vectorizer_ok(request):
            return JSONResponse({"error": {"code": 1006, "message": "Invalid credentials"}}, status_code=401)
        form = await request.form()
        if "image" not in form:
            return JSONResponse({"error": {"code": 1001, "message": "No image"}}, status_code=400)
        return Response(SVG, media_type="image/svg+xml")

    async def account(request: Request) -> Response:
        if not vectorizer_ok(request):
            return JSONResponse({"error": {"code": 1006, "message": "Invalid credentials"}}, status_code=401)
        return JSONResponse({"subscriptionPlan": "none", "credits": 10})

    def youtube_ok(request: Request) -> Response | None:
        if request.query_params.get("key") != YOUTUBE_KEY:
            return JSONResponse({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key."}},
                                status_code=400)
        return None

    async def youtube_search(request: Request) -> Response:
        if refused := youtube_ok(request):
            return refused
        if request.query_params.get("type") == "channel":
            return JSONResponse({"items": [{"id": {"kind": "youtube#channel", "channelId": "UC123"}}]})
        return JSONResponse({"items": [{"id": {"kind": "youtube#video", "videoId": "v1"}},
                                       {"id": {"kind": "youtube#video", "videoId": "v2"}}]})

    async def youtube_videos(request: Request) -> Response:
        if refused := youtube_ok(request):
            return refused
        return JSONResponse({"items": [
            {"id": "v1", "snippet": {"title": "Tiling 101"}, "statistics": {"viewCount": "1200", "likeCount": "80"}},
            {"id": "v2", "snippet": {"title": "Penrose"}, "statistics": {"viewCount": "300", "likeCount": "12"}}]})

    async def picture(request: Request) -> Response:
        return Response(PNG, media_type="image/png")

    return Starlette(routes=[
        Route("/v1/images/generations", images, methods=["POST"]), Route("/v1/models", models),
        Route("/sdapi/v1/txt2img", txt2img, methods=["POST"]), Route("/sdapi/v1/sd-models", sd_models),
        Route("/vectorizer/vectorize", vectorize, methods=["POST"]), Route("/vectorizer/account", account),
        Route("/youtube/search", youtube_search), Route("/youtube/videos", youtube_videos),
        Route("/picture.png", picture)])
