"""ReAct: tool use for models without native function calling.

The model is told to write ``Thought:`` / ``Action:`` / ``Action Input:`` lines, or ``Final
Answer:`` when it is done (Yao et al., "ReAct", 2022). Models drift from any format, so the parser
is tolerant: labels in any case, with or without the colon spacing, the action as a JSON blob
(``{"action": ..., "action_input": ...}``, in a code fence or not), an input that is a JSON object,
a Python-style dict, or a bare string, and a tool name in quotes or backticks. Output that names no
action is the final answer: an agent never fails on the shape of what its model wrote.
"""

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

OBSERVATION = "Observation:"
STOP = ["Observation:"]  # the model must not write the tools' results itself

_FINAL = re.compile(r"final[ _]*answer\s*[:：]\s*", re.IGNORECASE)
_ACTION = re.compile(r"^[ \t*]*action(?![ _]*input)\s*[:：]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_INPUT = re.compile(r"action[ _]*input\s*[:：]\s*", re.IGNORECASE)
_THOUGHT = re.compile(r"^\s*thought\s*[:：]\s*", re.IGNORECASE)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_OBSERVED = re.compile(r"\n\s*observation\s*[:：]", re.IGNORECASE)

PROMPT = """Answer the user as well as you can. You have these tools:

{tools}

Work in steps, in exactly this format:

Thought: what to do next, and why
Action: the name of one tool, one of [{names}]
Action Input: the tool's arguments, as one JSON object
Observation: the tool's result (it is written for you: stop after Action Input)

Repeat Thought / Action / Action Input as often as needed. When you know the answer, write:

Thought: I can answer now
Final Answer: your answer to the user"""

LAST_STEP = ("You have used all the steps you may take. Do not call another tool: write your Final Answer "
             "now from what you found.")


def system_prompt(instructions: str, tools: list[tuple[str, str, dict[str, Any]]]) -> str:
    """The system message: the app's instructions, then the ReAct format with the tools as
    (name, description, JSON Schema of the arguments)."""
    listing = "\n".join(f"- {name}: {description} Arguments (JSON Schema): {json.dumps(schema, ensure_ascii=False)}"
                        for name, description, schema in tools) or "(none)"
    names = ", ".join(name for name, _, _ in tools)
    react = PROMPT.format(tools=listing, names=names)
    return f"{instructions.strip()}\n\n{react}" if instructions.strip() else react


@dataclass
class Step:
    """What one ReAct reply says: a tool call (action, arguments) or the final answer."""

    thought: str
    action: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    final: str | None = None


def strip_observation(text: str) -> str:
    """The reply up to an observation the model made up (stop words are not always honoured)."""
    found = _OBSERVED.search(text)
    return text[: found.start()] if found else text


def final_answer_start(text: str) -> int | None:
    """Where the final answer begins in a partial reply (for streaming it), or None while the reply
    still reads like a tool call."""
    final = _FINAL.search(text)
    if final is None:
        return None
    action = _ACTION.search(text)
    if action is not None and action.start() < final.start():
        return None
    return final.end()


def _thought(text: str) -> str:
    return _THOUGHT.sub("", text.strip()).strip()


def _clean_name(raw: str) -> str:
    return raw.strip().strip("`'\"[]()<>*").strip()


def _object(raw: str) -> Any:
    """The first {...} of raw as JSON or a Python literal; None when there is none."""
    start = raw.find("{")
    if start < 0:
        return None
    depth, quote, escaped = 0, "", False
    for index in range(start, len(raw)):
        char = raw[index]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                candidate = raw[start:index + 1]
                for load in (json.loads, ast.literal_eval):
                    try:
                        return load(candidate)
                    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                        continue
                return None
    return None


def arguments(raw: str, single_parameter: str | None) -> dict[str, Any]:
    """An Action Input as arguments: a JSON (or Python) object; a bare value goes to the tool's
    only parameter (or "input")."""
    fenced = _FENCE.search(raw)
    text = (fenced.group(1) if fenced else raw).strip()
    parsed = _object(text)
    if isinstance(parsed, dict):
        return parsed
    value = text.strip().strip("`").strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return {single_parameter or "input": value} if value else {}


def parse(text: str, parameters: dict[str, list[str]]) -> Step:
    """One ReAct reply as a Step. `parameters` maps each tool name to its parameter names (used
    to match names loosely and to place a bare input)."""
    text = strip_observation(text)
    by_lower = {name.lower(): name for name in parameters}

    def tool_name(raw: str) -> str:
        name = _clean_name(raw)
        return by_lower.get(name.lower(), name)

    def single(name: str) -> str | None:
        names = parameters.get(name) or []
        return names[0] if len(names) == 1 else None

    blob = _blob(text)
    if blob is not None:
        name, raw_input, start = blob
        thought = _thought(text[:start].replace("```json", "").replace("```", ""))
        if name.lower().replace(" ", "_") == "final_answer":
            return Step(thought, final=raw_input if isinstance(raw_input, str) else json.dumps(raw_input))
        args = raw_input if isinstance(raw_input, dict) else arguments(str(raw_input or ""), single(tool_name(name)))
        return Step(thought, action=tool_name(name), arguments=args)

    action = _ACTION.search(text)
    final = _FINAL.search(text)
    if action is not None and (final is None or action.start() < final.start()):
        name = tool_name(action.group(1))
        rest = text[action.end():]
        given = _INPUT.search(rest)
        raw_input = rest[given.end():] if given else ""
        thought = _thought(text[: action.start()])
        if name.lower().replace(" ", "_") == "final_answer":
            return Step(thought, final=raw_input.strip())
        return Step(thought, action=name, arguments=arguments(raw_input, single(name)))
    if final is not None:
        return Step(_thought(text[: final.start()]), final=text[final.end():].strip())
    return Step("", final=_thought(text))


def _blob(text: str) -> tuple[str, Any, int] | None:
    """(action, action_input, where it starts) of a JSON action blob, if the reply has one."""
    for candidate in [m for m in _FENCE.finditer(text)] or [None]:
        raw = candidate.group(1) if candidate else text
        parsed = _object(raw)
        if isinstance(parsed, dict) and isinstance(parsed.get("action"), str):
            start = candidate.start() if candidate else text.find("{")
            return parsed["action"], parsed.get("action_input", parsed.get("input", {})), start
    return None
