"""Knowledge as an app's context (PR-04, KN-17..19): the datasets attached to a chat or completion
app are searched for each turn, the hits fill the prompt's context, and the turn's
`retriever_resources` (service-api.md §3.5) cite them.

The app's `dataset_configs` (dsl.md §4) choose the mode:
- `single` (N-to-1, KN-18): the app's model picks ONE dataset from the datasets' descriptions,
  each offered as a tool named after the dataset (function calling; models without it get the same
  choice as a plain prompt); that dataset is searched with its own retrieval settings;
- `multiple` (multi-path, KN-19, PR-06): every dataset is searched, the candidates are merged and
  then reranked by the configured rerank step, a rerank model or the weighted score of hybrid
  search, and cut to `top_k`. Saving or publishing a multi-path config without a usable step is
  refused (multi_path_problem); a config from before that rule (an imported app) still answers,
  ordering the merged hits by their scores, which mean the same thing in every mode.

`for_turn` is sync: generation.prepare() calls it in its one thread hop, and only for apps that have
datasets (`has_datasets` reads the config dict only, so other apps pay no query at all).
"""

import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync

from apps.core.errors import ServiceError
from apps.datasets import retrieval
from apps.datasets.models import Dataset
from apps.providers.runtime.entities import PromptMessage, ToolDefinition, Usage

ROUTER_PROMPT = (
    "You route a question to the one knowledge base that can answer it. Call the tool of the "
    "best-matching knowledge base, judging by its description. Call no tool if none fits."
)
TEXT_ROUTER_PROMPT = (
    "You route a question to the one knowledge base that can answer it. The knowledge bases "
    "are listed as `id: description`. Reply with the id of the best match only, or `none`."
)
RETRIEVER_FROM = {"api": "api", "webapp": "web_app", "debugger": "dev"}
TOOL_PREFIX = "dataset_"


@dataclasses.dataclass
class TurnContext:
    text: str = ""
    resources: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    usage: Usage | None = None  # the N-to-1 routing call's; the turn adds it to its own (usage_with)
    hits: list[retrieval.Hit] = dataclasses.field(default_factory=list)  # best first; `text` joins them
    cite: Callable[[list[retrieval.Hit]], list[dict[str, Any]]] | None = None  # resources of some hits

    def keep(self, count: int) -> "TurnContext":
        """The context with only its `count` best hits (text and citations follow)."""
        hits = self.hits[:count]
        return dataclasses.replace(self, hits=hits, text=context_text(hits),
                                   resources=self.cite(hits) if self.cite and hits else [])


def fit_to_window(context: TurnContext, model: Any, completion_tokens: int,
                  build: Callable[[str], list[Any]]) -> tuple[TurnContext, list[Any]]:
    """KN-11: top_k shrinks to what the model's context window holds. `build` makes the turn's
    prompt messages around a context text; while they and the completion's max_tokens exceed the
    model's context length, the least relevant segment is dropped (its citation with it). Returns
    the context kept and the messages built with it."""
    messages = build(context.text)
    window = int(getattr(model.resolved.spec, "context_length", 0) or 0)
    if not window or not context.hits:
        return context, messages
    count = len(context.hits)
    while count and model.count_tokens(messages)[0] + completion_tokens > window:
        count -= 1
        messages = build(context_text(context.hits[:count]))
    return (context if count == len(context.hits) else context.keep(count)), messages


@dataclasses.dataclass
class Routed:
    """N-to-1's outcome: the dataset the model picked (None: none fits) and what asking it cost
    (None when there was nothing to ask: a single dataset)."""

    dataset: Dataset | None
    usage: Usage | None = None


def usage_with(usage: Usage | None, extra: Usage | None) -> Usage | None:
    """A turn's usage with another model call of the same turn added (the N-to-1 routing call):
    tokens and prices are summed, so message_end and the stored message account for both; unit
    prices and timings stay the answer's."""
    if extra is None:
        return usage
    if usage is None:
        return extra.model_copy()
    return usage.plus(extra)


# --- The config ----------------------------------------------------------------------------------------


def dataset_ids(config: dict[str, Any]) -> list[str]:
    """The enabled dataset ids of a config's dataset_configs, in order, without duplicates."""
    entries = ((config.get("dataset_configs") or {}).get("datasets") or {}).get("datasets") or []
    ids: list[str] = []
    for entry in entries:
        dataset = entry.get("dataset") if isinstance(entry, dict) else None
        if isinstance(dataset, dict) and dataset.get("enabled", True) and dataset.get("id"):
            if str(dataset["id"]) not in ids:
                ids.append(str(dataset["id"]))
    return ids


