"""One workflow with a Tool node and an Agent node whose tool is an MCP server's (issue 21 §9): the
Tool node's result feeds the Agent's query, the Agent calls the MCP tool through the real `mcp` SDK
client against the SDK-built fake server, and answers from its result."""

import pytest
from django_tenants.utils import tenant_context

from apps.tools import services
from tests.fakes.base import FakeToolCall, Reply
from tests.tools.mcp_fake import TOKEN
from tests.tools.test_tool_node import START, end, run_in, tool_node
from tests.workflows.conftest import setup_model
from tests.workflows.helpers import chain, graph, node

pytestmark = pytest.mark.django_db(transaction=True)


def test_tool_node_agent_node_and_an_mcp_tool(world_tx, fake_openai, mcp_server, allow_loopback) -> None:  # type: ignore[no-untyped-def]
    with tenant_context(world_tx.alpha):
        setup_model(fake_openai)
        calc = services.mcp_server_save(name="calc", url=f"{mcp_server.url}/mcp", bearer=TOKEN)
        calc.refresh_from_db()
    convert = tool_node("convert", "builtin", "time", "timezone_conversion", {
        "current_time": {"type": "constant", "value": "2024-01-31 09:00:00"},
        "current_timezone": {"type": "constant", "value": "Asia/Tokyo"},
        "target_timezone": {"type": "constant", "value": "UTC"}})
    model = {"provider": "openai_api_compatible", "model": "fake-chat", "mode": "chat", "completion_params": {}}
    agent = node("agent", "agent", agent_strategy_provider_name="langgenius/agent/agent",
                 agent_strategy_name="function_calling", agent_parameters={
                     "model": {"type": "constant", "value": model},
                     "tools": {"type": "constant", "value": [
                         {"enabled": True, "type": "mcp", "provider_id": str(calc.pk), "provider_name": "calc",
                          "tool_name": "add", "parameters": {}}]},
                     "instruction": {"type": "constant", "value": "Add with the tool."},
                     "query": {"type": "mixed", "value": "At {{#convert.text#}} add {{#start.n#}} and 1"},
                     "maximum_iterations": {"type": "constant", "value": 2}})
    fake_openai.script(Reply(tool_calls=[FakeToolCall("add", {"a": 41, "b": 1})]))
    fake_openai.responder = lambda request: Reply(f"The sum is {request.json['messages'][-1]['content']}.")
    raw = graph([START, convert, agent, end(answer=["agent", "text"])], chain("start", "convert", "agent", "end"))
    result = run_in(world_tx.alpha, raw, {"n": 41})
    assert result.status == "succeeded", result.error
    assert result.outputs == {"answer": "The sum is 42."}
    first = fake_openai.requests_to("chat")[0].json
    assert first["messages"][-1]["content"] == "At 2024-01-31 00:00:00 add 41 and 1"
    [declared] = first["tools"]
    assert declared["function"]["name"] == "add" and set(declared["function"]["parameters"]["properties"]) == {"a", "b"}
