"""Console → app → Orchestrate: the prompt editor (basic and expert modes), model and parameters,
features, publishing, and the debug & preview panel (PR-*, EX-*).

The editor is one Alpine component over the draft's `model_config` (dsl.md §4); saving posts the
whole config as JSON, which `clean_config` checks and normalises before services.draft_save. The
live (published) version changes only on publish. Debug runs stream from the draft config over
SSE from an async view, stored with from_source="debugger" so they stay out of the logs.
"""

import copy
import json
import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from apps.applications import assist, generation, message_files, prompts, services
from apps.applications.agent import settings as agent_settings
from apps.applications.api.audio import speak, transcribe_upload
from apps.applications.api.files import single_upload
from apps.applications.config import with_defaults
from apps.applications.models import App
from apps.core.errors import ServiceError, error_response, invalid_param
from apps.datasets import context as knowledge
from apps.logs import selectors as logs
from apps.logs.models import Message, Source
from apps.providers import selectors
from apps.providers.runtime.entities import ModelType
from apps.providers.runtime.errors import RuntimeModelError
from apps.workspaces import roles
from apps.workspaces.decorators import require_perm
from apps.workspaces.roles import Perm
from apps.workspaces.sync import run_in_tenant
from apps.workspaces.urlutils import ws_reverse

# The Studio's app header with its tabs, and its styles, when they exist.
HEADER_TEMPLATES = ("applications/_app_header.html", "applications/_styles.html")
VARIABLE_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
EDITABLE_KINDS = ("text-input", "paragraph", "select", "number", "checkbox")
ROLES = ("system", "user", "assistant")
MAX_VARIABLES = 40
MAX_MESSAGES = 30
MAX_STOP = 4
MAX_QUESTIONS = 10
MAX_TEXT = 50_000
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}
MEMORY_WINDOW = (1, 100)
MORE_LIKE_THIS_TEMPERATURE = 0.9  # as Dify: another, different take on the same inputs
# The debug panel's URLs with an id to fill in are rendered with this one and filled by the script.
URL_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"

# prompts.validate_expert_template speaks English; these are the same texts, for translation.
PROBLEMS = {
    "The completion prompt of a chat app needs the {{#histories#}} block.":
        gettext_lazy("The completion prompt of a chat app needs the {{#histories#}} block."),
    "The completion prompt of a chat app needs the {{#query#}} block.":
        gettext_lazy("The completion prompt of a chat app needs the {{#query#}} block."),
    "{{#histories#}} belongs in completion-mode prompts; chat models get the history as messages.":
        gettext_lazy("{{#histories#}} belongs in completion-mode prompts; chat models get the history as messages."),
    "{{#context#}} may appear only once.": gettext_lazy("{{#context#}} may appear only once."),
    "{{#histories#}} may appear only once.": gettext_lazy("{{#histories#}} may appear only once."),
    "{{#query#}} may appear only once.": gettext_lazy("{{#query#}} may appear only once."),
}


def translated_problems(config: dict[str, Any], *, chat_app: bool) -> list[str]:
    return [str(PROBLEMS.get(p, p)) for p in prompts.validate_expert_template(config, chat_app=chat_app)]


def _app_or_404(app_id: Any) -> App:
    """The app in the current workspace's schema: another workspace's id simply does not exist here."""
    return get_object_or_404(App.objects.select_related("published"), pk=app_id)


def _llm_options(current: dict[str, Any]) -> list[dict[str, Any]]:
    options = [{
        "provider": m.provider, "provider_label": m.provider_label, "name": m.model, "label": m.label,
        "mode": str(m.spec.mode), "context_length": m.spec.context_length, "max_tokens": m.spec.max_tokens,
        "vision": m.spec.vision, "function_calling": m.spec.function_calling and str(m.spec.mode) == "chat",
        "available": True,
    } for m in selectors.available_models(ModelType.LLM)]
    provider, name = current.get("provider") or "", current.get("name") or ""
    if provider and name and not any(o["provider"] == provider and o["name"] == name for o in options):
        options.append({"provider": provider, "provider_label": provider, "name": name, "label": name,
                        "mode": current.get("mode") or "chat", "context_length": 0, "max_tokens": 0,
                        "vision": False, "function_calling": False, "available": False})
    return options


