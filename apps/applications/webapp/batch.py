"""Batch runs of the text-generation and workflow WebApps (WEB-09, WEB-16): the CSV template, the
upload, running the rows, and the results as CSV.

A workflow app's columns are its published Start node's text, select, number and checkbox
variables (a CSV cell cannot hold a file); each row is a workflow run (apps.workflows.runner), its
output the run's outputs: the text of a single text output, else their JSON.

An upload becomes a CompletionBatch with one row per CSV line. Rows whose inputs fail the app's
form rules are marked failed at once, with the reason; the others run in a Celery task on the
default queue (apps.applications.tasks.run_completion_batch), WEBAPP_BATCH_CONCURRENCY at a time,
through the same generation path as a single run (generation.prepare + Generation), so each row is
a WebApp message in the app's Logs. A row that fails is recorded and the batch goes on.

Why Celery and not the request: a batch of 100 rows takes minutes, must survive the browser going
away and a web process restarting, and should not hold a web worker; the page polls the batch.

CSV: UTF-8 (a byte-order mark, as Excel writes, is fine). The template and the export start with
a BOM so that Excel opens non-ASCII text correctly.
"""

import asyncio
import csv
import datetime
import io
import json
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.applications import generation
from apps.applications.config import form_variables, with_defaults
from apps.applications.inputs import validate_inputs
from apps.applications.models import App
from apps.core.errors import ServiceError, invalid_param
from apps.logs.models import CompletionBatch, CompletionBatchRow, EndUser, Source
from apps.workspaces.sync import run_hot

BOM = "\ufeff"
STALE_AFTER = datetime.timedelta(hours=1)


BATCH_MODES = (App.Mode.COMPLETION, App.Mode.WORKFLOW)


def form_config(app: App) -> dict[str, Any]:
    """The config whose user_input_form the CSV follows: the live one, or for a workflow app the
    published Start node's variables that fit in a cell."""
    if app.mode != App.Mode.WORKFLOW:
        return with_defaults(app.live_config)
    from apps.workflows import runner, selectors

    workflow = selectors.published(app)
    form = runner.user_input_form(workflow.graph) if workflow else []
    return {"user_input_form": [entry for entry in form if next(iter(entry)) in runner.STANDARD_KINDS]}


def columns(app: App) -> list[tuple[str, str]]:
    """(variable, label) of the app's form, in form order: the CSV's columns."""
    return [
        (spec["variable"], spec.get("label") or spec["variable"])
        for _kind, spec in form_variables(form_config(app))
    ]


