"""Nodes that reach outside the run: HTTP Request (through the SSRF-guarded client of
apps.core.outbound), Code (through the sandbox of apps.workflows.sandbox), Knowledge Retrieval, and
the Agent node, which waits for the agent runtime. The Tool node is in tool.py."""

import asyncio
import base64
import importlib.util
import json
from typing import Any

from django.conf import settings

from apps.workflows.engine.entities import NodeError, NodeResult
from apps.workflows.engine.nodes.base import Node
from apps.workflows.engine.nodes.llm import usage_result

TEXT_LIMIT = 1024 * 1024
BINARY_LIMIT = 10 * 1024 * 1024
FILE_MIME_PREFIXES = ("image/", "audio/", "video/")
FILE_MIME_TYPES = ("application/pdf", "application/octet-stream", "application/zip")


def _pairs(pool: Any, text: Any) -> list[tuple[str, str]]:
    """`key:value` lines (headers, params), values templated; legacy dict/list forms accepted."""
    if isinstance(text, dict):
        return [(str(k), pool.render(str(v))) for k, v in text.items()]
    if isinstance(text, list):
        return [(str(i.get("key")), pool.render(str(i.get("value") or ""))) for i in text
                if isinstance(i, dict) and i.get("key")]
    pairs = []
    for line in str(text or "").splitlines():
        if not line.strip() or ":" not in line:
            continue
        key, _, value = line.partition(":")
        pairs.append((pool.render(key.strip()), pool.render(value.strip())))
    return pairs


class HttpRequestNode(Node):
    type = "http-request"

    def _timeout(self) -> Any:
        import httpx

        given = self.data.get("timeout") or {}
        caps = (getattr(settings, "HTTP_REQUEST_MAX_CONNECT_TIMEOUT", 10),
                getattr(settings, "HTTP_REQUEST_MAX_READ_TIMEOUT", 600),
                getattr(settings, "HTTP_REQUEST_MAX_WRITE_TIMEOUT", 600))
        values = []
        for key, cap in zip(("connect", "read", "write"), caps, strict=True):
            value = given.get(key) if isinstance(given, dict) else None
            values.append(min(float(value), cap) if isinstance(value, (int, float)) and value > 0 else cap)
        return httpx.Timeout(connect=values[0], read=values[1], write=values[2], pool=values[0])

    async def _body(self) -> dict[str, Any]:
        from apps.workflows import files

        body = self.data.get("body") or {}
        kind = body.get("type") or "none"
        items = body.get("data")
        if isinstance(items, str):  # legacy: the raw text itself
            items = [{"key": "", "type": "text", "value": items}]
        items = [i for i in items or [] if isinstance(i, dict)]
        if kind == "none":
            return {}
        if kind in ("json", "raw-text"):
            text = self.pool.render(str(items[0].get("value") or "")) if items else ""
            if kind == "json" and text.strip():
                try:
                    json.loads(text)
                except ValueError:
                    raise NodeError("The JSON body is not valid JSON.", "InvalidHttpBody") from None
            return {"content": text.encode(), "content_type": "application/json" if kind == "json" else "text/plain"}
        if kind == "x-www-form-urlencoded":
            return {"data": {self.pool.render(str(i.get("key"))): self.pool.render(str(i.get("value") or ""))
                             for i in items if i.get("key")}}
        if kind == "form-data":
            data, uploads = {}, []
            for item in items:
                if not item.get("key"):
                    continue
                if item.get("type") == "file":
                    value = self.pool.get(item.get("file") or item.get("value") or [], None)
                    for file in value if isinstance(value, list) else [value] if value else []:
                        content = await files.read(self.ctx, file)
                        uploads.append((str(item["key"]), (file.get("filename") or "file", content,
                                                           file.get("mime_type") or "application/octet-stream")))
                else:
                    data[self.pool.render(str(item["key"]))] = self.pool.render(str(item.get("value") or ""))
            return {"data": data, "files": uploads or None}
        if kind == "binary":
            file = self.pool.get(items[0].get("file") or [], None) if items else None
            if not isinstance(file, dict):
                raise NodeError("The binary body needs a file.", "InvalidHttpBody")
            return {"content": await files.read(self.ctx, file),
                    "content_type": file.get("mime_type") or "application/octet-stream"}
        raise NodeError(f"Unknown body type: {kind}", "InvalidHttpBody")

    def _auth(self, headers: dict[str, str]) -> None:
        auth = self.data.get("authorization") or {}
        if (auth.get("type") or "no-auth") == "no-auth":
            return
        config = auth.get("config") or {}
        key = self.pool.render(str(config.get("api_key") or ""))
        kind = config.get("type") or "bearer"
        if kind == "basic":
            encoded = base64.b64encode(key.encode()).decode() if ":" in key else key
            headers[config.get("header") or "Authorization"] = f"Basic {encoded}"
        elif kind == "bearer":
            headers[config.get("header") or "Authorization"] = f"Bearer {key}"
        else:
            headers[config.get("header") or "Authorization"] = key

    async def run(self) -> NodeResult:
        import httpx

        from apps.core import outbound
        from apps.workflows import files

        method = str(self.data.get("method") or "get").upper()
        if method not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
            raise NodeError(f"Unsupported HTTP method: {method}", "InvalidHttpMethod")
        url = self.pool.render(str(self.data.get("url") or "")).strip()
        if not url.startswith(("http://", "https://")):
            raise NodeError("The URL must start with http:// or https://", "InvalidURL")
        headers = dict(_pairs(self.pool, self.data.get("headers")))
        params = _pairs(self.pool, self.data.get("params"))
        self._auth(headers)
        body = await self._body()
        content_type = body.pop("content_type", None)
        if content_type and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = content_type
        request_log = {"method": method, "url": url, "headers": {k: ("***" if k.lower() == "authorization" else v)
                                                                  for k, v in headers.items()}, "params": params}
        try:
            async with outbound.async_client(timeout=self._timeout(),
                                             verify=bool(self.data.get("ssl_verify", True))) as http:
                response = await http.request(method, url, headers=headers, params=params, **body)
        except outbound.OutboundBlocked as exc:
            raise NodeError(str(exc), "OutboundBlocked") from None
        except httpx.TimeoutException:
            raise NodeError(f"The request to {url} timed out.", "HttpRequestTimeout") from None
        except httpx.HTTPError as exc:
            raise NodeError(f"The request to {url} failed: {exc}", "HttpRequestError") from None
        mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
        outputs: dict[str, Any] = {"status_code": response.status_code, "headers": dict(response.headers),
                                   "body": "", "files": []}
        if mime.startswith(FILE_MIME_PREFIXES) or mime in FILE_MIME_TYPES:
            if len(response.content) > BINARY_LIMIT:
                raise NodeError("The response file is larger than 10 MB.", "ResponseTooLarge")
            name = url.rsplit("/", 1)[-1].split("?")[0]
            outputs["files"] = [await files.save(self.ctx, response.content, mime, name)]
        else:
            if len(response.content) > TEXT_LIMIT:
                raise NodeError("The response text is larger than 1 MB.", "ResponseTooLarge")
            outputs["body"] = response.text
        return NodeResult(inputs={}, process_data={"request": request_log}, outputs=outputs)


