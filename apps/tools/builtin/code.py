"""code: runs a snippet in the workflow sandbox (apps.workflows.sandbox) and returns what it printed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.tools.builtin.base import BuiltinProvider, BuiltinTool, Call, Result
from apps.tools.entities import Option, ToolInvokeError, ToolMessage, ToolParameter

# The sandbox runs a main() and returns its dict: the snippet runs inside one, its prints captured.
PYTHON = """def main() -> dict:
    import contextlib, io
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile({code}, "<code>", "exec"), {{"__name__": "__main__"}})
    return {{"stdout": buffer.getvalue()}}
"""
JAVASCRIPT = """async function main() {{
  const lines = [];
  const log = console.log;
  console.log = (...args) => lines.push(args.map(String).join(" "));
  try {{ await (new Function("return (async () => {{" + {code} + "\\n}})()"))(); }}
  finally {{ console.log = log; }}
  return {{stdout: lines.join("\\n")}};
}}
"""


async def simple_code(params: dict[str, Any], call: Call) -> Result:
    from apps.workflows import sandbox

    language, code = str(params.get("language") or "python3"), str(params.get("code") or "")
    template = JAVASCRIPT if language == "javascript" else PYTHON
    wrapped = template.format(code=json.dumps(code))
    try:
        result = await asyncio.to_thread(sandbox.run_code, language, wrapped, {})
    except sandbox.CodeNodeError as exc:
        raise ToolInvokeError(str(exc)) from None
    return [ToolMessage("text", str(result.get("stdout") or ""))]


PROVIDER = BuiltinProvider(
    name="code", label=_("Code Interpreter"), icon="🧮", tags=("productivity",),
    description=_("Runs Python or JavaScript in the sandbox and returns what it prints."),
    tools=(BuiltinTool(
        name="simple_code", label=_("Code Interpreter"), description=_("Runs a code snippet."),
        llm_description="Run code and get the result back. Print the values you want to see; "
                        "there is no network or file system.",
        parameters=(ToolParameter("language", "select", "llm", required=True, label=_("Language"),
                                  llm_description="python3 or javascript", default="python3",
                                  options=(Option("python3", "Python 3"),
                                           Option("javascript", "JavaScript"))),
                    ToolParameter("code", "string", "llm", required=True, label=_("Code"),
                                  llm_description="The code to run")),
        run=simple_code),),
)
