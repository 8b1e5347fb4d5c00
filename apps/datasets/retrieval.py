"""Retrieval over one or several datasets: semantic (vector), full-text, hybrid, with an optional
rerank model, top_k and a score threshold, and metadata filters applied inside the SQL query.

Entry points (sync, in the workspace's schema):
    retrieve(datasets=[...], query="...", retrieval_model=None, metadata_filtering_conditions=None)
        -> list[Hit]            # best first, at most top_k
    hit_test(dataset=..., query="...", actor_id=..., source="hit_testing"|"api"|"app", ...)
        -> HitTestResult        # retrieve() plus a row in the query history
and the async form for generation code: `await aretrieve(tenant, datasets=..., query=...)`.

Scores mean one thing in every mode: a relevance in [0, 1], higher is better, and the score
threshold is compared with exactly the score that is returned and shown:
- semantic: cosine similarity of the query and segment embeddings, 1 - cosine distance, floored at 0;
- full-text: Postgres' cover-density rank normalised to [0, 1) (ts_rank_cd with normalisation 32,
  rank / (rank + 1)); keywords given to a segment weigh more than its body;
- hybrid is ordered by its rerank step (`reranking_mode`); a request without one (as the
  reference's clients send it) gets the weighted score with HYBRID_DEFAULT_WEIGHTS:
- hybrid, weighted_score: vector_weight × semantic + keyword_weight × full-text, both computed for every
  candidate found by either search (weights sum to 1, so the result stays in [0, 1]);
- any mode with a rerank model: the rerank model's relevance score (Cohere and OpenAI-compatible
  rerank servers return [0, 1]).
With several datasets (multi-path), each dataset's candidates are found with the request's
settings, merged, then reranked (rerank model) or sorted by score, and cut to top_k.
"""

import dataclasses
import re
import time
from collections import defaultdict
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.db.models import F

from apps.core.errors import ServiceError, invalid_param
from apps.datasets import indexing, vectors
from apps.datasets.models import Dataset, HitTestQuery, MetadataField, Segment, default_retrieval_model
from apps.datasets.pipeline import cjk
from apps.providers import selectors as model_selectors
from apps.providers.runtime.entities import ModelType
from apps.workspaces.sync import run_in_tenant

SEARCH_METHODS = ("semantic_search", "full_text_search", "hybrid_search", "keyword_search")
RERANK_MODES = ("reranking_model", "weighted_score")
# Hybrid search's default rerank step: the reference console's own default split (semantic 0.7,
# keyword 0.3). Weighted scores rather than reciprocal rank fusion: the fused score stays a
# relevance in [0, 1] with one meaning across modes, so a score threshold still means something
# (RRF's 1/(60 + rank) only orders), and issue 16 measured it at hit@5 0.825 over the seeds.
HYBRID_DEFAULT_WEIGHTS = {"weight_type": "customized", "vector_setting": {"vector_weight": 0.7},
                          "keyword_setting": {"keyword_weight": 0.3}}
TOP_K_MAX = 10
MAX_QUERY_CHARS = 250
BUILT_IN_FIELDS = {"document_name": "string", "uploader": "string", "upload_date": "time",
                   "last_update_date": "time", "source": "string"}
STRING_OPS = ("contains", "not contains", "start with", "end with", "is", "is not", "empty", "not empty",
              "in", "not in")
NUMBER_OPS = {"=": "=", "≠": "<>", "!=": "<>", ">": ">", "<": "<", "≥": ">=", ">=": ">=", "≤": "<=", "<=": "<="}
TIME_OPS = {"before": "<", "after": ">"}
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclasses.dataclass
class Hit:
    segment: Segment  # with .document loaded
    score: float
    dataset_id: Any


@dataclasses.dataclass
class HitTestResult:
    query: HitTestQuery
    hits: list[Hit]


def _invalid_metadata() -> ServiceError:
    return ServiceError("invalid_metadata", "The metadata content is incorrect. Please check and verify.", 400)


# --- Settings -------------------------------------------------------------------------------------