def _number(value: Any, default: float, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    if number != number:  # NaN
        return default
    return round(min(max(number, low), high), 2)


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _strings(values: Any, limit: int, length: int = 200) -> list[str]:
    if not isinstance(values, list):
        return []
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and value.strip() and value not in out:
            out.append(value[:length])
    return out[:limit]


def _clean_variables(entries: Any, errors: list[str]) -> list[dict[str, Any]]:
    form: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in entries if isinstance(entries, list) else []:
        if not (isinstance(entry, dict) and len(entry) == 1):
            continue
        kind, spec = next(iter(entry.items()))
        if not isinstance(spec, dict):
            continue
        if kind == "external_data_tool":  # not edited here: kept as it came
            form.append({kind: spec})
            continue
        if kind not in EDITABLE_KINDS:
            errors.append(_("Unknown variable type: %(type)s") % {"type": kind})
            continue
        key = str(spec.get("variable") or "").strip()
        if not VARIABLE_KEY.match(key):
            errors.append(_("“%(key)s” is not a valid variable key: use letters, digits and underscores, "
                            "not starting with a digit.") % {"key": key})
            continue
        if key in seen:
            errors.append(_("The variable key “%(key)s” is used twice.") % {"key": key})
            continue
        seen.add(key)
        clean: dict[str, Any] = {"variable": key, "label": _text(spec.get("label"), 120).strip() or key,
                                 "required": bool(spec.get("required"))}
        if kind in ("text-input", "paragraph"):
            default_length = 48 if kind == "text-input" else 0
            try:
                max_length = int(spec.get("max_length") or default_length)
            except (TypeError, ValueError):
                max_length = default_length
            if max_length:
                clean["max_length"] = min(max(max_length, 1), 100_000)
            clean["default"] = _text(spec.get("default"), 10_000)
        elif kind == "select":
            options = _strings(spec.get("options"), 50)
            if not options:
                errors.append(_("The select variable “%(key)s” needs at least one option.") % {"key": key})
                continue
            clean["options"] = options
            default = spec.get("default")
            clean["default"] = default if default in options else ""
        elif kind == "number":
            default = spec.get("default")
            clean["default"] = default if isinstance(default, (int, float)) and not isinstance(default, bool) else ""
        form.append({kind: clean})
    if len(form) > MAX_VARIABLES:
        errors.append(_("An app can have at most %(n)d variables.") % {"n": MAX_VARIABLES})
    return form


def clean_config(app: App, submitted: Any, *, llms: list[dict[str, Any]], stt: bool, tts: bool,
                 ) -> tuple[dict[str, Any], list[str], list[str]]:
    """Check and normalise a posted config: (config, errors, expert problems). Keys this page does
    not edit (datasets, agent tools, moderation…) keep their draft values."""
    errors: list[str] = []
    current = with_defaults(app.draft_config)
    if not isinstance(submitted, dict):
        return current, [_("The configuration could not be read.")], []
    config = dict(current)

    # Model and its parameters.
    model_in = submitted.get("model") if isinstance(submitted.get("model"), dict) else {}
    provider, name = str(model_in.get("provider") or ""), str(model_in.get("name") or "")
    chosen = next((o for o in llms if o["provider"] == provider and o["name"] == name), None)
    if (provider or name) and chosen is None:
        errors.append(_("The model %(model)s is not available in this workspace.") % {"model": name or provider})
    params_in = model_in.get("completion_params") if isinstance(model_in.get("completion_params"), dict) else {}
    defaults = current["model"].get("completion_params") or {}
    params: dict[str, Any] = {}
    fallback = {"temperature": 0.7, "top_p": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0}
    for key, (low, high) in PARAM_RANGES.items():
        params[key] = _number(params_in.get(key, defaults.get(key)), fallback[key], low, high)
    ceiling = (chosen or {}).get("max_tokens") or 32_768
    params["max_tokens"] = int(_number(params_in.get("max_tokens", defaults.get("max_tokens")), 512, 1, ceiling))
    params["stop"] = _strings(params_in.get("stop"), MAX_STOP, 64)
    mode = (chosen or {}).get("mode") or current["model"].get("mode") or "chat"
    config["model"] = {"provider": provider if chosen else current["model"].get("provider", ""),
                       "name": name if chosen else current["model"].get("name", ""),
                       "mode": mode, "completion_params": params}

    # Prompt: basic and expert.
    prompt_type = submitted.get("prompt_type")
    config["prompt_type"] = prompt_type if prompt_type in ("simple", "advanced") else "simple"
    if config["prompt_type"] == "simple" and expert_locked(app):
        errors.append(_("This app was published in expert mode and cannot go back to basic mode."))
        config["prompt_type"] = "advanced"
    config["pre_prompt"] = _text(submitted.get("pre_prompt"))
    chat_in = submitted.get("chat_prompt_config") if isinstance(submitted.get("chat_prompt_config"), dict) else {}
    chat_messages = []
    for message in (chat_in.get("prompt") if isinstance(chat_in.get("prompt"), list) else [])[:MAX_MESSAGES]:
        if isinstance(message, dict) and message.get("role") in ROLES:
            chat_messages.append({"role": message["role"], "text": _text(message.get("text"))})
    config["chat_prompt_config"] = {"prompt": chat_messages} if chat_messages else {}
    completion_in = (submitted.get("completion_prompt_config")
                     if isinstance(submitted.get("completion_prompt_config"), dict) else {})
    prompt_in = completion_in.get("prompt") if isinstance(completion_in.get("prompt"), dict) else {}
    roles_in = (completion_in.get("conversation_histories_role")
                if isinstance(completion_in.get("conversation_histories_role"), dict) else {})
    completion_text = _text(prompt_in.get("text"))
    config["completion_prompt_config"] = {
        "prompt": {"text": completion_text},
        "conversation_histories_role": {
            "user_prefix": _text(roles_in.get("user_prefix"), 40).strip() or "Human",
            "assistant_prefix": _text(roles_in.get("assistant_prefix"), 40).strip() or "Assistant"},
    } if completion_text or config["prompt_type"] == "advanced" and mode == "completion" else {}
    try:
        window = int(submitted.get("memory_window") or prompts.DEFAULT_WINDOW)
    except (TypeError, ValueError):
        window = prompts.DEFAULT_WINDOW
    config["memory_window"] = min(max(window, MEMORY_WINDOW[0]), MEMORY_WINDOW[1])

    # Variables.
    config["user_input_form"] = _clean_variables(submitted.get("user_input_form"), errors)

    # Features.
    def enabled(key: str) -> bool:
        value = submitted.get(key)
        return bool(value.get("enabled")) if isinstance(value, dict) else False

    if app.is_chat:
        config["opening_statement"] = _text(submitted.get("opening_statement"), 10_000)
        config["suggested_questions"] = _strings(submitted.get("suggested_questions"), MAX_QUESTIONS, 300)
        config["suggested_questions_after_answer"] = {"enabled": enabled("suggested_questions_after_answer")}
        config["retriever_resource"] = {"enabled": enabled("retriever_resource")}
        config["speech_to_text"] = {"enabled": stt and enabled("speech_to_text")}
    else:
        config["more_like_this"] = {"enabled": enabled("more_like_this")}
        config["retriever_resource"] = {"enabled": enabled("retriever_resource")}
    tts_in = submitted.get("text_to_speech") if isinstance(submitted.get("text_to_speech"), dict) else {}
    config["text_to_speech"] = {
        **current["text_to_speech"], "enabled": tts and bool(tts_in.get("enabled")),
        "voice": _text(tts_in.get("voice"), 64).strip() if "voice" in tts_in else current["text_to_speech"]["voice"],
        "autoPlay": "enabled" if tts_in.get("autoPlay") == "enabled" else "disabled"}
    image_in = ((submitted.get("file_upload") or {}).get("image") if isinstance(submitted.get("file_upload"), dict)
                else None) or {}
    vision = bool((chosen or {}).get("vision"))
    image = {**current["file_upload"]["image"], "enabled": vision and bool(image_in.get("enabled"))}
    if image["enabled"]:
        image["number_limits"] = int(_number(image_in.get("number_limits"), 3, 1, 10))
        image["detail"] = "low" if image_in.get("detail") == "low" else "high"
    config["file_upload"] = {**current["file_upload"], "image": image}

    # Knowledge as context: the datasets, N-to-1 or multi-path, and a completion app's query variable.
    config["dataset_configs"], config["dataset_query_variable"] = knowledge.clean_dataset_configs(
        submitted, current, [next(iter(e.values())).get("variable", "") for e in config["user_input_form"]], errors)

    if app.mode == App.Mode.AGENT_CHAT:
        config["agent_mode"] = agent_settings.clean_agent_mode(submitted.get("agent_mode"), current, errors)

    problems = translated_problems(config, chat_app=app.is_chat)
    return config, errors, problems


def expert_locked(app: App) -> bool:
    """EX-01: once an expert-mode config is published, the app stays in expert mode."""
    return bool(app.published_id and app.published.config.get("prompt_type") == "advanced")


def _header_templates() -> tuple[str, str] | None:
    try:
        for name in HEADER_TEMPLATES:
            get_template(name)
    except TemplateDoesNotExist:
        return None
    return HEADER_TEMPLATES


def _page(request: HttpRequest, app: App, *, config: dict[str, Any] | None = None, errors: list[str] | None = None,
          problems: list[str] | None = None, status: int = 200) -> HttpResponse:
    draft = with_defaults(app.draft_config)
    config = config if config is not None else draft
    llms = _llm_options(config.get("model") or {})
    stt = bool(selectors.available_models(ModelType.SPEECH2TEXT))
    tts = bool(selectors.available_models(ModelType.TTS))
    return render(request, "applications/orchestrate/orchestrate.html", {
        "app": app,
        "header": _header_templates(),
        "tab": "orchestrate",
        "can_edit": True,
        "can_logs": roles.has_perm(request.membership.role, Perm.APPS_LOGS),
        "editor": {
            "config": config,
            "saved": draft,
            "models": llms,
            "stt": stt,
            "tts": tts,
            "is_chat": app.is_chat,
            "expert_locked": expert_locked(app),
            "knowledge": knowledge.editor_options(request.membership),  # type: ignore[attr-defined]
            "agent_tools": agent_settings.tool_choices() if app.mode == App.Mode.AGENT_CHAT else [],
            "urls": {
                "save": ws_reverse(request, "console:app_orchestrate", app_id=app.pk),
                "validate": ws_reverse(request, "console:app_orchestrate_validate", app_id=app.pk),
                "debug": ws_reverse(request, "console:app_debug_chat", app_id=app.pk),
                "debug_upload": ws_reverse(request, "console:app_debug_upload", app_id=app.pk),
                "debug_stt": ws_reverse(request, "console:app_debug_stt", app_id=app.pk),
                "debug_tts": ws_reverse(request, "console:app_debug_tts", app_id=app.pk,
                                        message_id=URL_PLACEHOLDER),
                "debug_stop": ws_reverse(request, "console:app_debug_stop", app_id=app.pk,
                                         task_id=URL_PLACEHOLDER),
                "debug_suggested": ws_reverse(request, "console:app_debug_suggested", app_id=app.pk,
                                              message_id=URL_PLACEHOLDER),
            },
            "errors": errors or [],
            "problems": problems or [],
        },
        "model_groups": _groups(llms),
        "published_number": app.published.number if app.published_id else None,
        "unpublished": bool(app.published_id) and draft != with_defaults(app.live_config),
        "stt": stt,
        "tts": tts,
    }, status=status)


def _groups(llms: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for option in llms:
        groups.setdefault(option["provider_label"], []).append(option)
    return list(groups.items())


def _posted_config(request: HttpRequest) -> Any:
    raw = request.POST.get("config")
    if raw is None and request.content_type == "application/json":
        try:
            raw = json.loads(request.body or b"{}").get("config")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return None
        return raw
    try:
        return json.loads(raw or "")
    except (json.JSONDecodeError, TypeError):
        return None


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_perm(Perm.APPS_EDIT)
@require_http_methods(["GET", "POST"])
def orchestrate(request: HttpRequest, app_id: Any) -> HttpResponse:
    """GET: the editor. POST `config` (JSON): save the draft; the live version is untouched."""
    app = _app_or_404(app_id)
    if app.mode in (App.Mode.WORKFLOW, App.Mode.ADVANCED_CHAT):  # graphs live on the Workflow page
        return redirect(ws_reverse(request, "console:app_workflow", app_id=app.pk))
    if request.method == "GET":
        # A draft from before PR-06 (an imported app) may lack the multi-path rerank step: say so
        # up front rather than only when saving or publishing.
        problem = knowledge.multi_path_problem(with_defaults(app.draft_config).get("dataset_configs") or {})
        return _page(request, app, errors=[problem] if problem else None)
    config, errors, problems = clean_config(
        app, _posted_config(request), llms=_llm_options(with_defaults(app.draft_config)["model"]),
        stt=bool(selectors.available_models(ModelType.SPEECH2TEXT)),
        tts=bool(selectors.available_models(ModelType.TTS)))
    ok = not errors and not problems
    if ok:
        services.draft_save(app=app, config=config)
    if _wants_json(request):
        return JsonResponse({
            "ok": ok, "errors": errors, "problems": problems,
            "config": with_defaults(app.draft_config) if ok else None,
            "unpublished": bool(app.published_id) and with_defaults(app.draft_config) != with_defaults(app.live_config),
        }, status=200 if ok else 400)
    if not ok:
        if problems:
            errors = [*errors, _("The expert-mode prompt has problems; the draft was not saved.")]
        return _page(request, app, config=config, errors=errors, problems=problems, status=400)
    messages.success(request, _("Draft saved. The published version is unchanged until you publish."))
    return redirect(ws_reverse(request, "console:app_orchestrate", app_id=app.pk))


@require_perm(Perm.APPS_EDIT)
@require_POST
def validate(request: HttpRequest, app_id: Any) -> HttpResponse:
    """Expert-mode problems of an unsaved config, for the editor's inline list."""
    app = _app_or_404(app_id)
    submitted = _posted_config(request)
    if not isinstance(submitted, dict):
        return JsonResponse({"problems": []})
    return JsonResponse({"problems": translated_problems(submitted, chat_app=app.is_chat)})


@require_perm(Perm.APPS_EDIT)
@require_POST
def publish(request: HttpRequest, app_id: Any) -> HttpResponse:
    """Make the saved draft live (a new version); refused while the expert template is invalid."""
    app = _app_or_404(app_id)
    target = ws_reverse(request, "console:app_orchestrate", app_id=app.pk)
    draft = with_defaults(app.draft_config)
    problems = translated_problems(draft, chat_app=app.is_chat)
    if problems:
        messages.error(request, _("Fix the expert-mode prompt before publishing: %(problems)s")
                       % {"problems": " ".join(problems)})
        return redirect(target)
    if not (draft.get("model") or {}).get("name"):
        messages.error(request, _("Choose a model before publishing."))
        return redirect(target)
    problem = knowledge.multi_path_problem(draft.get("dataset_configs") or {})
    if problem:  # a draft imported before PR-06 may lack the multi-path rerank step
        messages.error(request, problem)
        return redirect(target)
    version = services.app_publish(app=app, actor_id=request.user.pk)
    messages.success(request, _("Published v%(number)d. The API and the WebApp now run this version.")
                     % {"number": version.number})
    return redirect(target)


# --- Debug & preview ------------------------------------------------------------------------


def _debug_prepare(tenant: Any, app_id: Any, body: dict[str, Any], account_id: int) -> generation.Prepared:
    app = App.objects.filter(pk=app_id).first()
    if app is None:
        raise Http404
    query = body.get("query", "")
    if not isinstance(query, str):
        raise invalid_param("query must be a string")
    if app.is_chat and not query.strip():
        raise invalid_param(_("Type a message first."))
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise invalid_param("inputs must be an object")
    config = with_defaults(app.draft_config)
    if body.get("more_like_this"):
        config = _more_like_this(app, config)
    images = message_files.parse_files(app, config, body.get("files"))
    prepared = generation.prepare(
        tenant=tenant, app=app, query=query if app.is_chat else "", inputs=inputs, end_user=None,
        source=Source.DEBUGGER, conversation_id=(body.get("conversation_id") or None) if app.is_chat else None,
        account_id=account_id, config=config)
    message_files.add_to_turn(prepared, images, config)
    return prepared


def _more_like_this(app: App, config: dict[str, Any]) -> dict[str, Any]:
    """The draft with a higher temperature: "more like this" asks for another take on the same
    inputs (completion apps with the feature on only)."""
    if app.is_chat or not (config.get("more_like_this") or {}).get("enabled"):
        raise ServiceError("bad_request", _("More like this is not enabled for this app."))
    config = copy.deepcopy(config)
    params = config.setdefault("model", {}).setdefault("completion_params", {})
    params["temperature"] = MORE_LIKE_THIS_TEMPERATURE
    return config


async def _with_prompt_log(prepared: generation.Prepared, run: generation.Generation):  # type: ignore[no-untyped-def]
    """The debugger's stream: first the prompt log (console only), then the generation's events."""
    first = {"event": "prompt_log", "message_id": prepared.message_id, "task_id": prepared.task_id,
             "prompt_log": prompts.as_log(prepared.messages)}
    yield b"data: " + json.dumps(first, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
    async for chunk in run.sse():
        yield chunk


async def debug_chat(request: HttpRequest, app_id: Any) -> HttpResponse:
    """POST {query, inputs, conversation_id}: one debug turn on the draft config, as SSE.

    An async view: the middleware has set request.tenant and request.membership, but the schema
    is not active here, so every ORM call goes through run_in_tenant."""
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    membership = getattr(request, "membership", None)
    if membership is None or not roles.has_perm(membership.role, Perm.APPS_EDIT):
        raise PermissionDenied
    # The app first: another workspace's (or a deleted) app is a 404 whatever the body says.
    if not await run_in_tenant(request.tenant, App.objects.filter(pk=app_id).exists):
        raise Http404
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return error_response(invalid_param("Invalid JSON payload received or JSON payload is empty."))
    try:
        prepared = await run_in_tenant(request.tenant, _debug_prepare, request.tenant, app_id, body,
                                       membership.user_id)
    except (ServiceError, RuntimeModelError) as exc:
        return error_response(exc)
    run = generation.Generation(prepared).start()
    response = StreamingHttpResponse(_with_prompt_log(prepared, run), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


debug_chat.required_perm = Perm.APPS_EDIT  # type: ignore[attr-defined]


def _own_debug_message(request: HttpRequest, app: App, **lookup: Any) -> Message:
    """A debug message of this app run by the signed-in member; anything else is a 404 (another
    member's runs, the app's WebApp/API messages, another workspace's ids)."""
    message = (Message.objects.select_related("conversation")
               .filter(app=app, from_source=Source.DEBUGGER, from_account_id=request.user.pk, **lookup).first())
    if message is None:
        raise Http404
    return message


@require_perm(Perm.APPS_EDIT)
@require_POST
def debug_stop(request: HttpRequest, app_id: Any, task_id: Any) -> HttpResponse:
    """Stop the member's running debug turn through the same stop mechanism as the Service API
    (generation.request_stop): the task stores what it generated and ends its stream with
    message_end, so the panel keeps the partial answer."""
    app = _app_or_404(app_id)
    _own_debug_message(request, app, task_id=task_id)
    generation.request_stop(str(task_id), None)  # debug runs have no end user
    return JsonResponse({"result": "success"})


@require_perm(Perm.APPS_EDIT)
@require_POST
def debug_upload(request: HttpRequest, app_id: Any) -> HttpResponse:
    """An image for the next debug turn, when the draft has image upload on (vision models only);
    the same checks and storage as /v1/files/upload."""
    app = _app_or_404(app_id)
    if not with_defaults(app.draft_config)["file_upload"]["image"].get("enabled"):
        return error_response(ServiceError("bad_request", _("Image upload is not enabled for this app.")))
    try:
        file = single_upload(request, missing=ServiceError("no_file_uploaded", _("Choose an image first.")))
        message_files.check_image(file)
    except ServiceError as exc:
        return error_response(exc)
    row = message_files.store_upload(app, request.tenant.schema_name, file)
    return JsonResponse({"id": str(row.pk), "name": row.name}, status=201)


@require_perm(Perm.APPS_EDIT)
def debug_suggested(request: HttpRequest, app_id: Any, message_id: Any) -> HttpResponse:
    """Follow-up suggestions after a debug answer, when the draft has them on (as /v1 …/suggested).
    Ids are checked before the method, so a foreign id is a 404 whatever the method."""
    app = _app_or_404(app_id)
    message = _own_debug_message(request, app, pk=message_id)
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    if not app.is_chat or not with_defaults(app.draft_config)["suggested_questions_after_answer"].get("enabled"):
        return error_response(ServiceError("bad_request", _("Follow-up suggestions are not enabled.")))
    history = logs.conversation_history(conversation=message.conversation, until=message)
    return JsonResponse({"result": "success", "data": assist.suggested_questions(history)},
                        json_dumps_params={"ensure_ascii": False})


@require_perm(Perm.APPS_EDIT)
@require_POST
def debug_stt(request: HttpRequest, app_id: Any) -> HttpResponse:
    """The debug panel's microphone: recorded audio → the question's text (PR-12), when the draft
    has speech to text on; the same checks and model as /v1/audio-to-text."""
    app = _app_or_404(app_id)
    if not app.is_chat or not with_defaults(app.draft_config)["speech_to_text"].get("enabled"):
        return error_response(ServiceError("bad_request", _("Speech to text is not enabled for this app.")))
    try:
        text = transcribe_upload(request)
    except (ServiceError, RuntimeModelError) as exc:
        return error_response(exc)
    return JsonResponse({"text": text}, json_dumps_params={"ensure_ascii": False})


@require_perm(Perm.APPS_EDIT)
@require_POST
def debug_tts(request: HttpRequest, app_id: Any, message_id: Any) -> HttpResponse:
    """A debug answer read aloud (audio/mpeg) when the draft has text to speech on."""
    app = _app_or_404(app_id)
    message = _own_debug_message(request, app, pk=message_id)
    tts = with_defaults(app.draft_config)["text_to_speech"]
    if not tts.get("enabled"):
        return error_response(ServiceError("bad_request", _("Text to speech is not enabled for this app.")))
    try:
        return speak(message.answer, None, tts)
    except (ServiceError, RuntimeModelError) as exc:
        return error_response(exc)
