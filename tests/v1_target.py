"""A real workspace for the /v1 fuzz tests (tests/core/test_fuzz_v1.py, test_schemathesis.py): alpha's
chat, chatflow, workflow and completion apps with their keys, a dataset key, and an economy dataset
with an indexed document, a segment and a metadata field; the ids the routes take."""

import dataclasses
import json
import uuid
from typing import Any

import requests
from asgiref.sync import sync_to_async
from django_tenants.utils import schema_context

from apps.applications import services as app_services
from apps.datasets import keys
from apps.datasets import services as datasets
from apps.datasets.models import Segment
from tests.asgi_http import asgi_request
from tests.datasets.conftest import add_text, make_dataset
from tests.workflows.conftest import MODEL, build


@dataclasses.dataclass
class Target:
    keys: dict[str, str]
    ids: dict[str, str]

    def key_for(self, route: str) -> str:
        if route.startswith("v1/datasets"):
            return self.keys["dataset"]
        if route.startswith("v1/completion-messages"):
            return self.keys["completion"]
        if route.startswith("v1/workflows"):
            return self.keys["workflow"]
        if "/variables" in route:
            return self.keys["chatflow"]
        return self.keys["chat"]

    def path(self, route: str, override: dict[str, str] | None = None) -> str:
        """The route with real ids (or ``override`` values, already percent-encoded) filled in."""
        parts = []
        for part in route.split("/"):
            if part.startswith("<") and part.endswith(">"):
                name = part[1:-1].split(":")[-1]
                part = (override or {}).get(name, self.ids.get(name, "x"))
            parts.append(part)
        return "/" + "/".join(parts)

    def fill(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return self.ids.get(value[1:-1], value)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value


def build_target(world, fake) -> Target:  # type: ignore[no-untyped-def]
    setup = build(world, fake)
    with schema_context(world.alpha.schema_name):
        completion = app_services.app_create(name="Writer", mode="completion", config={
            "model": MODEL, "pre_prompt": "Write about {{topic}}.",
            "user_input_form": [{"paragraph": {"variable": "topic", "label": "Topic", "required": True}}]})
        app_services.app_publish(app=completion)
        _, completion_key = app_services.api_key_create(app=completion)
        _, dataset_key = keys.api_key_create(actor_id=world.owner.user_id)
        dataset = make_dataset(world, name="Handbook", technique="economy")
        document = add_text(world, dataset, "Refunds within 30 days.\n\nThe cat is Miso.")
        segment = Segment.objects.filter(document=document).first()
        field = datasets.metadata_field_create(dataset=dataset, name="author", type="string")
    return Target(
        keys={"chat": setup.plain_chat_key, "chatflow": setup.chat_key, "workflow": setup.key,
              "completion": completion_key, "dataset": dataset_key},
        ids={"dataset_id": str(dataset.pk), "document_id": str(document.pk), "segment_id": str(segment.pk),
             "metadata_id": str(field.pk), "batch": document.batch, "action": "enable",
             "task_id": "task-1", "variable_id": str(uuid.uuid4()), "workflow_id": str(uuid.uuid4()),
             "run_id": str(uuid.uuid4()), "file_id": str(uuid.uuid4()), "conversation_id": str(uuid.uuid4()),
             "message_id": str(uuid.uuid4())})


TURN = {"inputs": {}, "query": "Hi", "user": "fuzz"}


def remember_turn(target: Target, answer: dict[str, Any]) -> None:
    target.ids["conversation_id"], target.ids["message_id"] = answer["conversation_id"], answer["message_id"]


async def v1_target(world, fake_openai) -> Target:  # type: ignore[no-untyped-def]
    """The workspace (alpha, committed: transactional tests) with a real conversation and message
    of the chat app's end user "fuzz", made through the in-process ASGI application."""
    found = await sync_to_async(build_target)(world, fake_openai)
    answer = await asgi_request("POST", "/v1/chat-messages", key=found.keys["chat"],
                                body=json.dumps(TURN).encode())
    assert answer.status == 200, answer.content
    remember_turn(found, answer.json())
    return found


def chat_turn(target: Target, base_url: str) -> None:
    """The same conversation and message, made through a live server."""
    response = requests.post(f"{base_url}/v1/chat-messages", json=TURN, timeout=60,
                             headers={"Authorization": f"Bearer {target.keys['chat']}"})
    assert response.status_code == 200, response.content
    remember_turn(target, response.json())
