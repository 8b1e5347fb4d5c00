"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by Daphne)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from apps.applications.consumers import AppChatConsumer  # noqa: E402
from apps.workspaces.asgi import TenantASGIMiddleware  # noqa: E402
from apps.workspaces.consumers import WorkspaceEventsConsumer  # noqa: E402

websocket_urlpatterns = [
    path("ws/console/<slug:ws>/events/", WorkspaceEventsConsumer.as_asgi()),
    path("ws/console/<slug:ws>/apps/<str:app_id>/chat/", AppChatConsumer.as_asgi()),
]

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Auth first (the console needs the user), then the tenant from the path or site code.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(TenantASGIMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
