"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by Daphne)."""

import os

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
django.setup(set_prefix=False)

from apps.applications.api.asgi import PATHS as GENERATION_PATHS  # noqa: E402
from apps.applications.api.asgi import generation_app  # noqa: E402
from apps.core.cors import open_cors  # noqa: E402
from apps.tools.mcp_server import PREFIX as MCP_PREFIX  # noqa: E402
from apps.tools.mcp_server import mcp_app  # noqa: E402


class ServiceAPIHandler(ASGIHandler):
    """Serves /v1/ with SERVICE_API_MIDDLEWARE only (the API's validation layer and error format):
    the Service API authenticates by key and sets its workspace schema itself, and needs none of
    sessions, CSRF, messages, locale or static files. Skipping them keeps streaming views on the
    event loop instead of hopping through threads."""

    def load_middleware(self, is_async: bool = False) -> None:
        from django.conf import settings

        console_middleware = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.SERVICE_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = console_middleware

    def create_request(self, scope: dict, body_file: object) -> tuple:
        # Django answers an undecodable or oversized request here, before any middleware, with
        # plain text: give it the API's error format too.
        from apps.core.middleware import as_api_error

        request, error = super().create_request(scope, body_file)
        return request, None if error is None else as_api_error(error)


def _skip_form_parsing() -> None:
    """Daphne hands request bodies to the application untouched, yet its Twisted request still
    parses every POST's Content-Type with the email package (and multipart bodies into form
    arguments nobody reads): about a twentieth of a chat turn's CPU. Daphne builds its requests
    from the module's WebRequest name, so a subclass with that parsing off takes its place."""
    from daphne import http_protocol

    class RawBodyRequest(http_protocol.WebRequest):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self._parsePOSTFormSubmission = False

    if http_protocol.WebRequest.__name__ != "RawBodyRequest":
        http_protocol.WebRequest = RawBodyRequest


_skip_form_parsing()
django_asgi_app = ASGIHandler()
service_api_app = ServiceAPIHandler()


async def http_app(scope: dict, receive: object, send: object) -> None:
    path = scope["path"]
    if path.startswith("/v1/"):
        await open_cors(generation_app if path in GENERATION_PATHS else service_api_app, scope, receive, send)
    elif path.startswith(MCP_PREFIX):  # apps published as MCP servers authenticate by their own key
        await mcp_app(scope, receive, send)
    else:
        await django_asgi_app(scope, receive, send)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402
from django.urls import path  # noqa: E402

from apps.applications.consumers import AppChatConsumer  # noqa: E402
from apps.applications.webapp.consumers import WidgetChatConsumer  # noqa: E402
from apps.workspaces.asgi import TenantASGIMiddleware  # noqa: E402
from apps.workspaces.consumers import WorkspaceEventsConsumer  # noqa: E402

websocket_urlpatterns = [
    path("ws/console/<slug:ws>/events/", WorkspaceEventsConsumer.as_asgi()),
    path("ws/console/<slug:ws>/apps/<str:app_id>/chat/", AppChatConsumer.as_asgi()),
]

# The chat widget's socket is opened by pages of other sites: its Origin is checked against the
# app's own allowed-origins list by the consumer, not against ALLOWED_HOSTS. It needs the cookies
# (the WebApp's end user) but no session or login.
widget_urlpatterns = [
    path("ws/chat/<str:code>/", WidgetChatConsumer.as_asgi()),
]
WIDGET_PREFIX = "/ws/chat/"

# Auth first (the console needs the user), then the tenant from the path or site code.
console_websocket_app = AllowedHostsOriginValidator(
    AuthMiddlewareStack(TenantASGIMiddleware(URLRouter(websocket_urlpatterns)))
)
# (The consumer resolves the site code itself, with every check of the WebApp pages.)
widget_websocket_app = CookieMiddleware(URLRouter(widget_urlpatterns))


async def websocket_app(scope: dict, receive: object, send: object) -> None:
    app = widget_websocket_app if scope["path"].startswith(WIDGET_PREFIX) else console_websocket_app
    await app(scope, receive, send)


application = ProtocolTypeRouter({"http": http_app, "websocket": websocket_app})
