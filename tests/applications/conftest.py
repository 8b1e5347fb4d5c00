"""Apps for Service API tests: a chat app and a completion app in alpha, one chat app in beta,
all on an OpenAI-compatible model served by the fake OpenAI server."""

import dataclasses

import pytest
from django_tenants.utils import schema_context

from apps.applications import services as apps
from apps.applications.models import App
from apps.providers import services as providers


@dataclasses.dataclass
class ApiSetup:
    chat: App
    chat_key: str
    completion: App
    completion_key: str
    beta_chat: App
    beta_key: str


def _model(fake) -> dict:  # type: ignore[no-untyped-def]
    fake.serve("fake-chat")
    providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
        "base_url": fake.base_url, "model": "fake-chat", "model_type": "llm"})
    return {"provider": "openai_api_compatible", "name": "fake-chat", "mode": "chat",
            "completion_params": {"temperature": 0.3, "max_tokens": 256}}


FORM = [{"text-input": {"variable": "name", "label": "Name", "required": True, "max_length": 20}},
        {"select": {"variable": "tone", "label": "Tone", "required": False, "options": ["warm", "dry"],
                    "default": "warm"}}]


def build_api_setup(world, fake) -> ApiSetup:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        model = _model(fake)
        chat = apps.app_create(name="Helper", mode="chat", config={
            "model": model, "pre_prompt": "You help {{name}} in a {{tone}} tone.", "user_input_form": FORM,
            "opening_statement": "Hi {{name}}!", "suggested_questions": ["What can you do?"]})
        apps.app_publish(app=chat)
        completion = apps.app_create(name="Writer", mode="completion", config={
            "model": model, "pre_prompt": "Write about {{topic}}.",
            "user_input_form": [{"paragraph": {"variable": "topic", "label": "Topic", "required": True}}]})
        apps.app_publish(app=completion)
        _, chat_key = apps.api_key_create(app=chat)
        _, completion_key = apps.api_key_create(app=completion)
    with schema_context(world.beta.schema_name):
        beta_chat = apps.app_create(name="Beta bot", mode="chat", config={"model": _model(fake)})
        apps.app_publish(app=beta_chat)
        _, beta_key = apps.api_key_create(app=beta_chat)
    return ApiSetup(chat, chat_key, completion, completion_key, beta_chat, beta_key)


@pytest.fixture
def api(world_tx, fake_openai) -> ApiSetup:  # type: ignore[no-untyped-def]
    return build_api_setup(world_tx, fake_openai)