def normalize_retrieval_model(model: dict | None, technique: str | None = None) -> dict[str, Any]:
    """A complete RetrievalModel (service-api.md §5.1) or invalid_param. Economy datasets only have
    the keyword index, so they always search it."""
    merged = {**default_retrieval_model(), **(model or {})}
    method = merged.get("search_method") or "semantic_search"
    if method not in SEARCH_METHODS:
        raise invalid_param("retrieval_model.search_method is invalid.", params="retrieval_model")
    if technique == Dataset.Technique.ECONOMY:
        method = "keyword_search"
    merged["search_method"] = method
    try:
        top_k = int(3 if merged.get("top_k") is None else merged["top_k"])
    except (TypeError, ValueError):
        raise invalid_param("retrieval_model.top_k must be a number.", params="retrieval_model") from None
    if not 1 <= top_k <= TOP_K_MAX:
        raise invalid_param(f"retrieval_model.top_k must be between 1 and {TOP_K_MAX}.", params="retrieval_model")
    merged["top_k"] = top_k
    merged["score_threshold_enabled"] = bool(merged.get("score_threshold_enabled"))
    threshold = merged.get("score_threshold")
    if threshold is not None:
        try:
            threshold = float(threshold)
        except (TypeError, ValueError):
            raise invalid_param("retrieval_model.score_threshold must be a number.",
                                params="retrieval_model") from None
        if not 0 <= threshold <= 1:
            raise invalid_param("retrieval_model.score_threshold must be between 0 and 1.",
                                params="retrieval_model")
    merged["score_threshold"] = threshold
    rerank = merged.get("reranking_model") or {}
    if not isinstance(rerank, dict):
        raise invalid_param("retrieval_model.reranking_model must be an object.", params="retrieval_model")
    merged["reranking_model"] = {"reranking_provider_name": str(rerank.get("reranking_provider_name") or ""),
                                 "reranking_model_name": str(rerank.get("reranking_model_name") or "")}
    merged["reranking_enable"] = bool(merged.get("reranking_enable"))
    mode = merged.get("reranking_mode") or None
    if mode is not None and mode not in RERANK_MODES:
        raise invalid_param('retrieval_model.reranking_mode must be "reranking_model" or "weighted_score".',
                            params="retrieval_model")
    if method == "hybrid_search":
        # Hybrid search merges both searches and orders them by its rerank step: a rerank model when
        # one is asked for (reranking_enable, or a named model in the reranking_model mode), else
        # the weighted score. Clients of the reference send hybrid with `reranking_enable: false`
        # and no mode (or the "reranking_model" mode and an empty model); the reference accepts that,
        # so it gets the default step, the weighted score with HYBRID_DEFAULT_WEIGHTS (README).
        named = bool(merged["reranking_model"]["reranking_model_name"])
        if mode is None and merged["reranking_enable"]:
            mode = "reranking_model"  # the reference's default mode when reranking is enabled
        if mode == "reranking_model" and (merged["reranking_enable"] or named):
            merged["reranking_enable"] = True
        else:
            if mode != "weighted_score" or not merged.get("weights"):
                merged["weights"] = HYBRID_DEFAULT_WEIGHTS
            mode = "weighted_score"
            merged["reranking_enable"] = False
    merged["reranking_mode"] = mode
    if _wants_rerank(merged) and not (merged["reranking_model"]["reranking_model_name"]
                                      and merged["reranking_model"]["reranking_provider_name"]):
        raise invalid_param("A rerank model is required for reranking: set retrieval_model.reranking_model "
                            "(reranking_provider_name and reranking_model_name).", params="retrieval_model")
    if method == "hybrid_search" and mode == "weighted_score":
        merged["weights"] = _weights(merged.get("weights"))
    return merged


def _weights(weights: Any) -> dict[str, Any]:
    """The weighted-score rerank step's weights: both non-negative and adding up to 1 (a missing one
    is the rest of the other)."""
    if not isinstance(weights, dict) or not (weights.get("vector_setting") or weights.get("keyword_setting")):
        raise invalid_param('retrieval_model.weights (vector_setting.vector_weight and keyword_setting.'
                            'keyword_weight) are required when reranking_mode is "weighted_score".',
                            params="retrieval_model")
    try:
        vector_setting = weights.get("vector_setting") or {}
        keyword_setting = weights.get("keyword_setting") or {}
        if "vector_weight" in vector_setting:
            vw = float(vector_setting["vector_weight"])
            kw = float(keyword_setting.get("keyword_weight", round(1 - vw, 4)))
        else:
            kw = float(keyword_setting["keyword_weight"])
            vw = round(1 - kw, 4)
    except (TypeError, ValueError, AttributeError, KeyError):
        raise invalid_param("retrieval_model.weights is invalid.", params="retrieval_model") from None
    if vw < 0 or kw < 0 or abs(vw + kw - 1) > 1e-6:
        raise invalid_param("retrieval_model.weights must be non-negative and add up to 1.",
                            params="retrieval_model")
    return {"weight_type": (weights.get("weight_type") or "customized"),
            "vector_setting": {**vector_setting, "vector_weight": vw},
            "keyword_setting": {"keyword_weight": kw}}


