"""Workflow and chatflow apps for API tests: in alpha a workflow (Start → LLM → End), a chatflow
(Start → LLM with memory → Answer → Assigner on a conversation variable) and a chat app; in beta
a workflow app. Models are served by the fake OpenAI server."""

import dataclasses

import pytest
from django_tenants.utils import schema_context

from apps.applications import services as apps
from apps.applications.models import App
from apps.providers import services as providers
from apps.workflows import services
from tests.workflows.helpers import chain, graph, node

MODEL = {"provider": "openai_api_compatible", "name": "fake-chat", "mode": "chat",
         "completion_params": {"temperature": 0.2, "max_tokens": 256}}


def setup_model(fake) -> None:  # type: ignore[no-untyped-def]
    fake.serve("fake-chat")
    providers.credential_save(provider_id="openai_api_compatible", validate=False, data={
        "base_url": fake.base_url, "model": "fake-chat", "model_type": "llm", "function_calling": True,
        "vision": True})


def workflow_graph() -> dict:
    return graph([
        node("start", "start", variables=[
            {"variable": "q", "label": "Question", "type": "text-input", "required": True, "max_length": 100},
            {"variable": "n", "label": "Count", "type": "number", "required": False}]),
        node("llm", "llm", model=MODEL, prompt_template=[{"role": "system", "text": "Be brief."},
                                                         {"role": "user", "text": "Answer: {{#start.q#}}"}]),
        node("end", "end", outputs=[{"variable": "text", "value_selector": ["llm", "text"]},
                                    {"variable": "n", "value_selector": ["start", "n"]}]),
    ], chain("start", "llm", "end"))


def chatflow_graph() -> dict:
    return graph([
        node("start", "start", variables=[{"variable": "name", "label": "Name", "type": "text-input",
                                           "required": False}]),
        node("llm", "llm", model=MODEL, prompt_template=[{"role": "system", "text": "You help {{#start.name#}}."}],
             memory={"window": {"enabled": True, "size": 5}, "query_prompt_template": "{{#sys.query#}}"}),
        node("answer", "answer", answer="{{#llm.text#}}"),
        node("count", "assigner", version="2", items=[{"variable_selector": ["conversation", "turns"],
                                                      "input_type": "constant", "operation": "+=", "value": 1}]),
    ], chain("start", "llm", "answer", "count"))


@dataclasses.dataclass
class WorkflowSetup:
    workflow: App
    key: str
    chatflow: App
    chat_key: str
    chat: App
    plain_chat_key: str
    beta_workflow: App
    beta_key: str


def build(world, fake) -> WorkflowSetup:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        setup_model(fake)
        workflow = services.workflow_app_create(name="Flow", mode="workflow", graph=workflow_graph())
        services.publish(app=workflow)
        _, key = apps.api_key_create(app=workflow)
        chatflow = services.workflow_app_create(
            name="Chatflow", mode="advanced-chat", graph=chatflow_graph(),
            features={"opening_statement": "Hello!", "suggested_questions": ["Hi?"]},
            conversation_variables=[{"name": "turns", "value_type": "number", "value": 0}])
        services.publish(app=chatflow)
        _, chat_key = apps.api_key_create(app=chatflow)
        chat = apps.app_create(name="Plain", mode="chat", config={"model": MODEL})
        apps.app_publish(app=chat)
        _, plain_key = apps.api_key_create(app=chat)
    with schema_context(world.beta.schema_name):
        setup_model(fake)
        beta = services.workflow_app_create(name="Beta flow", mode="workflow", graph=workflow_graph())
        services.publish(app=beta)
        _, beta_key = apps.api_key_create(app=beta)
    return WorkflowSetup(workflow, key, chatflow, chat_key, chat, plain_key, beta, beta_key)


@pytest.fixture
def wf(world_tx, fake_openai) -> WorkflowSetup:  # type: ignore[no-untyped-def]
    return build(world_tx, fake_openai)
