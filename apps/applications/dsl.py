"""App DSL: export an app as Dify-compatible YAML and import such files (../shared/spec/dsl.md §1, §4, §5).

Chat, completion and agent-chat apps carry a `model_config` section; workflow and advanced-chat
apps a `workflow` section, which apps.workflows.dsl normalises and exports. The import follows Dify's rules: the version
decides between `completed`, `completed-with-warnings`, `pending` (the caller must confirm) and
`failed`, unknown keys are tolerated, and legacy shapes from old exports are normalised.
"""

import copy
import dataclasses
import re
import uuid
from enum import StrEnum
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from apps.applications import services
from apps.applications.config import DEFAULT_CONFIG, FORM_TYPES, with_defaults
from apps.applications.models import App
from apps.providers.catalog import PROVIDERS, provider_id_of
from apps.providers.models import ProviderCredential

CURRENT_DSL_VERSION = "0.5.0"
MAX_DSL_BYTES = 10 * 1024 * 1024
WORKFLOW_MODES = (App.Mode.WORKFLOW, App.Mode.ADVANCED_CHAT)
DEPENDENCY_TYPES = ("github", "marketplace", "package")
# Dify ≥ 1.0 names providers by plugin id; the plugins' organisation for our catalog's providers.
PLUGIN_ORG = "langgenius"
_VERSION_RE = re.compile(r"^\d+(\.\d+){0,2}$")


class ImportStatus(StrEnum):
    COMPLETED = "completed"
    COMPLETED_WITH_WARNINGS = "completed-with-warnings"
    PENDING = "pending"
    FAILED = "failed"


@dataclasses.dataclass
class ImportResult:
    """What an import did: the app (None unless it completed), the status and what to tell the user."""

    status: ImportStatus
    app: App | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    error: str = ""
    imported_dsl_version: str = ""
    current_dsl_version: str = CURRENT_DSL_VERSION
    dependencies: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in (ImportStatus.COMPLETED, ImportStatus.COMPLETED_WITH_WARNINGS)


class _Refused(Exception):
    """Stops an import with a message for the user."""


# --- Export -----------------------------------------------------------------------------------


def export_app(app: App, *, include_secrets: bool = False) -> str:
    """The app as DSL YAML: its complete draft configuration and the plugins it depends on."""
    if app.mode in WORKFLOW_MODES:
        return _export_workflow_app(app, include_secrets=include_secrets)
    config = with_defaults(app.draft_config)
    if not include_secrets:
        # Like Dify's tool nodes, agent tools lose the workspace's credential reference.
        for tool in config["agent_mode"].get("tools") or []:
            if isinstance(tool, dict):
                tool.pop("credential_id", None)
    data = {
        "app": {
            "name": app.name,
            "mode": app.mode,
            "icon": app.icon,
            "icon_background": app.icon_background,
            "description": app.description,
            "use_icon_as_answer_icon": False,
        },
        "kind": "app",
        "version": CURRENT_DSL_VERSION,
        "model_config": config,
        "dependencies": config_dependencies(config),
    }
    # Dify dumps with sorted keys and real unicode; files stay diffable against its exports.
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=True)


def _app_header(app: App) -> dict[str, Any]:
    return {"name": app.name, "mode": app.mode, "icon": app.icon, "icon_background": app.icon_background,
            "description": app.description, "use_icon_as_answer_icon": False}


def _export_workflow_app(app: App, *, include_secrets: bool) -> str:
    """A workflow or chatflow app: its draft workflow as the `workflow` section (dsl.md §2)."""
    from apps.workflows import dsl as workflow_dsl
    from apps.workflows.selectors import draft

    workflow = draft(app)
    section = workflow_dsl.export_section(workflow, include_secrets=include_secrets) if workflow else {
        "graph": {"nodes": [], "edges": []}, "features": {}, "environment_variables": [],
        "conversation_variables": [], "rag_pipeline_variables": []}
    data = {"app": _app_header(app), "kind": "app", "version": CURRENT_DSL_VERSION, "workflow": section,
            "dependencies": workflow_dsl.graph_dependencies(section["graph"])}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=True)


