"""A workflow app with a WebApp site in alpha (Start(topic, style, n) → LLM → Template (Markdown)
→ HTTP Request for a picture → End) and one in beta, for the workflow WebApp's tests."""

import dataclasses

from django_tenants.utils import schema_context

from apps.applications import services as apps
from apps.applications.models import App
from apps.workflows import services
from tests.workflows.conftest import MODEL, setup_model
from tests.workflows.helpers import chain, graph, node


def workflow_graph(picture_url: str) -> dict:
    return graph([
        node("start", "start", variables=[
            {"variable": "topic", "label": "Topic", "type": "text-input", "required": True,
             "max_length": 100},
            {"variable": "style", "label": "Style", "type": "select", "required": False,
             "options": ["plain", "fancy"]},
            {"variable": "n", "label": "Count", "type": "number", "required": False}]),
        node("llm", "llm", title="Write", model=MODEL,
             prompt_template=[{"role": "user", "text": "Write about {{#start.topic#}}."}]),
        node("tpl", "template-transform", title="Format", template="## {{ topic }}\n\n{{ text }}",
             variables=[{"variable": "topic", "value_selector": ["start", "topic"]},
                        {"variable": "text", "value_selector": ["llm", "text"]}]),
        node("pic", "http-request", title="Picture", method="get", url=picture_url, headers="", params="",
             body={"type": "none", "data": []}),
        node("end", "end", outputs=[{"variable": "text", "value_selector": ["tpl", "output"]},
                                    {"variable": "picture", "value_selector": ["pic", "files"]},
                                    {"variable": "n", "value_selector": ["start", "n"]}]),
    ], chain("start", "llm", "tpl", "pic", "end"))


def text_graph() -> dict:
    """Start(topic) → LLM → End(text): one text output (what a batch row shows)."""
    return graph([
        node("start", "start", variables=[
            {"variable": "topic", "label": "Topic", "type": "text-input", "required": True,
             "max_length": 100}]),
        node("llm", "llm", title="Write", model=MODEL,
             prompt_template=[{"role": "user", "text": "Write about {{#start.topic#}}."}]),
        node("end", "end", outputs=[{"variable": "text", "value_selector": ["llm", "text"]}]),
    ], chain("start", "llm", "end"))


def file_graph() -> dict:
    """Start(doc: a required document) → Document Extractor → End(text)."""
    return graph([
        node("start", "start", variables=[
            {"variable": "doc", "label": "Document", "type": "file", "required": True,
             "allowed_file_types": ["document"], "allowed_file_upload_methods": ["local_file"]}]),
        node("read", "document-extractor", title="Read", variable_selector=["start", "doc"],
             is_array_file=False),
        node("end", "end", outputs=[{"variable": "text", "value_selector": ["read", "text"]}]),
    ], chain("start", "read", "end"))


@dataclasses.dataclass
class FlowSite:
    app: App
    code: str
    beta_app: App
    beta_code: str


def build_flow_site(world, fake, graph_: dict) -> FlowSite:  # type: ignore[no-untyped-def]
    made = {}
    for schema in (world.alpha.schema_name, world.beta.schema_name):
        with schema_context(schema):
            setup_model(fake)
            app = services.workflow_app_create(name=f"Flow {schema}", mode="workflow", graph=graph_)
            services.publish(app=app)
            made[schema] = (app, apps.site_get_or_create(app=app).code)
    (alpha, code), (beta, beta_code) = made[world.alpha.schema_name], made[world.beta.schema_name]
    return FlowSite(alpha, code, beta, beta_code)
