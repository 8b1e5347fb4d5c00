"""The `time` provider: the current time in a timezone, and timezone conversion."""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.tools.builtin.base import BuiltinProvider, BuiltinTool, Call, Result
from apps.tools.entities import Option, ToolInvokeError, ToolMessage, ToolParameter

TIMEZONES = ("UTC", "America/New_York", "America/Los_Angeles", "America/Chicago", "America/Sao_Paulo",
             "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Moscow", "Africa/Cairo",
             "Africa/Johannesburg", "Asia/Dubai", "Asia/Kolkata", "Asia/Shanghai", "Asia/Hong_Kong",
             "Asia/Singapore", "Asia/Tokyo", "Asia/Seoul", "Australia/Sydney", "Pacific/Auckland")
DEFAULT_FORMAT = "%Y-%m-%d %H:%M:%S %Z"


def zone(name: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(str(name or "UTC").strip())
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ToolInvokeError(
            f"Unknown timezone: {name!r}. Use an IANA name such as Asia/Shanghai.") from None


async def current_time(params: dict[str, Any], call: Call) -> Result:
    now = datetime.datetime.now(zone(params.get("timezone")))
    try:
        return [ToolMessage("text", now.strftime(str(params.get("format") or DEFAULT_FORMAT)))]
    except ValueError as exc:
        raise ToolInvokeError(f"Bad time format: {exc}") from None


async def timezone_conversion(params: dict[str, Any], call: Call) -> Result:
    source, target = zone(params.get("current_timezone")), zone(params.get("target_timezone"))
    text = str(params.get("current_time") or "").strip()
    try:
        moment = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=source)
    except ValueError:
        raise ToolInvokeError(f"Cannot read {text!r}: the time must look like 2024-01-31 13:45:00.") from None
    return [ToolMessage("text", moment.astimezone(target).strftime("%Y-%m-%d %H:%M:%S"))]


ZONE_OPTIONS = tuple(Option(name, name) for name in TIMEZONES)

PROVIDER = BuiltinProvider(
    name="time",
    label=_("Time"),
    description=_("Current time in any timezone, and conversion between timezones."),
    icon="🕒",
    tags=("utilities",),
    tools=(
        BuiltinTool(
            name="current_time", label=_("Current Time"), description=_("The current date and time."),
            llm_description="A tool for getting the current time.",
            parameters=(
                ToolParameter("format", "string", "form", label=_("Format"), default=DEFAULT_FORMAT,
                              help=_("Python strftime format, for example %Y-%m-%d %H:%M:%S.")),
                ToolParameter("timezone", "select", "form", label=_("Timezone"), default="UTC",
                              options=ZONE_OPTIONS),
            ),
            run=current_time),
        BuiltinTool(
            name="timezone_conversion", label=_("Timezone Conversion"),
            description=_("Converts a time from one timezone to another."),
            llm_description="A tool for converting a time (format %Y-%m-%d %H:%M:%S) between IANA timezones.",
            parameters=(
                ToolParameter("current_time", "string", "llm", required=True, label=_("Time"),
                              llm_description="The time to convert, formatted %Y-%m-%d %H:%M:%S"),
                ToolParameter("current_timezone", "string", "llm", required=True, label=_("From timezone"),
                              llm_description="IANA timezone of the given time, e.g. Asia/Shanghai"),
                ToolParameter("target_timezone", "string", "llm", required=True, label=_("To timezone"),
                              llm_description="IANA timezone to convert to, e.g. America/New_York"),
            ),
            run=timezone_conversion),
    ),
)