def validate_retrieval_model(model: dict | None, technique: str | None = None) -> dict[str, Any]:
    """normalize_retrieval_model() for settings being saved or sent with a request: also checks that
    the rerank model is one this workspace can call (service-api.md §5.1: an invalid rerank model is
    a 400). Stored settings are only normalised when read, so a provider removed later does not
    break showing them."""
    merged = normalize_retrieval_model(model, technique)
    if _wants_rerank(merged):
        check_rerank_model(merged["reranking_model"])
    return merged


def check_rerank_model(rerank: dict[str, str]) -> None:
    """400 invalid_param unless the rerank model is available in this workspace (in its schema)."""
    usable = {(m.provider, m.model) for m in model_selectors.available_models(ModelType.RERANK)}
    if (rerank.get("reranking_provider_name"), rerank.get("reranking_model_name")) not in usable:
        raise invalid_param(f"The rerank model {rerank.get('reranking_provider_name')}/"
                            f"{rerank.get('reranking_model_name')} is not available in this workspace. "
                            "Configure it under Settings → Model providers.", params="retrieval_model")


def _wants_rerank(model: dict) -> bool:
    if model["search_method"] == "hybrid_search":
        return model.get("reranking_mode") == "reranking_model"
    return bool(model.get("reranking_enable"))


# --- Metadata filters -------------------------------------------------------------------------------


def _field_sql(name: str, datasets: list[Dataset]) -> tuple[str, list[Any], str]:
    """SQL for a metadata field's value in a document row `d`, its params and its type."""
    builtin = {"document_name": "d.name", "source": "d.data_source_type", "uploader": "d.created_by_id::text",
               "upload_date": "extract(epoch from d.created_at)", "last_update_date": "extract(epoch from d.updated_at)"}
    if name in BUILT_IN_FIELDS:
        return builtin[name], [], BUILT_IN_FIELDS[name]
    fields = list(MetadataField.objects.filter(dataset__in=datasets, name=name))
    if not fields:
        raise _invalid_metadata()
    types = {f.type for f in fields}
    if len(types) > 1:
        raise _invalid_metadata()
    keys = [str(f.pk) for f in fields]
    return f"COALESCE({', '.join(['d.metadata ->> %s'] * len(keys))})", keys, types.pop()


