"""A published workflow app used as a tool: its Start variables are the parameters, its End
outputs the result. The run is a real run of the app (stored, visible in its logs)."""

from __future__ import annotations

from typing import Any

from apps.tools.entities import Option, ToolInvokeError, ToolMessage, ToolParameter

TYPES = {"text-input": "string", "paragraph": "string", "number": "number", "select": "select",
         "checkbox": "boolean", "file": "file", "file-list": "file"}


def parameters(start_variables: list[dict[str, Any]],
               configured: list[dict[str, Any]]) -> tuple[ToolParameter, ...]:
    """One parameter per Start variable; the app's registration says llm or form and describes it."""
    by_name = {str(c.get("name")): c for c in configured or [] if isinstance(c, dict)}
    params = []
    for variable in start_variables:
        name = str(variable["variable"])
        config = by_name.get(name, {})
        options = tuple(Option(str(o), str(o)) for o in variable.get("options") or [])
        params.append(ToolParameter(
            name, TYPES.get(str(variable.get("type")), "string"),
            "form" if config.get("form") == "form" else "llm",
            required=bool(variable.get("required")), label=str(variable.get("label") or name),
            llm_description=str(config.get("description") or variable.get("label") or name),
            default=variable.get("default") or None, options=options))
    return tuple(params)


def _run_prepare(app_id: str, inputs: dict[str, Any]) -> Any:
    """Sync, in the workspace schema: check the inputs and store the run (status running)."""
    from django.db import connection

    from apps.applications.models import App
    from apps.core.errors import ServiceError
    from apps.workflows import runner, selectors

    app = App.objects.filter(pk=app_id).first()
    workflow = selectors.published(app) if app else None
    if workflow is None:
        raise ToolInvokeError("The workflow of this tool is not published (or was deleted).")
    try:
        return runner.prepare(tenant=connection.tenant, app=app, workflow=workflow, inputs=inputs,
                              end_user=None, source="api")
    except ServiceError as exc:
        raise ToolInvokeError(exc.message) from None


async def run(workspace: Any, app_id: str, values: dict[str, Any]) -> list[ToolMessage]:
    from apps.workflows.runner import WorkflowGeneration
    from apps.workspaces.sync import run_in_tenant

    prepared = await run_in_tenant(workspace, _run_prepare, app_id, values)
    prepared.tenant = workspace
    generation = WorkflowGeneration(prepared).start()
    await generation.done.wait()
    result = generation.finished
    if result.get("status") not in ("succeeded", "partial-succeeded"):
        raise ToolInvokeError(f"The workflow failed: {result.get('error') or result.get('status')}")
    outputs = result.get("outputs") or {}
    texts = [v for v in outputs.values() if isinstance(v, str)]
    messages = [ToolMessage("text", "\n".join(texts))] if len(texts) == len(outputs) and texts else []
    return [*messages, ToolMessage("json", outputs)]
