"""/v1/audio-to-text and /v1/text-to-audio (service-api.md §2.26, §2.27), through the workspace's
default speech2text and tts models."""

from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse, JsonResponse

from apps.applications.api.auth import AppCaller, caller_end_user
from apps.applications.api.common import api_view, json_body, str_arg
from apps.applications.api.files import single_upload
from apps.applications.config import with_defaults
from apps.applications.generation import DEFAULT_VOICE
from apps.core.errors import ServiceError, invalid_param
from apps.logs import selectors
from apps.providers import selectors as providers
from apps.providers.runtime.errors import RuntimeModelError

AUDIO_LIMIT_MB = 30
# Dify checks audio/{mp3,m4a,wav,amr,mpga}; the standard names of the same formats (audio/mpeg,
# audio/x-wav …) and the documented mp4/webm are accepted too.
AUDIO_SUBTYPES = ("mp3", "m4a", "wav", "amr", "mpga", "mpeg", "mp4", "webm", "x-wav", "wave", "x-m4a")


def transcribe_upload(request: HttpRequest) -> str:
    """The request's one audio file, checked as §2.26 says, as text from the workspace's default
    speech2text model (in the workspace schema). Also the console debug panel's microphone."""
    file = single_upload(request, missing=ServiceError("no_audio_uploaded", "Please upload your audio."))
    kind, _, subtype = (file.content_type or "").partition("/")
    if kind != "audio" or subtype not in AUDIO_SUBTYPES:
        raise ServiceError("unsupported_audio_type", "Audio type not allowed.", 415)
    if file.size > AUDIO_LIMIT_MB * 1024 * 1024:
        raise ServiceError("audio_too_large", f"Audio size larger than {AUDIO_LIMIT_MB} mb", 413)
    try:
        model = providers.resolve_default("speech2text")
    except RuntimeModelError:
        raise ServiceError("provider_not_support_speech_to_text",
                           "Provider not support speech to text.") from None
    return async_to_sync(model.transcribe)(file.read(), file.name or "audio.mp3").text


def speak(text: str, voice: str | None, tts: dict) -> HttpResponse:
    """`text` spoken by the default tts model as audio/mpeg; the voice from the request, else the
    app's text_to_speech config. Also the console debug panel's read-aloud button."""
    if not (text or "").strip():
        raise invalid_param("Text is required")
    model = providers.resolve_default("tts")
    speech = async_to_sync(model.speak)(text, voice or tts.get("voice") or DEFAULT_VOICE)
    return HttpResponse(speech.audio, content_type="audio/mpeg")


@api_view("POST")
def audio_to_text(request: HttpRequest, caller: AppCaller) -> JsonResponse:
    if not with_defaults(caller.app.live_config)["speech_to_text"].get("enabled"):
        raise invalid_param("Speech to text is not enabled")
    caller_end_user(caller, request.POST, required=False)
    return JsonResponse({"text": transcribe_upload(request)}, json_dumps_params={"ensure_ascii": False})


@api_view("POST")
def text_to_audio(request: HttpRequest, caller: AppCaller) -> HttpResponse:
    """The text (or a message's answer) spoken by the default tts model, as audio/mpeg."""
    body = json_body(request)
    tts = with_defaults(caller.app.live_config)["text_to_speech"]
    if not tts.get("enabled"):
        raise invalid_param("TTS is not enabled")
    message_id, text, voice = str_arg(body, "message_id"), str_arg(body, "text"), str_arg(body, "voice")
    end_user = caller_end_user(caller, body, required=False)
    if message_id:
        message = selectors.api_message_get(app=caller.app, end_user=end_user, message_id=message_id,
                                            source=caller.source)
        if message is None:
            return JsonResponse(None, safe=False)  # Dify answers a bare null for an unknown message
        text = message.answer
    return speak(text or "", voice, tts)