def _like(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _condition(condition: dict, datasets: list[Dataset]) -> tuple[str, list[Any]]:
    if not isinstance(condition, dict):
        raise _invalid_metadata()
    name, op, value = condition.get("name"), condition.get("comparison_operator"), condition.get("value")
    if not isinstance(name, str) or not isinstance(op, str):
        raise _invalid_metadata()
    expr, params, kind = _field_sql(name, datasets)
    if kind == "string" and op in STRING_OPS:
        if op == "empty":
            return f"({expr} IS NULL OR {expr} = '')", params * 2
        if op == "not empty":
            return f"({expr} IS NOT NULL AND {expr} <> '')", params * 2
        if op in ("in", "not in"):
            items = value if isinstance(value, list) else [v.strip() for v in str(value or "").split(",")]
            items = [str(v) for v in items if str(v) != ""]
            if op == "in":
                return f"{expr} = ANY(%s)", [*params, items]
            return f"({expr} IS NULL OR NOT ({expr} = ANY(%s)))", [*params, *params, items]
        if value is None:
            raise _invalid_metadata()
        patterns = {"contains": f"%{_like(value)}%", "not contains": f"%{_like(value)}%",
                    "start with": f"{_like(value)}%", "end with": f"%{_like(value)}"}
        if op in patterns:
            if op == "not contains":
                return f"({expr} IS NULL OR {expr} NOT ILIKE %s)", [*params, *params, patterns[op]]
            return f"{expr} ILIKE %s", [*params, patterns[op]]
        if op == "is":
            return f"{expr} = %s", [*params, str(value)]
        return f"({expr} IS NULL OR {expr} <> %s)", [*params, *params, str(value)]
    if kind in ("number", "time") and (op in NUMBER_OPS or op in TIME_OPS):
        sql_op = NUMBER_OPS.get(op) or TIME_OPS[op]
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _invalid_metadata() from None
        return f"({expr})::numeric {sql_op} %s", [*params, number]
    if kind in ("number", "time") and op in ("empty", "not empty"):
        return (f"{expr} IS NULL", params) if op == "empty" else (f"{expr} IS NOT NULL", params)
    raise _invalid_metadata()


def metadata_where(filters: dict | None, datasets: list[Dataset]) -> tuple[str, list[Any]]:
    """` AND (…)` for metadata_filtering_conditions, or nothing."""
    if not filters:
        return "", []
    if not isinstance(filters, dict):
        raise _invalid_metadata()
    conditions = filters.get("conditions") or []
    if not isinstance(conditions, list):
        raise _invalid_metadata()
    if not conditions:
        return "", []
    joiner = {"and": " AND ", "or": " OR "}.get(str(filters.get("logical_operator") or "and").lower())
    if joiner is None:
        raise _invalid_metadata()
    parts, params = [], []
    for condition in conditions:
        sql, p = _condition(condition, datasets)
        parts.append(f"({sql})")
        params += p
    return f" AND ({joiner.join(parts)})", params


# --- Searches ---------------------------------------------------------------------------------------

_BASE_WHERE = ("s.dataset_id = ANY(%s) AND s.enabled AND s.status = 'completed' AND d.enabled AND NOT d.archived "
               "AND d.indexing_status = 'completed'")
_FROM = "datasets_segment s JOIN datasets_document d ON d.id = s.document_id"


def query_words(query: str) -> list[str]:
    """The query's words (CJK as bigrams), lower-cased, each once."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(cjk.tokenize(query))))[:64]


def tsquery_text(query: str) -> str:
    """The query's words OR-ed together, for to_tsquery: any word may match, and the rank rewards
    segments that match more of them, closer together. Full-text scores always use this query."""
    return " | ".join(query_words(query))


def semantic_query(dataset_ids: list[Any], dim: int, vector: list[float], limit: int, where: str = "",
                   params: list[Any] | None = None, exact: bool = False) -> tuple[str, list[Any]]:
    """The nearest-neighbour SQL: the `limit` nearest vectors in the HNSW graph of `dim` (written
    like its partial index, so the index is used) and the `limit` nearest in the tail (exact, see
    apps/datasets/vectors.py), merged into the `limit` nearest of both. `exact`: one exact scan of
    the matching segments instead (`+ 0` keeps the planner off the index)."""
    literal = vectors.vector_literal(vector)
    distance = vectors.distance_sql(dim)
    if exact:
        sql = (f"SELECT s.id, 1 - {distance} AS score FROM {_FROM} WHERE s.embedding_dim = {int(dim)} AND "
               f"{_BASE_WHERE}{where} ORDER BY {distance} + 0 LIMIT %s")
        return sql, [literal, dataset_ids, *(params or []), literal, limit]

    def branch(graph: bool) -> str:
        return (f"(SELECT s.id, {distance} AS distance FROM {_FROM} WHERE s.embedding_dim = {int(dim)} AND "
                f"{'' if graph else 'NOT '}s.vector_indexed AND {_BASE_WHERE}{where} ORDER BY {distance} LIMIT %s)")

    args = [literal, dataset_ids, *(params or []), literal, limit]
    sql = f"SELECT id, 1 - distance AS score FROM ({branch(True)} UNION ALL {branch(False)}) AS nearest " \
          "ORDER BY distance LIMIT %s"
    return sql, [*args, *args, limit]


def semantic_search(dataset_ids: list[Any], dim: int, vector: list[float], limit: int,
                    where: str = "", params: list[Any] | None = None) -> list[tuple[Any, float]]:
    """(segment id, cosine similarity) nearest first: the HNSW index of `dim` and the exact tail.

    The index scan looks at the hnsw.ef_search nearest vectors of the whole workspace's graph and
    the dataset and metadata conditions drop the others afterwards, so a small dataset among large
    ones, or a narrow metadata filter, can leave fewer than `limit` rows although more match. Then
    the matching segments are searched exactly: few of them match, or the index would have found
    them, so that scan is short (pgvector 0.6 has no iterative index scan to do this itself)."""
    def nearest(cursor: Any) -> list[tuple[Any, float]]:
        cursor.execute(*semantic_query(dataset_ids, dim, vector, limit, where, params))
        rows = cursor.fetchall()
        if len(rows) < limit:
            cursor.execute(*semantic_query(dataset_ids, dim, vector, limit, where, params, exact=True))
            rows = cursor.fetchall()
        return [(row[0], max(0.0, float(row[1]))) for row in rows]

    if limit <= vectors.EF_SEARCH:  # every connection opens with it (DATASET_HNSW_EF_SEARCH in settings)
        with connection.cursor() as cursor:
            return nearest(cursor)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {int(limit)}")
        return nearest(cursor)


def full_text_search(dataset_ids: list[Any], query: str, limit: int, where: str = "",
                     params: list[Any] | None = None) -> list[tuple[Any, float]]:
    """(segment id, normalised rank) best first, through the GIN index.

    Candidates come first from segments holding every word (a selective GIN lookup), and only if
    those are fewer than `limit` from segments holding any word; all are scored with the OR query,
    so a score means the same whichever way a segment was found."""
    words = query_words(query)
    if not words:
        return []
    scoring = " | ".join(words)
    found: dict[Any, float] = {}
    selections = [" & ".join(words), scoring] if len(words) > 1 else [scoring]
    for selection in selections:
        if len(found) >= limit:
            break
        sql = (f"SELECT s.id, ts_rank_cd(s.search_vector, to_tsquery('{indexing.TS_CONFIG}', %s), 32) AS score "
               f"FROM {_FROM} WHERE s.search_vector @@ to_tsquery('{indexing.TS_CONFIG}', %s) AND {_BASE_WHERE}"
               f"{where} AND NOT (s.id = ANY(%s)) ORDER BY score DESC, s.position LIMIT %s")
        with connection.cursor() as cursor:
            cursor.execute(sql, [scoring, selection, dataset_ids, *(params or []), list(found), limit - len(found)])
            found.update((row[0], float(row[1])) for row in cursor.fetchall())
    return sorted(found.items(), key=lambda item: -item[1])


def _both_scores(ids: list[Any], dim: int | None, vector: list[float] | None, query: str) -> dict[Any, tuple[float, float]]:
    """Semantic and full-text scores of given segments (hybrid fusion needs both for each)."""
    if not ids:
        return {}
    terms = tsquery_text(query) or "''"
    semantic = (f"CASE WHEN s.embedding_dim = {int(dim)} THEN GREATEST(0, 1 - {vectors.distance_sql(dim)}) ELSE 0 END"
                if dim and vector is not None else "0")
    params: list[Any] = [vectors.vector_literal(vector)] if dim and vector is not None else []
    sql = (f"SELECT s.id, {semantic}, COALESCE(ts_rank_cd(s.search_vector, q, 32), 0) "
           f"FROM datasets_segment s, to_tsquery('{indexing.TS_CONFIG}', %s) q WHERE s.id = ANY(%s)")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, terms, ids])
        return {row[0]: (float(row[1]), float(row[2])) for row in cursor.fetchall()}


def _rerank(model_cfg: dict, query: str, hits: list[Hit], top_k: int) -> list[Hit]:
    reranker = model_selectors.resolve(ModelType.RERANK, model_cfg["reranking_provider_name"],
                                       model_cfg["reranking_model_name"])
    texts = [h.segment.content + (f"\n{h.segment.answer}" if h.segment.answer else "") for h in hits]
    result = async_to_sync(reranker.rerank)(query, texts, top_n=top_k)
    return [dataclasses.replace(hits[hit.index], score=float(hit.score)) for hit in result.hits]


def _dataset_candidates(dataset: Dataset, query: str, settings: dict, limit: int, where: str,
                        params: list[Any], query_vectors: dict) -> dict[Any, float]:
    """Candidate segment ids of one dataset with the mode's score."""
    method = settings["search_method"]
    if dataset.indexing_technique != Dataset.Technique.HIGH_QUALITY:
        method = "keyword_search"
    ids = [dataset.pk]
    if method in ("full_text_search", "keyword_search"):
        return dict(full_text_search(ids, query, limit, where, params))
    if not dataset.embedding_dim:
        return {}  # nothing embedded yet
    key = (dataset.embedding_model_provider, dataset.embedding_model)
    if key not in query_vectors:
        model = indexing.embedding_model(dataset)
        query_vectors[key] = indexing.embed(model, [query])[0]
    vector = query_vectors[key]
    semantic = dict(semantic_search(ids, dataset.embedding_dim, vector, limit, where, params))
    if method == "semantic_search":
        return semantic
    found = dict(semantic)
    for sid, score in full_text_search(ids, query, limit, where, params):
        found.setdefault(sid, score)
    if settings.get("reranking_mode") == "reranking_model":
        return found  # the rerank model scores them
    weights = settings["weights"]  # normalize_retrieval_model requires them for weighted hybrid
    vw, kw = weights["vector_setting"]["vector_weight"], weights["keyword_setting"]["keyword_weight"]
    both = _both_scores(list(found), dataset.embedding_dim, vector, query)
    return {sid: vw * s + kw * k for sid, (s, k) in both.items()}


def retrieve(*, datasets: list[Dataset] | Dataset, query: str, retrieval_model: dict | None = None,
             metadata_filtering_conditions: dict | None = None) -> list[Hit]:
    """The best segments for `query`, best first (see the module docstring for what scores mean).
    `retrieval_model` overrides the (first) dataset's settings; metadata conditions apply in SQL."""
    if isinstance(datasets, Dataset):
        datasets = [datasets]
    query = (query or "").strip()
    if not query:
        raise invalid_param("Query is required", params="query")
    if len(query) > MAX_QUERY_CHARS:
        raise invalid_param(f"Query must be at most {MAX_QUERY_CHARS} characters.", params="query")
    if not datasets:
        return []
    # Fresh rows: a caller's objects may predate the first embedding (embedding_dim unknown then).
    datasets = datasets_by_id([d.pk for d in datasets])
    technique = datasets[0].indexing_technique if len(datasets) == 1 else None
    settings = normalize_retrieval_model(retrieval_model or datasets[0].retrieval_model, technique)
    top_k = settings["top_k"]
    threshold = settings["score_threshold"] if settings["score_threshold_enabled"] else None
    where, params = metadata_where(metadata_filtering_conditions, datasets)
    rerank = _wants_rerank(settings)
    # Reranking and multi-path merging see a wider pool than the final top_k.
    limit = max(top_k * 4, 20) if rerank or len(datasets) > 1 or settings["search_method"] == "hybrid_search" \
        else top_k
    query_vectors: dict = {}
    scored: dict[Any, tuple[float, Any]] = {}
    for dataset in datasets:
        for sid, score in _dataset_candidates(dataset, query, settings, limit, where, params, query_vectors).items():
            scored[sid] = (score, dataset.pk)
    segments = {s.pk: s for s in Segment.objects.select_related("document").filter(pk__in=list(scored))}
    hits = [Hit(segments[sid], score, ds) for sid, (score, ds) in scored.items() if sid in segments]
    hits.sort(key=lambda h: (-h.score, h.segment.position))
    if rerank and hits:
        hits = _rerank(settings["reranking_model"], query, hits, top_k)
    if threshold is not None:
        hits = [h for h in hits if h.score >= threshold]
    hits = hits[:top_k]
    if hits:
        Segment.objects.filter(pk__in=[h.segment.pk for h in hits]).update(hit_count=F("hit_count") + 1)
    return hits


def hit_test(*, dataset: Dataset, query: str, actor_id: int | None, source: str = "hit_testing",
             retrieval_model: dict | None = None, metadata_filtering_conditions: dict | None = None) -> HitTestResult:
    """retrieve() on one dataset, recorded in its query history (the hit-testing page shows it)."""
    if not dataset.indexing_technique:
        raise ServiceError("dataset_not_initialized",
                           "The dataset is still being initialized or indexing. Please wait a moment.", 400)
    if retrieval_model:
        retrieval_model = validate_retrieval_model(retrieval_model, dataset.indexing_technique)
    started = time.perf_counter()
    hits = retrieve(datasets=[dataset], query=query, retrieval_model=retrieval_model,
                    metadata_filtering_conditions=metadata_filtering_conditions)
    record = HitTestQuery.objects.create(
        dataset=dataset, content=query.strip(), source=source, result_count=len(hits),
        retrieval_model=normalize_retrieval_model(retrieval_model or dataset.retrieval_model,
                                                  dataset.indexing_technique),
        elapsed_ms=round((time.perf_counter() - started) * 1000, 2), created_by_id=actor_id)
    return HitTestResult(record, hits)


async def aretrieve(tenant: Any, **kwargs: Any) -> list[Hit]:
    """retrieve() from async code (app generation), in `tenant`'s schema."""
    return await run_in_tenant(tenant, retrieve, **kwargs)


def datasets_by_id(ids: list[Any]) -> list[Dataset]:
    """Datasets in the given order (unknown ids dropped)."""
    found = {str(d.pk): d for d in Dataset.objects.filter(pk__in=ids)}
    return [found[str(i)] for i in ids if str(i) in found]


def group_by_dataset(hits: list[Hit]) -> dict[Any, list[Hit]]:
    grouped: dict[Any, list[Hit]] = defaultdict(list)
    for hit in hits:
        grouped[hit.dataset_id].append(hit)
    return grouped