# --- Code ---------------------------------------------------------------------------------------


def sandbox_available() -> bool:
    return importlib.util.find_spec("apps.workflows.sandbox") is not None


class CodeNode(Node):
    """Runs python3/javascript `main()` in apps.workflows.sandbox (off the event loop: the
    sandbox blocks until its child process ends) and checks the outputs as dsl.md §3.8 says."""

    type = "code"

    @staticmethod
    def unavailable() -> str | None:
        return None if sandbox_available() else (
            "The Code node is unsupported until the code sandbox (apps.workflows.sandbox) is installed.")

    async def run(self) -> NodeResult:
        reason = self.unavailable()
        if reason:
            raise NodeError(reason, "CodeExecutionError")
        from apps.workflows import sandbox

        language = str(self.data.get("code_language") or "python3")
        inputs = self.named_variables()
        try:
            result = await asyncio.to_thread(sandbox.run_code, language, str(self.data.get("code") or ""), inputs)
            outputs = sandbox.check_outputs(result, self.data.get("outputs") or {})
        except sandbox.CodeNodeError as exc:
            raise NodeError(str(exc), exc.error_type) from None
        return NodeResult(inputs=inputs, outputs=outputs)


# --- Waiting for other issues ------------------------------------------------------------------


def _rerank_model(config: dict[str, Any]) -> dict[str, str]:
    from apps.applications.dsl import _provider_id

    model = config.get("reranking_model") or {}
    if "reranking_model_name" in model:
        return model
    return {"reranking_provider_name": _provider_id(str(model.get("provider") or "")),
            "reranking_model_name": str(model.get("model") or "")}


def _multi_path_configs(data: dict[str, Any]) -> dict[str, Any]:
    """The node's multiple_retrieval_config in the app dataset_configs' shape (context.py reads both)."""
    config = data.get("multiple_retrieval_config") or {}
    return {"top_k": config.get("top_k") or 4, "score_threshold": config.get("score_threshold"),
            "score_threshold_enabled": config.get("score_threshold") is not None,
            "reranking_enabled": config.get("reranking_enable", False), "reranking_mode": config.get("reranking_mode"),
            "reranking_model": _rerank_model(config), "weights": config.get("weights")}


