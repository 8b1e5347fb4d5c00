"""chart: bar, line and pie charts as PNG images (matplotlib, Agg backend, off the event loop)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.tools.builtin.base import BuiltinProvider, BuiltinTool, Call, Result
from apps.tools.entities import RawFile, ToolInvokeError, ToolParameter

MAX_POINTS = 500


def _numbers(text: Any) -> list[float]:
    try:
        values = [float(v) for v in str(text or "").replace(",", ";").split(";") if v.strip()]
    except ValueError:
        raise ToolInvokeError("data must be numbers separated by ';', like 1;2.5;3.") from None
    if not values:
        raise ToolInvokeError("data is empty.")
    if len(values) > MAX_POINTS:
        raise ToolInvokeError(f"A chart takes at most {MAX_POINTS} values.")
    return values


def _labels(text: Any, count: int) -> list[str]:
    labels = [v.strip() for v in str(text or "").split(";") if v.strip()]
    if labels and len(labels) != count:
        raise ToolInvokeError(f"There are {len(labels)} labels for {count} values.")
    return labels or [str(i) for i in range(1, count + 1)]


def render(kind: str, values: list[float], labels: list[str]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5), dpi=100)
    axes = figure.subplots()
    if kind == "bar":
        axes.bar(labels, values)
    elif kind == "line":
        axes.plot(labels, values, marker="o")
    else:
        axes.pie(values, labels=labels, autopct="%1.1f%%")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _tool(kind: str, label: Any, axis: str) -> BuiltinTool:
    async def run(params: dict[str, Any], call: Call) -> Result:
        values = _numbers(params.get("data"))
        labels = _labels(params.get(axis), len(values))
        png = await asyncio.to_thread(render, kind, values, labels)
        return [RawFile(png, "image/png", f"{kind}_chart.png", kind="image")]

    return BuiltinTool(
        name=f"{kind}_chart", label=label, description=_("Draws a chart from numbers."),
        llm_description=f"Generate a {kind} chart with input data.",
        parameters=(ToolParameter("data", "string", "llm", required=True, label=_("Data"),
                                  llm_description="Numbers separated by ';', e.g. 1;2;3"),
                    ToolParameter(axis, "string", "llm", label=_("Labels"),
                                  llm_description="Labels separated by ';', one per number")),
        run=run)


PROVIDER = BuiltinProvider(
    name="chart", label=_("ChartGenerator"), icon="📊", tags=("design", "productivity"),
    description=_("Bar, line and pie charts as images."),
    tools=(_tool("bar", _("Bar Chart"), "x_axis"), _tool("line", _("Line Chart"), "x_axis"),
           _tool("pie", _("Pie Chart"), "categories")),
)
