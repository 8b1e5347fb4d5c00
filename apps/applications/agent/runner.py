"""One agent turn: the model calls tools in a loop until it answers (AG-05..AG-07).

AgentRun drives the loop and yields what the caller streams:

- Thought: a step was created or changed (the same id repeats with growing content, as the
  reference's agent_thought events do): first empty, then with the model's text and the tools it
  called, then with what the tools returned;
- Delta: text the user sees (agent_message);
- Files: files the tools produced, already stored by the caller's `keep_files`.

Strategies: "function_call" uses the provider's native tool calls; "react" the prompt format of
react.py, for models without them. A model that cannot call functions runs ReAct whatever the app
says. At most `max_iteration` rounds of tools run; then the model gets one more call, told to
answer with what it has. A tool's failure is an observation the model reads, never the turn's
error. A stop (should_stop) ends the turn between two events, also while a tool runs.
"""

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from apps.applications.agent import react
from apps.providers.runtime.entities import PromptMessage, ToolCall, ToolDefinition, Usage
from apps.providers.runtime.instance import ModelInstance
from apps.providers.runtime.tools import ToolCallAssembler
from apps.tools.runtime import ToolContext, ToolInvokeError, ToolMessage

logger = logging.getLogger(__name__)

FUNCTION_CALL = "function_call"
REACT = "react"
STRATEGIES = (FUNCTION_CALL, REACT)
DEFAULT_MAX_ITERATION = 5
MAX_ITERATION = 99  # the reference caps the setting here
STOP_CHECK_INTERVAL = 0.1  # seconds between stop checks while a tool runs
LAST_STEP_NOTE = ("You have used all the tool calls you may make in this turn. Answer the user now from what "
                  "the tools returned, without calling a tool.")


@dataclass
class Thought:
    """One step of the turn, shaped like the reference's agent_thought (service-api.md §4.3)."""

    position: int
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    thought: str = ""
    tool: str = ""  # tool names joined by ";"
    tool_labels: dict[str, Any] = field(default_factory=dict)
    tool_input: str = ""  # JSON {tool: arguments}
    observation: str = ""  # JSON {tool: output} once the tools ran
    files: list[str] = field(default_factory=list)  # message file ids
    tokens: int = 0
    price: Any = 0

    def event_fields(self) -> dict[str, Any]:
        return {"id": self.id, "position": self.position, "thought": self.thought, "observation": self.observation,
                "tool": self.tool, "tool_labels": self.tool_labels, "tool_input": self.tool_input,
                "message_files": list(self.files)}


@dataclass
class Delta:
    text: str


@dataclass
class Files:
    files: list[dict[str, Any]]  # {id, type, belongs_to, url}


Event = Thought | Delta | Files
KeepFiles = Callable[[list[ToolMessage]], Awaitable[list[dict[str, Any]]]]


@dataclass
class AgentSetup:
    """What an agent turn runs with, resolved before the first token."""

    strategy: str
    max_iteration: int
    tools: list[Any]


def is_agent(mode: str, config: dict[str, Any]) -> bool:
    """Agent apps, and chat apps whose agent_mode is on (dsl.md §4: such a chat app runs as an agent)."""
    return mode == "agent-chat" or (mode == "chat" and bool((config.get("agent_mode") or {}).get("enabled")))


def setup_for(*, tenant: Any, config: dict[str, Any], model: ModelInstance, source: str) -> AgentSetup:
    """The turn's strategy, iteration limit and tools: the app's tools that can be used here and its
    knowledge bases (sync, in the workspace schema)."""
    from apps.applications.agent.knowledge import dataset_tools
    from apps.tools.runtime import available_tools

    agent_mode = config.get("agent_mode") or {}
    tools: list[Any] = [*available_tools(tenant, agent_mode.get("tools") or []),
                        *dataset_tools(tenant, config, source)]
    return AgentSetup(strategy=strategy_for(agent_mode.get("strategy"), model),
                      max_iteration=clamp_iterations(agent_mode.get("max_iteration", DEFAULT_MAX_ITERATION)),
                      tools=tools)


def tool_context(app_id: Any, user_id: Any, conversation_id: Any) -> ToolContext:
    return ToolContext(app_id=str(app_id) if app_id else None, user_id=str(user_id) if user_id else None,
                       conversation_id=str(conversation_id) if conversation_id else None)


def strategy_for(requested: str | None, model: ModelInstance) -> str:
    """The strategy to run: the app's choice when the model can follow it; ReAct for models without
    native function calling (AG-06, MP-10); function calling when the app chose none."""
    can_call = model_calls_functions(model)
    if requested in ("react", "cot"):
        return REACT
    return FUNCTION_CALL if can_call else REACT