def _csv(rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(rows)
    return (BOM + out.getvalue()).encode("utf-8")


def template_csv(app: App) -> bytes:
    """The header row (the variables' labels), ready to fill in a spreadsheet."""
    return _csv([[label for _var, label in columns(app)]])


def parse_csv(app: App, raw: bytes) -> tuple[list[str], list[dict[str, str]]]:
    """The upload's rows as {variable: text}. A header cell names a variable by its label or its
    key; every variable needs a column (optional ones may be left empty per row). Blank lines are
    skipped."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid_param(_("The CSV file must be Unicode (UTF-8) encoded.")) from None
    lines = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not lines:
        raise invalid_param(_("The CSV file is empty."))
    cols = columns(app)
    by_key = {var: var for var, _label in cols}
    by_label = {label.strip().casefold(): var for var, label in cols}
    header: list[str | None] = []
    for cell in lines[0]:
        name = cell.strip()
        if not name:
            header.append(None)
            continue
        var = by_key.get(name) or by_label.get(name.casefold())
        if var is None:
            raise invalid_param(
                _("Unknown column “%(name)s”. Use the template's header row.") % {"name": name}
            )
        header.append(var)
    missing = [label for var, label in cols if var not in header]
    if missing:
        raise invalid_param(
            _("Missing columns: %(names)s. Use the template's header row.") % {"names": ", ".join(missing)}
        )
    rows = lines[1:]
    if not rows:
        raise invalid_param(_("The CSV file has no rows under its header."))
    limit = settings.WEBAPP_BATCH_MAX_ROWS
    if len(rows) > limit:
        raise invalid_param(
            _("A batch can have at most %(limit)d rows; this file has %(count)d.")
            % {"limit": limit, "count": len(rows)}
        )
    parsed = []
    for row in rows:
        values: dict[str, str] = {}
        for position, var in enumerate(header):
            if var is not None:
                values[var] = row[position].strip() if position < len(row) else ""
        parsed.append(values)
    return [var for var, _label in cols], parsed


def batch_create(*, app: App, end_user: EndUser, file_name: str, raw: bytes) -> CompletionBatch:
    """Check the upload, store the batch and queue its run (in the workspace schema)."""
    if app.mode not in BATCH_MODES:
        raise ServiceError("app_unavailable", "App unavailable, please check your app configurations.")
    if len(raw) > settings.WEBAPP_BATCH_MAX_BYTES:
        raise ServiceError("file_too_large", _("The CSV file is too large."), 413)
    # One batch at a time per browser; one that has run for an hour (its task lost with a broker)
    # no longer blocks the next.
    if CompletionBatch.objects.filter(
        app=app, end_user=end_user, created_at__gte=timezone.now() - STALE_AFTER,
        status__in=[CompletionBatch.Status.QUEUED, CompletionBatch.Status.RUNNING],
    ).exists():
        raise ServiceError("batch_running", _("A batch is still running. Wait for it to finish."), 409)
    variables, parsed = parse_csv(app, raw)
    config = form_config(app)
    with transaction.atomic():
        batch = CompletionBatch.objects.create(
            app=app, end_user=end_user, file_name=file_name[:255], variables=variables
        )
        rows = []
        for index, values in enumerate(parsed, start=1):
            row = CompletionBatchRow(batch=batch, index=index, inputs=values)
            try:
                validate_inputs(config, values)
            except ServiceError as exc:  # reported on its row; the other rows still run
                row.status, row.error = CompletionBatchRow.Status.FAILED, exc.message
            rows.append(row)
        CompletionBatchRow.objects.bulk_create(rows)
        from apps.applications import tasks

        transaction.on_commit(lambda: tasks.run_completion_batch.delay(str(batch.pk)))
    return batch


# --- Running (in the Celery worker, in the workspace schema) ----------------------------------------


def _prepare(batch: CompletionBatch, inputs: dict[str, Any]) -> Any:
    """A completion message, or a workflow run of the published workflow, for one row."""
    if batch.app.mode == App.Mode.WORKFLOW:
        from apps.workflows import runner, selectors

        return runner.prepare(tenant=connection.tenant, app=batch.app,
                              workflow=selectors.workflow_for_run(batch.app, None), inputs=inputs,
                              end_user=batch.end_user, source=Source.WEBAPP)
    return generation.prepare(tenant=connection.tenant, app=batch.app, query="", inputs=inputs,
                              end_user=batch.end_user, source=Source.WEBAPP)


def _begin_row(batch_id: str, row_id: int) -> Any:
    """Mark the row running and prepare its message or run; None when it failed to prepare (stored)."""
    batch = CompletionBatch.objects.select_related("app", "end_user").get(pk=batch_id)
    row = CompletionBatchRow.objects.get(pk=row_id)
    try:
        prepared = _prepare(batch, row.inputs)
    except ServiceError as exc:
        _store_row(row_id, CompletionBatchRow.Status.FAILED, "", exc.message, None)
        return None
    CompletionBatchRow.objects.filter(pk=row_id).update(
        status=CompletionBatchRow.Status.RUNNING, message_id=prepared.message_id, updated_at=timezone.now()
    )
    return prepared


def _store_row(row_id: int, status: str, answer: str, error: str, message_id: str | None) -> None:
    fields: dict[str, Any] = {
        "status": status,
        "answer": answer,
        "error": error,
        "updated_at": timezone.now(),
    }
    if message_id:
        fields["message_id"] = message_id
    CompletionBatchRow.objects.filter(pk=row_id).update(**fields)


async def _run_row(tenant: Any, batch_id: str, row_id: int, gate: asyncio.Semaphore) -> None:
    async with gate:
        try:
            prepared = await run_hot(tenant, _begin_row, batch_id, row_id)
        except Exception as exc:  # noqa: BLE001 (a row's bug must not end the batch)
            await run_hot(
                tenant,
                _store_row,
                row_id,
                CompletionBatchRow.Status.FAILED,
                "",
                getattr(exc, "message", None) or "Internal Server Error",
                None,
            )
            return
        if prepared is None:
            return
        answer, error = await _outcome(prepared)
        status = CompletionBatchRow.Status.FAILED if error else CompletionBatchRow.Status.SUCCEEDED
        await run_hot(tenant, _store_row, row_id, status, answer, error, prepared.message_id)


async def _outcome(prepared: Any) -> tuple[str, str]:
    """Run a row to its end: (output text, error or "")."""
    if isinstance(prepared, generation.Prepared):
        run = generation.Generation(prepared).start()
        await run.done.wait()
        return "".join(run.answer), run.error.message if run.error is not None else ""
    from apps.workflows.models import WorkflowRun
    from apps.workflows.runner import WorkflowGeneration

    flow = WorkflowGeneration(prepared).start()
    await flow.done.wait()
    if flow.status in (WorkflowRun.Status.FAILED, WorkflowRun.Status.STOPPED):
        return "", flow.error_text or str(flow.status)
    return outputs_text(flow.finished.get("outputs") or {}), ""


def outputs_text(outputs: dict[str, Any]) -> str:
    """A workflow run's outputs in one cell: a single text output as itself, anything else as JSON."""
    if len(outputs) == 1 and isinstance(next(iter(outputs.values())), str):
        return next(iter(outputs.values()))
    return json.dumps(outputs, ensure_ascii=False)


async def _run_rows(tenant: Any, batch_id: str, row_ids: list[int]) -> None:
    gate = asyncio.Semaphore(max(1, settings.WEBAPP_BATCH_CONCURRENCY))
    await asyncio.gather(*(_run_row(tenant, batch_id, row_id, gate) for row_id in row_ids))


def run_batch(batch_id: str) -> int:
    """Run a batch's pending rows, WEBAPP_BATCH_CONCURRENCY at a time; returns how many ran. Rows
    left running by a worker that died are run again (their message stays as it was)."""
    batch = CompletionBatch.objects.filter(pk=batch_id).first()
    if batch is None or batch.status == CompletionBatch.Status.FINISHED:
        return 0
    CompletionBatch.objects.filter(pk=batch_id).update(status=CompletionBatch.Status.RUNNING)
    row_ids = list(
        batch.rows.filter(
            status__in=[CompletionBatchRow.Status.PENDING, CompletionBatchRow.Status.RUNNING]
        ).values_list("pk", flat=True)
    )
    try:
        if row_ids:
            asyncio.run(_run_rows(connection.tenant, str(batch.pk), row_ids))
    finally:
        CompletionBatch.objects.filter(pk=batch_id).update(
            status=CompletionBatch.Status.FINISHED, finished_at=timezone.now()
        )
    return len(row_ids)


# --- Reading ----------------------------------------------------------------------------------------


def batch_body(batch: CompletionBatch) -> dict[str, Any]:
    rows = list(batch.rows.all())
    count = {status: 0 for status in CompletionBatchRow.Status.values}
    for row in rows:
        count[row.status] += 1
    return {
        "id": str(batch.pk),
        "status": batch.status,
        "file_name": batch.file_name,
        "total": len(rows),
        "completed": count["succeeded"] + count["failed"],
        "succeeded": count["succeeded"],
        "failed": count["failed"],
        "created_at": int(batch.created_at.timestamp()),
        "rows": [
            {
                "index": r.index,
                "inputs": r.inputs,
                "status": r.status,
                "answer": r.answer,
                "error": r.error or None,
                "message_id": str(r.message_id) if r.message_id else None,
            }
            for r in rows
        ],
    }


def export_csv(app: App, batch: CompletionBatch) -> bytes:
    """The batch's rows: inputs (the template's columns), output, status and error."""
    labels = dict(columns(app))
    header = [labels.get(var, var) for var in batch.variables] + [_("Output"), _("Status"), _("Error")]
    body = [
        [_cell(row.inputs.get(var, "")) for var in batch.variables]
        + [_cell(row.answer), row.status, _cell(row.error)]
        for row in batch.rows.all()
    ]
    return _csv([header, *body])


def _cell(value: Any) -> str:
    """Text for a spreadsheet cell: a leading =, +, - or @ would make Excel run a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
