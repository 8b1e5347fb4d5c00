"""/v1/parameters, /v1/meta, /v1/info and /v1/site (service-api.md §2.22–§2.25)."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django_tenants.utils import get_public_schema_name, schema_context

from apps.accounts.models import User
from apps.applications import services
from apps.applications.api.auth import AppCaller
from apps.applications.api.common import api_view
from apps.applications.config import with_defaults
from apps.applications.models import App, Site
from apps.core.errors import ServiceError

FEATURES = ("suggested_questions_after_answer", "speech_to_text", "text_to_speech", "retriever_resource",
            "annotation_reply", "more_like_this", "sensitive_word_avoidance", "file_upload")


def system_parameters() -> dict[str, int]:
    return {
        "image_file_size_limit": getattr(settings, "UPLOAD_IMAGE_FILE_SIZE_LIMIT", 10),
        "video_file_size_limit": getattr(settings, "UPLOAD_VIDEO_FILE_SIZE_LIMIT", 100),
        "audio_file_size_limit": getattr(settings, "UPLOAD_AUDIO_FILE_SIZE_LIMIT", 50),
        "file_size_limit": getattr(settings, "UPLOAD_FILE_SIZE_LIMIT", 15),
        "workflow_file_upload_limit": getattr(settings, "WORKFLOW_FILE_UPLOAD_LIMIT", 10),
    }


def parameters_body(app: App) -> dict[str, Any]:
    """The app's input form and features, from its live configuration (also the WebApp's)."""
    if app.mode in (App.Mode.WORKFLOW, App.Mode.ADVANCED_CHAT):  # from the published workflow
        from apps.workflows.api import parameters_body as workflow_parameters

        return workflow_parameters(app, FEATURES, system_parameters())
    if not app.live_config:
        raise ServiceError("app_unavailable", "App unavailable, please check your app configurations.")
    config = with_defaults(app.live_config)
    body: dict[str, Any] = {"opening_statement": config.get("opening_statement") or None,
                            "suggested_questions": config.get("suggested_questions") or []}
    body.update({key: config[key] for key in FEATURES})
    # §2.22 lists autoPlay with text_to_speech; configs made before it existed have none.
    body["text_to_speech"] = {"enabled": False, "voice": "", "language": "", "autoPlay": "disabled",
                              **body["text_to_speech"]}
    body["user_input_form"] = config.get("user_input_form") or []
    body["system_parameters"] = system_parameters()
    return body


@api_view("GET")
def parameters(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    return JsonResponse(parameters_body(caller.app), json_dumps_params={"ensure_ascii": False})


def _tool_icon(tool: dict[str, Any]) -> str | dict[str, str]:
    if tool.get("provider_type") == "builtin":
        return (f"{settings.SITE_URL}/console/api/workspaces/current/tool-provider/builtin/"
                f"{tool.get('provider_id', '')}/icon")
    return {"background": "#252525", "content": "\N{GRINNING FACE WITH SMILING EYES}"}


@api_view("GET")
def meta(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    """Icons of the tools the app's agent uses."""
    tools = (with_defaults(caller.app.live_config).get("agent_mode") or {}).get("tools") or []
    icons = {tool["tool_name"]: _tool_icon(tool) for tool in tools
             if isinstance(tool, dict) and tool.get("tool_name") and tool.get("enabled", True)}
    return JsonResponse({"tool_icons": icons}, json_dumps_params={"ensure_ascii": False})


def _author_name(app: App) -> str:
    """The creator's name; users live in the public schema."""
    if app.created_by_id is None:
        return ""
    with schema_context(get_public_schema_name()):
        user = User.objects.filter(pk=app.created_by_id).first()
    return user.display_name if user is not None else ""


@api_view("GET")
def info(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    app = caller.app
    return JsonResponse({"name": app.name, "description": app.description, "tags": [], "mode": app.mode,
                         "author_name": _author_name(app)}, json_dumps_params={"ensure_ascii": False})


# Site languages in Dify's spelling (the /v1/site wire format).
WIRE_LANGUAGES = {"en": "en-US", "zh-Hans": "zh-Hans", "ja": "ja-JP"}


def site_body(site: Site) -> dict[str, Any]:
    """The WebApp's look, from the app's site settings (WEB-03)."""
    return {
        "title": site.title, "chat_color_theme": None, "chat_color_theme_inverted": False,
        "icon_type": "emoji", "icon": site.icon, "icon_background": site.icon_background, "icon_url": None,
        "description": site.description, "copyright": site.copyright or None,
        "privacy_policy": site.privacy_policy or None, "custom_disclaimer": site.custom_disclaimer,
        "default_language": WIRE_LANGUAGES.get(site.default_language, "en-US"), "show_workflow_steps": True,
        "use_icon_as_answer_icon": False,
    }


@api_view("GET")
def site(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    body = site_body(services.site_get_or_create(app=caller.app))
    return JsonResponse(body, json_dumps_params={"ensure_ascii": False})
