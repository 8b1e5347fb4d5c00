"""Templates an app can start from in the Studio's "Create app" page: plain dicts of name, mode and
the draft configuration (the DSL's model_config, dsl.md §4; services.app_create fills in the rest).

The model is left empty on purpose: the workspace's default LLM is used until the editor picks one.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _

TEMPLATES: list[dict[str, Any]] = [
    {
        "id": "support",
        "name": _("Customer support assistant"),
        "description": _("Answers customers' questions politely and hands over to a person when unsure."),
        "mode": "chat",
        "icon": "🎧",
        "icon_background": "#E4EEF9",
        "config": {
            "pre_prompt": (
                "You are a friendly customer support assistant for {{company}}. Answer clearly and briefly, "
                "ask a follow-up question when the request is ambiguous, and say that a colleague will get "
                "back to the customer when you do not know the answer. Never invent order numbers or prices."
            ),
            "opening_statement": "Hello! I'm the {{company}} support assistant. How can I help you today?",
            "suggested_questions": ["Where is my order?", "How do I reset my password?",
                                    "Can I change my subscription?"],
            "user_input_form": [
                {"text-input": {"variable": "company", "label": "Company", "required": True, "max_length": 60,
                                "default": "Acme"}},
            ],
        },
    },
    {
        "id": "translator",
        "name": _("Translator"),
        "description": _("Translates a text into the language you choose, keeping its tone and formatting."),
        "mode": "completion",
        "icon": "🌐",
        "icon_background": "#E3F4EC",
        "config": {
            "pre_prompt": (
                "Translate the text below into {{target_language}}. Keep the tone, the formatting and any "
                "names as they are; answer with the translation only.\n\n{{text}}"
            ),
            "user_input_form": [
                {"paragraph": {"variable": "text", "label": "Text", "required": True}},
                {"select": {"variable": "target_language", "label": "Target language", "required": True,
                            "options": ["English", "Chinese", "Japanese", "French", "German", "Spanish"],
                            "default": "English"}},
            ],
        },
    },
    {
        "id": "meeting_summarizer",
        "name": _("Meeting summarizer"),
        "description": _("Turns meeting notes or a transcript into a summary, decisions and action items."),
        "mode": "completion",
        "icon": "📝",
        "icon_background": "#FDF1DC",
        "config": {
            "pre_prompt": (
                "Summarize the meeting below for people who missed it. Write three sections: Summary (at "
                "most five sentences), Decisions, and Action items (owner and due date when mentioned).\n\n"
                "{{transcript}}"
            ),
            "user_input_form": [
                {"paragraph": {"variable": "transcript", "label": "Notes or transcript", "required": True}},
            ],
        },
    },
    {
        "id": "research_agent",
        "name": _("Research agent"),
        "description": _("An agent that plans, uses the tools you give it and cites what it found."),
        "mode": "agent-chat",
        "icon": "🔎",
        "icon_background": "#EFE8FB",
        "config": {
            "pre_prompt": (
                "You are a careful research assistant. Break the question into steps, use the available "
                "tools when they help, and end with a short answer followed by the sources you used."
            ),
            "opening_statement": "What would you like me to look into?",
        },
    },
]

BY_ID: dict[str, dict[str, Any]] = {template["id"]: template for template in TEMPLATES}