def knowledge_config_problem(data: dict[str, Any]) -> str | None:
    """Why a Knowledge Retrieval node's multi-path rerank step is unusable (KN-13/14), or None;
    in the workspace schema (the rerank model must be one it can call)."""
    from django.utils.translation import gettext as _

    from apps.core.errors import ServiceError
    from apps.datasets import context

    if (data.get("retrieval_mode") or "multiple") != "multiple":
        model = (data.get("single_retrieval_config") or {}).get("model") or {}
        if not model.get("provider") or not model.get("name"):
            return _("N-to-1 retrieval needs a model to choose the knowledge base.")
        return None
    configs = _multi_path_configs(data)
    if data.get("dataset_ids") and not configs["reranking_enabled"]:
        # WF-14/KN-19: multi-path merges several knowledge bases' hits and needs a rerank step to
        # order them. The node still runs without one (an imported file), ordering hits by score.
        return _("Multi-path retrieval needs a rerank step: enable reranking with a rerank model or "
                 "the weighted score.")
    try:
        context.check_rerank_step(configs)
    except ServiceError as exc:
        return exc.message
    return None


def _retrieve(data: dict[str, Any], query: str, dataset_ids: list[str],
              user: str | None) -> tuple[list[dict[str, Any]], Any]:
    """Sync, in the workspace schema: search the node's datasets with apps.datasets (N-to-1 through
    the node's model, or multi-path with its top_k, threshold and rerank settings)."""
    from apps.applications.dsl import _provider_id
    from apps.datasets import context, retrieval
    from apps.providers import selectors as provider_selectors

    datasets = retrieval.datasets_by_id(dataset_ids)
    if not datasets:
        return [], None
    usage = None  # N-to-1's routing call
    conditions = data.get("metadata_filtering_conditions") if data.get("metadata_filtering_mode") == "manual" else None
    if (data.get("retrieval_mode") or "multiple") == "single":
        model_config = (data.get("single_retrieval_config") or {}).get("model") or {}
        model = provider_selectors.resolve("llm", _provider_id(str(model_config.get("provider") or "")),
                                           str(model_config.get("name") or ""))
        routed = context.route(datasets, query, model, user)
        usage = routed.usage
        searched = [routed.dataset] if routed.dataset is not None else []
        hits = retrieval.retrieve(datasets=searched, query=query, metadata_filtering_conditions=conditions)             if searched else []
    else:
        settings = context.check_rerank_step(_multi_path_configs(data))
        hits = retrieval.retrieve(datasets=datasets, query=query, retrieval_model=settings,
                                  metadata_filtering_conditions=conditions)
        searched = datasets
    names = {d.pk: d.name for d in searched}
    results = []
    for position, hit in enumerate(hits, start=1):
        segment, document = hit.segment, hit.segment.document
        results.append({
            "content": context.segment_text(segment), "title": document.name, "files": None, "summary": None,
            "metadata": {"_source": "knowledge", "position": position, "dataset_id": str(hit.dataset_id),
                         "dataset_name": names.get(hit.dataset_id, ""), "document_id": str(document.pk),
                         "document_name": document.name, "data_source_type": document.data_source_type,
                         "segment_id": str(segment.pk), "retriever_from": "workflow",
                         "score": round(float(hit.score), 6), "child_chunks": [],
                         "segment_hit_count": segment.hit_count, "segment_word_count": segment.word_count,
                         "segment_position": segment.position, "segment_index_node_hash": None,
                         "doc_metadata": getattr(document, "doc_metadata", None) or {}}})
    return results, usage


class KnowledgeRetrievalNode(Node):
    """Searches the workspace's datasets (apps.datasets.retrieval); `result` is a chunk list,
    best first (dsl.md §3.5)."""

    type = "knowledge-retrieval"

    async def run(self) -> NodeResult:
        from apps.workspaces.sync import run_in_tenant_detached

        selector = self.data.get("query_variable_selector")
        if isinstance(selector, str):
            selector = selector.split(".")
        query = self.pool.get(selector, "") if selector else ""
        query = query if isinstance(query, str) else str(query or "")
        dataset_ids = [str(i) for i in self.data.get("dataset_ids") or []]
        # No knowledge base (an imported file's ids never exist here): an empty result, and the run
        # goes on as in the reference; the checklist tells the editor.
        if not dataset_ids or not query.strip():
            return NodeResult(inputs={"query": query}, outputs={"result": []})
        from apps.core.errors import ServiceError

        try:
            result, usage = await run_in_tenant_detached(self.ctx.tenant, _retrieve, self.data, query,
                                                         dataset_ids, self.ctx.user_id)
        except ServiceError as exc:
            raise NodeError(exc.message, "KnowledgeRetrievalError") from None
        node_result = NodeResult(inputs={"query": query}, outputs={"result": result})
        usage_result(node_result, usage)  # the routing call counts toward the node and the run
        return node_result