def model_calls_functions(model: ModelInstance) -> bool:
    """Whether the model has native tool calls: the catalogue's flag (set per model for
    OpenAI-compatible servers) and a chat-mode model."""
    return bool(model.resolved.spec.function_calling) and not model.resolved.is_completion_mode


def clamp_iterations(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return DEFAULT_MAX_ITERATION
    return max(1, min(MAX_ITERATION, number))


def observation_text(messages: list[ToolMessage]) -> str:
    return "\n".join(m.as_text() for m in messages) or "(the tool returned nothing)"


class AgentRun:
    """The loop of one turn. Read `answer`, `usage` and `thoughts` once `events()` is exhausted."""

    def __init__(self, *, model: ModelInstance, messages: list[PromptMessage], tools: list[Any], strategy: str,
                 max_iteration: int, params: dict[str, Any] | None = None, stop: list[str] | None = None,
                 user: str | None = None, context: Any = None, should_stop: Callable[[], bool] = lambda: False,
                 keep_files: KeepFiles | None = None) -> None:
        self.model = model
        self.messages = list(messages)
        self.tools = {tool.name: tool for tool in tools}
        self.strategy = strategy
        self.max_iteration = clamp_iterations(max_iteration)
        self.params = params or {}
        self.stop = list(stop or [])
        self.user = user
        self.context = context
        self.should_stop = should_stop
        self.keep_files = keep_files
        self.answer: list[str] = []
        self.usage: Usage | None = None
        self.thoughts: list[Thought] = []
        self.stopped = False

    @property
    def text(self) -> str:
        return "".join(self.answer)

    def _add_usage(self, usage: Usage | None) -> None:
        if usage is not None:
            self.usage = usage if self.usage is None else self.usage.plus(usage)

    def _new_thought(self) -> Thought:
        thought = Thought(position=len(self.thoughts) + 1)
        self.thoughts.append(thought)
        return thought

    async def events(self) -> AsyncIterator[Event]:
        loop = self._function_calls() if self.strategy == FUNCTION_CALL else self._react()
        async for event in loop:
            yield event

    # --- Function calling -------------------------------------------------------------------------

    def _definitions(self) -> list[ToolDefinition]:
        return [ToolDefinition(t.name, (t.description or t.name)[:1024], t.parameters_schema())
                for t in self.tools.values()]

    async def _function_calls(self) -> AsyncIterator[Event]:
        definitions = self._definitions()
        for iteration in range(1, self.max_iteration + 2):
            if self.should_stop():
                self.stopped = True
                return
            last = iteration > self.max_iteration
            if last and definitions:
                self.messages.append(PromptMessage("user", LAST_STEP_NOTE))
            thought = self._new_thought()
            yield thought
            text: list[str] = []
            calls = ToolCallAssembler()
            async for chunk in self.model.stream(self.messages, params=self.params, tools=definitions or None,
                                                 stop=self.stop or None, user=self.user):
                if chunk.delta:
                    text.append(chunk.delta)
                    self.answer.append(chunk.delta)
                    yield Delta(chunk.delta)
                for piece in chunk.tool_calls:
                    calls.add(piece)
                if chunk.usage is not None:
                    self._account(thought, chunk.usage)
                if self.should_stop():
                    self.stopped = True
                    break
            thought.thought = "".join(text)
            tool_calls = [] if self.stopped or last else calls.calls()
            if not tool_calls:
                yield thought
                return
            self._describe_calls(thought, [(c.name, _arguments(c)) for c in tool_calls])
            yield thought
            self.messages.append(PromptMessage("assistant", thought.thought, tool_calls=tool_calls))
            outputs: dict[str, str] = {}
            for call in tool_calls:
                output, files = await self._call(call.name, _arguments(call))
                if files is not None:
                    yield files
                    thought.files.extend(f["id"] for f in files.files)
                outputs[call.name] = output
                self.messages.append(PromptMessage("tool", output, name=call.name, tool_call_id=call.id))
                if self.stopped:
                    break
            thought.observation = json.dumps(outputs, ensure_ascii=False)
            yield thought
            if self.stopped:
                # The model's tool calls are answered (for the record); the turn ends here.
                return

    # --- ReAct ------------------------------------------------------------------------------------

    async def _react(self) -> AsyncIterator[Event]:
        instructions = self.messages[0].text if self.messages and self.messages[0].role == "system" else ""
        rest = self.messages[1:] if instructions else self.messages
        listing = [(t.name, t.description or t.name, t.parameters_schema()) for t in self.tools.values()]
        parameters = {t.name: list((t.parameters_schema().get("properties") or {}).keys())
                      for t in self.tools.values()}
        messages = [PromptMessage("system", react.system_prompt(instructions, listing)), *rest]
        stop = [*self.stop, *react.STOP]
        for iteration in range(1, self.max_iteration + 2):
            if self.should_stop():
                self.stopped = True
                return
            last = iteration > self.max_iteration
            if last:
                messages.append(PromptMessage("user", react.LAST_STEP))
            thought = self._new_thought()
            yield thought
            reply: list[str] = []
            sent = ""  # the part of the final answer already streamed
            async for chunk in self.model.stream(messages, params=self.params, stop=stop, user=self.user):
                if chunk.delta:
                    reply.append(chunk.delta)
                    so_far = react.strip_observation("".join(reply))
                    start = react.final_answer_start(so_far)
                    # Trailing whitespace is held back: the answer is stripped at the end.
                    visible = so_far[start:].rstrip() if start is not None else ""
                    if len(visible) > len(sent) and visible.startswith(sent):
                        piece, sent = visible[len(sent):], visible
                        self.answer.append(piece)
                        yield Delta(piece)
                if chunk.usage is not None:
                    self._account(thought, chunk.usage)
                if self.should_stop():
                    self.stopped = True
                    break
            text = react.strip_observation("".join(reply))
            step = react.parse(text, parameters)
            if self.stopped or step.final is not None or last or step.action is None:
                # The answer: the Final Answer, or (no action to run) what the model wrote.
                final = (step.final if step.final is not None else step.thought or text).strip()
                if not self.stopped and final.startswith(sent) and len(final) > len(sent):
                    self.answer.append(final[len(sent):])
                    yield Delta(final[len(sent):])
                thought.thought = step.thought if step.final is not None else final
                yield thought
                return
            thought.thought = step.thought
            self._describe_calls(thought, [(step.action, step.arguments)])
            yield thought
            output, files = await self._call(step.action, step.arguments)
            if files is not None:
                yield files
                thought.files.extend(f["id"] for f in files.files)
            thought.observation = json.dumps({step.action: output}, ensure_ascii=False)
            yield thought
            if self.stopped:
                return
            messages.append(PromptMessage("assistant", text.strip()))
            messages.append(PromptMessage("user", f"{react.OBSERVATION} {output}"))

    # --- Shared -----------------------------------------------------------------------------------

    def _account(self, thought: Thought, usage: Usage) -> None:
        self._add_usage(usage)
        thought.tokens += usage.total_tokens
        thought.price = usage.total_price + (thought.price or 0)

    def _describe_calls(self, thought: Thought, calls: list[tuple[str, dict[str, Any] | None]]) -> None:
        thought.tool = ";".join(name for name, _ in calls)
        thought.tool_input = json.dumps({name: args if args is not None else {} for name, args in calls},
                                        ensure_ascii=False)
        thought.tool_labels = {name: {"en_US": getattr(self.tools.get(name), "label", "") or name}
                               for name, _ in calls}

    async def _call(self, name: str, arguments: dict[str, Any] | None) -> tuple[str, Files | None]:
        """Run one tool; whatever goes wrong becomes the observation. A stop cancels the call."""
        tool = self.tools.get(name)
        if tool is None:
            known = ", ".join(self.tools) or "none"
            return f"There is no tool named {name!r}. The tools are: {known}.", None
        if arguments is None:
            return "The tool arguments were not valid JSON. Call the tool again with a JSON object.", None
        task = asyncio.ensure_future(tool.invoke(arguments, context=self.context))
        while not task.done():
            await asyncio.wait({task}, timeout=STOP_CHECK_INTERVAL)
            if not task.done() and self.should_stop():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                self.stopped = True
                return "The user stopped the turn while the tool was running.", None
        try:
            produced = task.result()
        except ToolInvokeError as exc:
            return f"The tool failed: {exc.message}", None
        except Exception as exc:  # noqa: BLE001 - the model reads it; the turn goes on
            logger.exception("agent tool %s failed", name)
            return f"The tool failed: {exc}", None
        files = None
        shared = [m for m in produced if m.type in ("image", "blob")]
        if shared and self.keep_files is not None:
            kept = await self.keep_files(shared)
            files = Files(kept) if kept else None
        return observation_text(produced), files


def _arguments(call: ToolCall) -> dict[str, Any] | None:
    """The call's arguments as a dict; None when the model wrote something that is not JSON."""
    try:
        parsed = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None
