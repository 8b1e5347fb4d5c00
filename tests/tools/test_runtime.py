"""The tool runtime's interface (apps.tools.runtime) with the built-in time provider, end to end."""

import datetime
import zoneinfo

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import schema_context

from apps.tools.entities import ToolContext, ToolInvokeError, ToolUnavailable
from apps.tools.runtime import available_tools, resolve_tool

pytestmark = pytest.mark.django_db

CURRENT = {"provider_type": "builtin", "provider_id": "time", "provider_name": "time",
           "tool_name": "current_time", "tool_parameters": {}}
CONVERT = {"provider_type": "builtin", "provider_id": "langgenius/time/time", "provider_name": "time",
           "tool_name": "timezone_conversion", "tool_parameters": {}}


def call(handle, arguments, **context):  # type: ignore[no-untyped-def]
    return async_to_sync(handle.invoke)(arguments, context=ToolContext(**context))


def test_bare_names_and_plugin_ids_resolve_to_the_same_provider(world) -> None:  # type: ignore[no-untyped-def]
    handles = available_tools(world.alpha, [CURRENT, CONVERT, {**CURRENT, "provider_type": "plugin",
                                                               "provider_id": "langgenius/time/time"}])
    assert [(h.provider_type, h.provider_id, h.name) for h in handles] == [
        ("builtin", "time", "current_time"), ("builtin", "time", "timezone_conversion"),
        ("builtin", "time", "current_time")]
    assert handles[1].description.startswith("A tool for converting a time")


def test_parameters_schema_has_only_the_llm_parameters(world) -> None:  # type: ignore[no-untyped-def]
    current, convert = available_tools(world.alpha, [CURRENT, CONVERT])
    assert current.parameters_schema() == {"type": "object", "properties": {}, "required": []}
    schema = convert.parameters_schema()
    assert schema["required"] == ["current_time", "current_timezone", "target_timezone"]
    assert schema["properties"]["current_time"]["type"] == "string"
    assert "%Y-%m-%d %H:%M:%S" in schema["properties"]["current_time"]["description"]


def test_current_time_uses_the_apps_form_values(world) -> None:  # type: ignore[no-untyped-def]
    spec = {**CURRENT, "tool_parameters": {"timezone": "Asia/Tokyo", "format": "%Z %Y"}}
    [handle] = available_tools(world.alpha, [spec])
    [message] = call(handle, {"timezone": "UTC"})  # the model cannot override a form value
    year = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo")).year
    assert (message.type, message.payload) == ("text", f"JST {year}")
    [default] = call(available_tools(world.alpha, [CURRENT])[0], {})
    assert default.payload.endswith(" UTC")


def test_timezone_conversion_converts(world) -> None:  # type: ignore[no-untyped-def]
    handle = resolve_tool(world.alpha, CONVERT)
    [message] = call(handle, {"current_time": "2024-01-31 12:00:00", "current_timezone": "Asia/Shanghai",
                              "target_timezone": "America/New_York"})
    assert (message.type, message.payload) == ("text", "2024-01-30 23:00:00")
    assert message.as_text() == "2024-01-30 23:00:00"


def test_bad_input_raises_tool_invoke_error_with_the_reason(world) -> None:  # type: ignore[no-untyped-def]
    handle = resolve_tool(world.alpha, CONVERT)
    with pytest.raises(ToolInvokeError, match="Missing required parameter: target_timezone"):
        call(handle, {"current_time": "2024-01-31 12:00:00", "current_timezone": "UTC"})
    with pytest.raises(ToolInvokeError, match="Unknown timezone: 'Mars/Olympus'"):
        call(handle, {"current_time": "2024-01-31 12:00:00", "current_timezone": "UTC",
                      "target_timezone": "Mars/Olympus"})
    select = resolve_tool(world.alpha, {**CURRENT, "tool_parameters": {"timezone": "Nowhere"}})
    with pytest.raises(ToolInvokeError, match="timezone must be one of: UTC"):
        call(select, {})


def test_unknown_disabled_and_dataset_entries_are_left_out(world) -> None:  # type: ignore[no-untyped-def]
    specs = [{**CURRENT, "tool_name": "no_such_tool"},
             {**CURRENT, "provider_id": "nope", "provider_name": "nope"},
             {**CURRENT, "enabled": False}, {"dataset": {"enabled": True, "id": "x"}}, CURRENT]
    assert [h.name for h in available_tools(world.alpha, specs)] == ["current_time"]
    with pytest.raises(ToolUnavailable, match="no tool 'no_such_tool'"):
        resolve_tool(world.alpha, specs[0])


def test_the_current_schema_is_used_without_a_workspace(world) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.beta.schema_name):
        [handle] = available_tools(None, [CURRENT])
    assert (handle.workspace_schema, handle.workspace_id) == (world.beta.schema_name, world.beta.pk)