def has_datasets(config: dict[str, Any]) -> bool:
    return bool(dataset_ids(config))


def config_for(
    dataset_ids_: list[str],
    *,
    mode: str,
    top_k: Any = 4,
    score_threshold: Any = None,
    reranking_model: dict[str, str] | None = None,
    reranking_mode: str | None = None,
    weights: dict[str, Any] | None = None,
    current: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """dataset_configs in the DSL's shape (dsl.md §4), from the orchestrate page's choices. The rerank
    step of multi-path is a rerank model (when one is given) or, when asked for, the weighted score
    of vector and full-text (hybrid search, KN-13)."""
    configs = dict(current or {})
    try:
        top_k = min(max(int(top_k), 1), retrieval.TOP_K_MAX)
    except (TypeError, ValueError):
        top_k = 4
    threshold = None
    if score_threshold not in (None, ""):
        try:
            threshold = min(max(float(score_threshold), 0.0), 1.0)
        except (TypeError, ValueError):
            threshold = None
    rerank = reranking_model or {}
    if reranking_mode != "weighted_score":
        reranking_mode = "reranking_model" if rerank.get("reranking_model_name") else None
    configs.update(
        {
            "retrieval_model": "single" if mode == "single" else "multiple",
            "top_k": top_k,
            "score_threshold_enabled": threshold is not None,
            "score_threshold": threshold,
            "reranking_enabled": reranking_mode is not None,
            "reranking_mode": reranking_mode,
            "reranking_model": {
                "reranking_provider_name": str(rerank.get("reranking_provider_name") or ""),
                "reranking_model_name": str(rerank.get("reranking_model_name") or ""),
            },
            "weights": weights if reranking_mode == "weighted_score" else None,
            "datasets": {
                "strategy": "router",
                "datasets": [{"dataset": {"enabled": True, "id": i}} for i in dataset_ids_],
            },
        }
    )
    return configs


def check_rerank_step(configs: dict[str, Any]) -> dict[str, Any]:
    """The multi-path rerank step of an app's dataset_configs or a workflow node's
    multiple_retrieval_config (dsl.md §3.5, §4), checked as the Knowledge settings are (KN-13/14):
    `reranking_mode` is "reranking_model" (a rerank model this workspace can call), "weighted_score"
    (weights adding up to 1) or absent; `reranking_enable(d)` without a model is refused. Returns
    the RetrievalModel a turn searches with; raises invalid_param (ServiceError) otherwise."""
    settings = multi_path_settings(configs)
    retrieval.validate_retrieval_model(settings)
    return settings


def multi_path_problem(configs: dict[str, Any]) -> str | None:
    """Why an app's dataset_configs cannot be saved (PR-06/KN-19), translated, or None: multi-path
    over attached knowledge bases merges their hits and needs a rerank step to order them, a rerank
    model this workspace can call or the weighted score with valid weights (the KN-13 check,
    check_rerank_step). N-to-1 searches one dataset with its own settings and needs none."""
    from django.utils.translation import gettext as _

    if configs.get("retrieval_model") == "single" or not dataset_ids({"dataset_configs": configs}):
        return None
    settings = multi_path_settings(configs)
    model = settings["reranking_enable"] and (settings["reranking_model"] or {}).get("reranking_model_name")
    if not model and settings.get("reranking_mode") is None:  # an old file's bare flag is no step either
        return _("Multi-path retrieval needs a rerank step: choose a rerank model or the weighted score "
                 "under Context → Rerank step, or switch to N-to-1.")
    try:
        check_rerank_step(configs)
    except ServiceError as exc:
        return _("The multi-path rerank step cannot be used: %(reason)s") % {"reason": exc.message}
    return None


def multi_path_settings(configs: dict[str, Any]) -> dict[str, Any]:
    """The RetrievalModel a multi-path turn searches every dataset with: semantic search, reranked
    by the rerank model when one is enabled, or hybrid search with the weighted score when that is
    the chosen rerank step. Unchecked here (see check_rerank_step); retrieve() normalises it."""
    rerank = configs.get("reranking_model") or {}
    # As in the reference: the rerank step runs when reranking is enabled, and the mode picks which
    # (a rerank model unless "weighted_score"); a mode without the flag is a leftover, not a step.
    enabled = bool(configs.get("reranking_enabled", configs.get("reranking_enable")))
    mode = (configs.get("reranking_mode") or "reranking_model") if enabled else None
    use_rerank = mode == "reranking_model"
    threshold = configs.get("score_threshold")
    try:
        top_k = min(max(int(configs.get("top_k") or 4), 1), retrieval.TOP_K_MAX)
    except (TypeError, ValueError):
        top_k = 4
    settings: dict[str, Any] = {
        "search_method": "semantic_search",
        "top_k": top_k,
        "score_threshold_enabled": bool(configs.get("score_threshold_enabled")) and threshold is not None,
        "score_threshold": threshold,
        "reranking_enable": use_rerank,
        "reranking_model": rerank if use_rerank else None,
    }
    if mode == "weighted_score":
        settings.update(search_method="hybrid_search", reranking_mode="weighted_score",
                        weights=configs.get("weights"))
    elif mode not in (None, "reranking_model"):
        settings["reranking_mode"] = mode  # refused by the RetrievalModel check
    return settings


# --- Which apps use a dataset ----------------------------------------------------------------------------


def _app_dataset_ids(app: Any) -> set[str]:
    ids = set(dataset_ids(app.draft_config or {}))
    if app.published_id:
        ids |= set(dataset_ids(app.published.config or {}))
    return ids


def _config_dataset_ids_by_app() -> dict[Any, set[str]]:
    from apps.applications.models import App

    return {app.pk: _app_dataset_ids(app)
            for app in App.objects.select_related("published").only("draft_config", "published__config")}


def app_counts() -> dict[str, int]:
    """Dataset id → how many apps use it: chat/completion apps' configs (draft or published) and
    workflow apps' Knowledge Retrieval nodes (draft or newest published graph)."""
    from apps.workflows.selectors import knowledge_dataset_ids_by_app

    by_app = _config_dataset_ids_by_app()
    for app_id, ids in knowledge_dataset_ids_by_app().items():
        by_app[app_id] = by_app.get(app_id, set()) | ids
    counts: dict[str, int] = {}
    for ids in by_app.values():
        for dataset_id in ids:
            counts[dataset_id] = counts.get(dataset_id, 0) + 1
    return counts


def apps_using(dataset_id: Any) -> list[Any]:
    """Apps that would break if the dataset went (service-api.md §5.1 dataset_in_use): a chat or
    completion app attaching it in its draft or published config, or a workflow app whose draft or
    newest published graph searches it in a Knowledge Retrieval node."""
    from django.db.models import Q

    from apps.applications.models import App
    from apps.workflows.selectors import app_ids_with_knowledge

    needle = [{"dataset": {"id": str(dataset_id)}}]
    return list(
        App.objects.filter(
            Q(draft_config__dataset_configs__datasets__datasets__contains=needle)
            | Q(published__config__dataset_configs__datasets__datasets__contains=needle)
            | Q(pk__in=app_ids_with_knowledge(dataset_id))
        ).order_by("name")
    )


# --- One turn -----------------------------------------------------------------------------------------


def turn_query(config: dict[str, Any], query: str, inputs: dict[str, Any]) -> str:
    """What is searched: the chat query, or the completion app's dataset_query_variable input."""
    if not query:
        variable = config.get("dataset_query_variable") or ""
        query = str(inputs.get(variable) or "") if variable else ""
    return query.strip()[: retrieval.MAX_QUERY_CHARS]


def route(datasets: list[Dataset], query: str, model: Any, user: str | None = None) -> Routed:
    """N-to-1: the model picks one dataset by its description (None: it picked none). The call's
    usage comes back with it: the caller adds it to the turn's or the node's."""
    if len(datasets) == 1:
        return Routed(datasets[0])
    by_name = {f"{TOOL_PREFIX}{d.pk.hex}": d for d in datasets}
    function_calling = model.resolved.spec.function_calling or model.provider != "openai_api_compatible"
    if function_calling:
        tools = [
            ToolDefinition(
                name=name,
                description=(d.description or d.name)[:1000],
                parameters={
                    "type": "object",
                    "properties": {"query": {"type": "string", "description": "The question."}},
                    "required": ["query"],
                },
            )
            for name, d in by_name.items()
        ]
        result = async_to_sync(model.invoke)(
            [PromptMessage("system", ROUTER_PROMPT), PromptMessage("user", query)],
            tools=tools,
            params={"temperature": 0},
            user=user,
        )
        picked = [call.name for call in result.tool_calls]
    else:
        listing = "\n".join(f"{name}: {(d.description or d.name)[:1000]}" for name, d in by_name.items())
        result = async_to_sync(model.invoke)(
            [PromptMessage("system", f"{TEXT_ROUTER_PROMPT}\n\n{listing}"), PromptMessage("user", query)],
            params={"temperature": 0},
            user=user,
        )
        picked = [name for name in by_name if name in result.text]
    return Routed(next((by_name[name] for name in picked if name in by_name), None), result.usage)


def segment_text(segment: Any) -> str:
    if segment.answer:
        return f"question:{segment.content} \nanswer:{segment.answer}"
    return segment.content


def context_text(hits: list[retrieval.Hit]) -> str:
    """The text of the hits as the prompt's context, best first."""
    return "\n\n".join(segment_text(h.segment) for h in hits)


def resources(hits: list[retrieval.Hit], datasets: list[Dataset], source: str) -> list[dict[str, Any]]:
    """retriever_resources (service-api.md §3.5): one per (dataset, document), best first, from 1."""
    names = {d.pk: d.name for d in datasets}
    fields = {}
    from apps.datasets.models import MetadataField

    for field in MetadataField.objects.filter(dataset__in=datasets):
        fields[str(field.pk)] = field.name
    seen: set[tuple[Any, Any]] = set()
    out: list[dict[str, Any]] = []
    for hit in hits:
        segment, document = hit.segment, hit.segment.document
        key = (hit.dataset_id, document.pk)
        if key in seen:
            continue
        seen.add(key)
        out.append(
            {
                "position": len(out) + 1,
                "dataset_id": str(hit.dataset_id),
                "dataset_name": names.get(hit.dataset_id, ""),
                "document_id": str(document.pk),
                "document_name": document.name,
                "data_source_type": document.data_source_type,
                "segment_id": str(segment.pk),
                "retriever_from": RETRIEVER_FROM.get(source, "api"),
                "score": round(float(hit.score), 6),
                "hit_count": segment.hit_count,
                "word_count": segment.word_count,
                "segment_position": segment.position,
                "index_node_hash": segment.index_node_hash,
                "content": segment_text(segment),
                "page": None,
                "doc_metadata": {fields[k]: v for k, v in (document.metadata or {}).items() if k in fields},
                "title": document.name,
                "files": None,
                "summary": None,
            }
        )
    return out


def _record(datasets: list[Dataset], query: str, hits: list[retrieval.Hit], started: float) -> None:
    """The turn's query in each searched dataset's query history (source "app"), in one insert."""
    from apps.datasets.models import HitTestQuery

    elapsed = round((time.perf_counter() - started) * 1000, 2)
    found = retrieval.group_by_dataset(hits)
    HitTestQuery.objects.bulk_create(
        [
            HitTestQuery(
                dataset=d,
                content=query,
                source="app",
                retrieval_model=d.retrieval_model,
                result_count=len(found.get(d.pk, [])),
                elapsed_ms=elapsed,
            )
            for d in datasets
        ]
    )


def for_turn(
    *,
    config: dict[str, Any],
    query: str,
    inputs: dict[str, Any],
    model: Any,
    source: str,
    user: str | None = None,
) -> TurnContext:
    """Search the app's datasets for this turn (sync, in the workspace schema). Datasets of
    another workspace are simply not found here; unindexed ones are skipped."""
    search = turn_query(config, query, inputs)
    if not search:
        return TurnContext()
    ids = []
    for raw in dataset_ids(config):
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    datasets = [d for d in retrieval.datasets_by_id(ids) if d.indexing_technique]
    if not datasets:
        return TurnContext()
    configs = config.get("dataset_configs") or {}
    started = time.perf_counter()
    routing_usage = None
    if configs.get("retrieval_model") == "single":
        routed = route(datasets, search, model, user)
        routing_usage = routed.usage
        if routed.dataset is None:
            return TurnContext(usage=routing_usage)
        searched = [routed.dataset]
        hits = retrieval.retrieve(datasets=searched, query=search)
    else:
        searched = datasets
        settings = multi_path_settings(configs)
        try:
            retrieval.normalize_retrieval_model(settings)
        except ServiceError:
            # A config from before KN-19 (an imported app) whose rerank step cannot run: the turn
            # still answers, merging the hits by their scores; saving the draft asks for a step.
            settings = multi_path_settings({**configs, "reranking_enabled": False})
        hits = retrieval.retrieve(datasets=searched, query=search, retrieval_model=settings)
    _record(searched, search, hits, started)
    text = context_text(hits)
    cited = (config.get("retriever_resource") or {}).get("enabled")

    def cite(kept: list[retrieval.Hit]) -> list[dict[str, Any]]:
        return resources(kept, datasets, source) if cited else []

    return TurnContext(text=text, resources=cite(hits) if hits else [], usage=routing_usage, hits=hits, cite=cite)


# --- The orchestrate page --------------------------------------------------------------------------------


def editor_options(membership: Any) -> dict[str, Any]:
    """What the orchestrate page offers: the datasets the member sees and the rerank models."""
    from apps.datasets.selectors import datasets_visible_to
    from apps.providers import selectors as model_selectors
    from apps.providers.runtime.entities import ModelType

    return {
        "datasets": [
            {
                "id": str(d.pk),
                "name": d.name,
                "description": d.description,
                "indexed": bool(d.indexing_technique),
            }
            for d in datasets_visible_to(membership)
        ],
        "rerank_models": [
            {"provider": m.provider, "name": m.model, "label": f"{m.label} · {m.provider_label}"}
            for m in model_selectors.available_models(ModelType.RERANK)
        ],
    }


def clean_dataset_configs(
    submitted: Any, current: dict[str, Any], variables: list[str], errors: list[str]
) -> tuple[dict[str, Any], str]:
    """Check the orchestrate page's knowledge settings: (dataset_configs, dataset_query_variable).
    Ids must be datasets of this workspace (the schema holds no others); the rerank model must be one
    the workspace can call; multi-path needs a rerank step (multi_path_problem)."""
    from django.utils.translation import gettext as _

    configs_in = (
        submitted.get("dataset_configs") if isinstance(submitted.get("dataset_configs"), dict) else None
    )
    if configs_in is None:
        return current.get("dataset_configs") or {}, current.get("dataset_query_variable") or ""
    wanted = []
    for raw in dataset_ids({"dataset_configs": configs_in})[:20]:
        try:
            wanted.append(uuid.UUID(raw))
        except ValueError:
            continue
    found = {str(d.pk) for d in Dataset.objects.filter(pk__in=wanted)}
    if len(found) < len(dataset_ids({"dataset_configs": configs_in})):
        errors.append(_("A chosen knowledge base no longer exists and was removed."))
    ids = [str(i) for i in wanted if str(i) in found]
    rerank_in = (
        configs_in.get("reranking_model") if isinstance(configs_in.get("reranking_model"), dict) else {}
    )
    rerank = {
        "reranking_provider_name": str(rerank_in.get("reranking_provider_name") or ""),
        "reranking_model_name": str(rerank_in.get("reranking_model_name") or ""),
    }
    refused = len(errors)
    if rerank["reranking_model_name"]:
        try:
            retrieval.check_rerank_model(rerank)
        except ServiceError:
            errors.append(
                _("The rerank model %(model)s is not available in this workspace.")
                % {"model": rerank["reranking_model_name"]}
            )
            rerank = {"reranking_provider_name": "", "reranking_model_name": ""}
    # The page's rerank select: a model is the rerank-model step, none is no rerank step; the
    # weighted score (hybrid search, KN-13) is kept when asked for and its weights are valid.
    mode = configs_in.get("reranking_mode") or None
    weights = None
    if mode not in (None, *retrieval.RERANK_MODES):
        errors.append(_("The rerank step must be a rerank model or the weighted score."))
        mode = None
    elif mode == "weighted_score":
        try:
            weights = retrieval.validate_retrieval_model(
                multi_path_settings({**configs_in, "reranking_enabled": True}))["weights"]
        except ServiceError:
            errors.append(_("The weighted score needs a vector weight between 0 and 1; the full-text weight "
                            "is the rest, so both add up to 1."))
            mode = None
    threshold = configs_in.get("score_threshold") if configs_in.get("score_threshold_enabled") else None
    configs = config_for(
        ids,
        mode=str(configs_in.get("retrieval_model") or "multiple"),
        top_k=configs_in.get("top_k", 4),
        score_threshold=threshold,
        reranking_model=rerank,
        reranking_mode=mode,
        weights=weights,
        current=current.get("dataset_configs") or {},
    )
    if len(errors) == refused:  # one reason at a time: no "needs a step" after a refused step
        problem = multi_path_problem(configs)
        if problem:
            errors.append(problem)
    query_variable = submitted.get("dataset_query_variable")
    query_variable = query_variable if isinstance(query_variable, str) and query_variable in variables else ""
    return configs, query_variable
