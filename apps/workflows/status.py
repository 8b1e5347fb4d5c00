"""How run and node statuses read in the console: one translated label and one badge style per
status, for the pages (templatetags/workflow_status.py) and the page scripts (as JSON)."""

from django.utils.translation import gettext_lazy as _

LABELS = {
    "running": _("Running"),
    "succeeded": _("Succeeded"),
    "failed": _("Failed"),
    "stopped": _("Stopped"),
    "partial-succeeded": _("Partially succeeded"),
    "exception": _("Failed, handled"),  # a node whose error strategy took over
    "idle": _("Not run"),
}
BADGES = {"succeeded": "badge--success", "failed": "badge--danger", "stopped": "badge--danger",
          "partial-succeeded": "badge--warning", "exception": "badge--warning"}


def label(status: str) -> str:
    return str(LABELS.get(status, status))


def badge(status: str) -> str:
    return BADGES.get(status, "badge--muted")


def labels() -> dict[str, str]:
    """Every label in the active language (the page scripts show live statuses)."""
    return {key: str(value) for key, value in LABELS.items()}