def plugin_id(provider: str) -> str:
    """`openai` → `langgenius/openai`; plugin-style ids (`org/name/name`) → `org/name`."""
    parts = provider.split("/")
    return "/".join(parts[:2]) if len(parts) >= 2 else f"{PLUGIN_ORG}/{provider}"


def config_dependencies(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Marketplace dependencies (§1.2) of a model_config: model providers and builtin tool providers.

    Tessera has no plugin registry, so identifiers carry no version or checksum; Dify reports
    them as missing plugins, which never blocks an import.
    """
    providers: list[str] = []
    model_provider = (config.get("model") or {}).get("provider")
    if model_provider and model_provider != "local":
        providers.append(model_provider)
    reranking = (config.get("dataset_configs") or {}).get("reranking_model") or {}
    if reranking.get("reranking_provider_name"):
        providers.append(reranking["reranking_provider_name"])
    for tool in (config.get("agent_mode") or {}).get("tools") or []:
        builtin = isinstance(tool, dict) and tool.get("provider_type") in ("builtin", "plugin")
        if builtin and tool.get("provider_id"):
            providers.append(tool["provider_id"])
    seen: dict[str, None] = dict.fromkeys(plugin_id(p) for p in providers)
    return [{"type": "marketplace",
             "value": {"marketplace_plugin_unique_identifier": plugin, "version": None},
             "current_identifier": None} for plugin in seen]


# --- Import -----------------------------------------------------------------------------------


def import_app(text: str | bytes, *, actor_id: int | None = None, name: str | None = None,
               app: App | None = None, description: str | None = None, icon: str | None = None,
               icon_background: str | None = None,
               confirm: bool = False) -> ImportResult:
    """Create an app from DSL text (or replace the draft of `app`), in the current workspace schema.

    Files from a newer DSL version, or an older major one, come back `pending` without an app:
    call again with `confirm=True` once the user agreed (Dify's confirm step).
    """
    result = ImportResult(status=ImportStatus.FAILED)
    try:
        data = _load(text)
        app_data, mode = _app_section(data)
        result.imported_dsl_version = version = _version(data)
        result.status = _version_status(version)
        if result.status == ImportStatus.FAILED:
            raise _Refused(_("Invalid DSL version: %(version)s") % {"version": version})
        result.dependencies = _dependencies(data)
        if result.status == ImportStatus.PENDING and not confirm:
            result.warnings.append(_version_warning(version))
            return result
        if result.status != ImportStatus.COMPLETED:
            result.warnings.append(_version_warning(version))
            result.status = ImportStatus.COMPLETED_WITH_WARNINGS
        if mode in WORKFLOW_MODES:
            return _import_workflow_app(data, app_data, mode, result, app=app, actor_id=actor_id, name=name,
                                        description=description, icon=icon, icon_background=icon_background)
        raw_config = data.get("model_config")
        if not isinstance(raw_config, dict):
            raise _Refused(_("Missing model_config in YAML content: a %(mode)s app needs one.")
                           % {"mode": mode})
        config, notes = normalise_config(raw_config, mode=mode)
        notes += _provider_notes(config) + _context_notes(config)
        icon_value, icon_notes = _icon(app_data)
        fields = {
            "name": (name or str(app_data.get("name") or "")).strip(),
            "description": description if description is not None else str(app_data.get("description") or ""),
            "icon": icon or icon_value,
            "icon_background": icon_background or str(app_data.get("icon_background") or "#FFEAD5"),
        }
        result.app = _save(app, mode, fields, config, actor_id)
        result.warnings += icon_notes + notes
    except _Refused as exc:
        result.status, result.app, result.error = ImportStatus.FAILED, None, str(exc)
    except ValidationError as exc:
        result.status, result.app, result.error = ImportStatus.FAILED, None, " ".join(exc.messages)
    # The status speaks of the version only (Dify's contract); other notes ride along as warnings.
    return result


def _import_workflow_app(data: dict[str, Any], app_data: dict[str, Any], mode: str, result: ImportResult, *,
                         app: App | None, actor_id: int | None, name: str | None, description: str | None,
                         icon: str | None, icon_background: str | None) -> ImportResult:
    """The workflow section becomes the app's draft; nothing is published (as in Dify)."""
    from apps.workflows import dsl as workflow_dsl
    from apps.workflows import services as workflow_services

    try:
        section, notes = workflow_dsl.normalise(data.get("workflow"), mode=mode)
    except workflow_dsl.WorkflowImportError as exc:
        raise _Refused(str(exc)) from None
    icon_value, icon_notes = _icon(app_data)
    fields = {
        "name": (name or str(app_data.get("name") or "")).strip(),
        "description": description if description is not None else str(app_data.get("description") or ""),
        "icon": icon or icon_value,
        "icon_background": icon_background or str(app_data.get("icon_background") or "#FFEAD5"),
    }
    with transaction.atomic():
        if app is None:
            result.app = workflow_services.workflow_app_create(mode=mode, actor_id=actor_id, **fields, **section)
        else:
            if app.mode != mode:
                raise _Refused(_("This file holds a %(file_mode)s app; "
                                 "it cannot replace the draft of a %(mode)s app.")
                               % {"file_mode": mode, "mode": app.mode})
            if not fields["name"]:
                fields["name"] = app.name
            services.app_update(app=app, **fields)
            workflow_services.draft_sync(app=app, actor_id=actor_id, **section)
            result.app = app
    result.warnings += icon_notes + notes
    return result


@transaction.atomic
def _save(app: App | None, mode: str, fields: dict[str, str], config: dict[str, Any],
          actor_id: int | None) -> App:
    if app is None:
        return services.app_create(mode=mode, actor_id=actor_id, config=config, **fields)
    if app.mode != mode:
        raise _Refused(_("This file holds a %(file_mode)s app; "
                         "it cannot replace the draft of a %(mode)s app.")
                       % {"file_mode": mode, "mode": app.mode})
    if not fields["name"]:
        fields["name"] = app.name
    services.app_update(app=app, **fields)
    if mode == App.Mode.AGENT_CHAT:
        config = {**config, "agent_mode": {**config.get("agent_mode", {}), "enabled": True}}
    return services.draft_save(app=app, config=config)


def _load(text: str | bytes) -> dict[str, Any]:
    if isinstance(text, bytes):
        if len(text) > MAX_DSL_BYTES:
            raise _Refused(_("The file is larger than 10 MB."))
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused(_("The file is not UTF-8 text.")) from None
    elif len(text.encode()) > MAX_DSL_BYTES:
        raise _Refused(_("The file is larger than 10 MB."))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = _(" (line %(line)d)") % {"line": where.line + 1} if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        message = _("Invalid YAML format: %(problem)s%(line)s") % {"problem": problem, "line": line}
        raise _Refused(message) from None
    if not isinstance(data, dict):
        raise _Refused(_("Invalid YAML format: content must be a mapping"))
    return data


def _app_section(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    app_data = data.get("app")
    if not isinstance(app_data, dict):
        raise _Refused(_("Missing app data in YAML content"))
    mode = app_data.get("mode")
    if not mode:
        raise _Refused(_("Missing app mode in YAML content"))
    if mode not in services.SUPPORTED_MODES and mode not in WORKFLOW_MODES:
        raise _Refused(_("Invalid app mode: %(mode)s") % {"mode": mode})
    # `kind` is not checked: like Dify, anything else (or nothing) counts as "app".
    return app_data, str(mode)


def _version(data: dict[str, Any]) -> str:
    version = data.get("version", "0.1.0")
    if not isinstance(version, str):
        # A YAML float (version: 0.1) is refused, as Dify does.
        raise _Refused(_("Invalid version type, expected str, got %(type)s")
                       % {"type": type(version).__name__})
    return version


def _parse_version(value: str) -> tuple[int, int, int] | None:
    if not _VERSION_RE.match(value.strip()):
        return None
    parts = [int(p) for p in value.strip().split(".")] + [0, 0]
    return parts[0], parts[1], parts[2]


def _version_status(imported: str) -> ImportStatus:
    """Dify's _check_version_compatibility."""
    current, theirs = _parse_version(CURRENT_DSL_VERSION), _parse_version(imported)
    assert current is not None
    if theirs is None:
        return ImportStatus.FAILED
    if theirs > current or theirs[0] < current[0]:
        return ImportStatus.PENDING
    if theirs[1] < current[1]:
        return ImportStatus.COMPLETED_WITH_WARNINGS
    return ImportStatus.COMPLETED


def _version_warning(imported: str) -> str:
    params = {"imported": imported, "current": CURRENT_DSL_VERSION}
    theirs, current = _parse_version(imported), _parse_version(CURRENT_DSL_VERSION)
    if theirs is not None and current is not None and theirs > current:
        return _("The file's DSL version %(imported)s is newer than this Tessera's (%(current)s); "
                 "parts of it may be ignored.") % params
    return _("The file's DSL version %(imported)s is older than the current one (%(current)s); "
             "check the app before publishing it.") % params


def _dependencies(data: dict[str, Any]) -> list[dict[str, Any]]:
    """`dependencies` validated as Dify's PluginDependency list; derived from model_config when absent."""
    deps = data.get("dependencies")
    if deps is None and isinstance(data.get("workflow"), dict):
        from apps.workflows.dsl import graph_dependencies

        return graph_dependencies(data["workflow"].get("graph") or {})
    if deps is None:
        config = data.get("model_config")
        return config_dependencies(config) if isinstance(config, dict) else []
    if not isinstance(deps, list):
        raise _Refused(_("Invalid dependencies: expected a list."))
    for dep in deps:
        if not isinstance(dep, dict) or dep.get("type") not in DEPENDENCY_TYPES or not isinstance(
                dep.get("value"), dict):
            raise _Refused(_("Invalid dependency: each needs a type (github, marketplace or package) "
                             "and a value."))
    return deps


def _icon(app_data: dict[str, Any]) -> tuple[str, list[str]]:
    """Only emoji icons travel: uploaded images and links belong to the exporting instance."""
    icon = str(app_data.get("icon") or "🤖")
    if app_data.get("icon_type") in ("image", "link") or len(icon) > 16:
        return "🤖", [_("The app's image icon was not imported; it uses 🤖 instead.")]
    return icon, []


def _provider_notes(config: dict[str, Any]) -> list[str]:
    """Like Dify's check-dependencies: a missing provider is reported, it never blocks the import."""
    provider = config["model"].get("provider") or ""
    if not provider:
        return []
    spec = PROVIDERS.get(provider)
    if spec is None:
        return [_("The model provider %(provider)s is not available in Tessera; choose another model.")
                % {"provider": provider}]
    if spec.needs_credentials and not ProviderCredential.objects.filter(provider=provider).exists():
        return [_("%(provider)s is not set up in this workspace yet; add it under Model providers.")
                % {"provider": spec.label}]
    return []


def _context_notes(config: dict[str, Any]) -> list[str]:
    """Apps exported before multi-path needed a rerank step (PR-06/KN-19) still import: the config
    is kept as it was and the missing or unusable step is reported. Its turns merge the hits by
    score until the step is chosen, and saving the draft in Orchestrate asks for one."""
    from apps.datasets import context

    problem = context.multi_path_problem(config.get("dataset_configs") or {})
    return [problem] if problem else []


# --- model_config normalisation (§4, §5) ------------------------------------------------------

_FORM_ALIASES = {"text": "text-input", "string": "text-input", "textarea": "paragraph",
                 "select-input": "select"}
_STRATEGIES = {"function_call": "function_call", "react": "react", "cot": "react",
               "router": "function_call", "react_router": "react"}


def normalise_config(raw: dict[str, Any], *, mode: str) -> tuple[dict[str, Any], list[str]]:
    """A complete draft config from an imported model_config, and notes on what had to change.

    Keys Tessera does not know are dropped (Dify keeps only its columns); an already complete
    config comes back unchanged, so export → import round-trips.
    """
    notes: list[str] = []
    config = {key: copy.deepcopy(value) for key, value in raw.items() if key in DEFAULT_CONFIG}
    for key, default in DEFAULT_CONFIG.items():
        if key in config and config[key] is None:
            config[key] = copy.deepcopy(default)
        elif key in config and isinstance(default, (dict, list)) and type(config[key]) is not type(default):
            notes.append(_("%(key)s had an unexpected shape and was reset.") % {"key": key})
            config[key] = copy.deepcopy(default)
    model = config.get("model")
    if isinstance(model, dict) and isinstance(model.get("provider"), str):
        model["provider"] = provider_id_of(model["provider"])
    config["user_input_form"] = _form(config.get("user_input_form", []), notes)
    agent, moved = _agent_mode(config.get("agent_mode"), mode, notes)
    if "agent_mode" in config or mode == App.Mode.AGENT_CHAT:
        config["agent_mode"] = agent
    if "dataset_configs" in config or moved:
        config["dataset_configs"] = _dataset_configs(config.get("dataset_configs") or {}, moved, notes)
    return with_defaults(config), notes


def _form(entries: list[Any], notes: list[str]) -> list[dict[str, Any]]:
    form = []
    for entry in entries:
        if isinstance(entry, dict) and "type" in entry and "variable" in entry:
            # The flat shape of /parameters and workflow start nodes: {type, variable, label, …}.
            entry = {entry["type"]: {k: v for k, v in entry.items() if k != "type"}}
        if not isinstance(entry, dict) or len(entry) != 1:
            notes.append(_("An input form entry that is not a single-key mapping was removed."))
            continue
        kind, spec = next(iter(entry.items()))
        kind = _FORM_ALIASES.get(kind, kind)
        if not isinstance(spec, dict) or not spec.get("variable"):
            notes.append(_("An input form entry without a variable name was removed."))
            continue
        if kind not in FORM_TYPES:
            notes.append(_("The input %(variable)s has the unsupported type %(type)s and was removed.")
                         % {"variable": spec["variable"], "type": kind})
            continue
        spec.setdefault("label", spec["variable"])
        spec.setdefault("required", False)
        if kind == "select" and not isinstance(spec.get("options"), list):
            spec["options"] = []
        form.append({kind: spec})
    return form


def _agent_mode(raw: Any, mode: str, notes: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """agent_mode with a known strategy and Dify's default max_iteration; legacy dataset tools apart."""
    agent = dict(raw) if isinstance(raw, dict) else {}
    strategy = agent.get("strategy")
    if strategy is not None and strategy not in ("function_call", "react"):
        agent["strategy"] = _STRATEGIES.get(strategy, "function_call")
        if agent.get("enabled") or mode == App.Mode.AGENT_CHAT:
            notes.append(_("The agent strategy %(old)s is now %(new)s.")
                         % {"old": strategy, "new": agent["strategy"]})
    agent.setdefault("max_iteration", 10)  # Dify's default when the file has none
    tools, datasets = [], []
    for tool in agent.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if len(tool) == 1 and "dataset" in tool:  # legacy: knowledge attached as an agent "tool"
            datasets.append(tool)
        elif len(tool) == 1:
            notes.append(_("The legacy agent tool %(tool)s is no longer supported and was removed.")
                         % {"tool": next(iter(tool))})
        else:
            tool.setdefault("tool_parameters", {})
            tools.append(tool)
    agent["tools"] = tools
    return agent, datasets


def _dataset_configs(raw: dict[str, Any], moved: list[dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    configs = dict(raw)
    if configs.get("retrieval_model") not in ("single", "multiple"):
        configs["retrieval_model"] = "multiple"
    datasets = configs.get("datasets")
    if isinstance(datasets, list):  # some files list the entries directly
        datasets = {"datasets": datasets}
    datasets = dict(datasets) if isinstance(datasets, dict) else {}
    entries = [e for e in (datasets.get("datasets") or []) if isinstance(e, dict)] + moved
    kept = []
    for entry in entries:
        dataset_id = str((entry.get("dataset") or {}).get("id") or "")
        try:
            uuid.UUID(dataset_id)
        except ValueError:
            # Encrypted with the exporting tenant's key (DSL_EXPORT_ENCRYPT_DATASET_ID): unusable here.
            notes.append(_("A knowledge base reference that cannot be read in this workspace was removed."))
            continue
        kept.append(entry)
    datasets["datasets"] = kept
    configs["datasets"] = datasets
    return configs
