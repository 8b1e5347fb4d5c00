"""The Knowledge API (/v1/datasets…, service-api.md §5): every endpoint's success and error paths
with the documented codes, dataset-key authentication, and isolation between workspaces, between
key kinds and for keys limited to chosen datasets. Embeddings: the built-in local model."""

import io
import json
import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from apps.applications import services as app_services
from apps.datasets import indexing, keys
from apps.datasets.models import Dataset, Document, Segment
from tests.datasets.conftest import LOCAL, add_text, make_dataset

pytestmark = pytest.mark.django_db

TEXT = (
    "Tessera stores embeddings in pgvector.\n\nThe refund policy allows returns within 30 days.\n\n"
    "Our office cat is called Miso."
)


class Api:
    """A client that sends one dataset key."""

    def __init__(self, key: str) -> None:
        self.key, self.client = key, Client()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, path: str, **query: Any):  # type: ignore[no-untyped-def]
        return self.client.get(path, query, headers=self._headers())

    def post(self, path: str, body: Any = None):  # type: ignore[no-untyped-def]
        return self.client.post(
            path,
            json.dumps(body if body is not None else {}),
            content_type="application/json",
            headers=self._headers(),
        )

    def patch(self, path: str, body: Any):  # type: ignore[no-untyped-def]
        return self.client.patch(
            path, json.dumps(body), content_type="application/json", headers=self._headers()
        )

    def delete(self, path: str):  # type: ignore[no-untyped-def]
        return self.client.delete(path, headers=self._headers())

    def upload(self, path: str, files: list[tuple[str, bytes]], data: dict | None = None):  # type: ignore[no-untyped-def]
        payload: dict[str, Any] = {}
        if files:
            uploads = []
            for name, content in files:
                handle = io.BytesIO(content)
                handle.name = name
                uploads.append(handle)
            payload["file"] = uploads if len(uploads) > 1 else uploads[0]
        if data is not None:
            payload["data"] = json.dumps(data)
        return self.client.post(path, payload, headers=self._headers())


def _deleted(response) -> bool:  # type: ignore[no-untyped-def]
    """The reference answers these DELETEs with HTTP 200 and the body `204` (service-api.md §6)."""
    return response.status_code == 200 and response.json() == 204


def error(response, code: str, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["status"] == status and body["message"], body
    return body


@pytest.fixture
def kapi(world):  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        _, raw = keys.api_key_create(actor_id=world.owner.user_id)
    return Api(raw)


def _dataset_with_doc(world, name: str = "Handbook", text: str = TEXT) -> tuple[Dataset, Document]:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        dataset = make_dataset(world, name=name, description=f"About {name}")
        document = add_text(
            world,
            dataset,
            text,
            process_rule={
                "mode": "custom",
                "rules": {
                    "pre_processing_rules": [],
                    "segmentation": {"separator": "\n\n", "max_tokens": 100, "chunk_overlap": 0},
                },
            },
        )
    return dataset, document


# --- Authentication ------------------------------------------------------------------------------------


def test_authentication_errors(world, kapi) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    body = error(client.get("/v1/datasets"), "unauthorized", 401)
    assert body["message"] == "Authorization header must be provided and start with 'Bearer'"
    body = error(
        client.get("/v1/datasets", headers={"Authorization": f"Basic {kapi.key}"}), "unauthorized", 401
    )
    assert body["message"] == "Authorization scheme must be 'Bearer'"
    response = client.get("/v1/datasets", headers={"Authorization": "Bearer dataset-nope"})
    assert error(response, "unauthorized", 401)["message"] == "Access token is invalid"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert kapi.get("/v1/datasets").status_code == 200


def test_an_app_key_cannot_call_the_knowledge_api_and_a_dataset_key_cannot_call_apps(world, kapi) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        app = app_services.app_create(name="Bot", mode="chat")
        _, app_key = app_services.api_key_create(app=app)
    error(Api(app_key).get("/v1/datasets"), "unauthorized", 401)
    error(kapi.get("/v1/parameters"), "unauthorized", 401)
    error(kapi.post("/v1/chat-messages", {"inputs": {}, "query": "hi", "user": "u"}), "unauthorized", 401)


def test_a_revoked_key_fails_at_once(world, kapi) -> None:  # type: ignore[no-untyped-def]
    assert kapi.get("/v1/datasets").status_code == 200
    with schema_context(world.alpha.schema_name):
        keys.api_key_revoke(key=keys.api_keys().get())
    error(kapi.get("/v1/datasets"), "unauthorized", 401)


# --- Datasets -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [[1, "a"], True, 7, 1.5, {"n": "x"}, ["Manuals"]])
def test_dataset_names_must_be_strings(world, kapi, name) -> None:  # type: ignore[no-untyped-def]
    body = error(kapi.post("/v1/datasets", {"name": name}), "invalid_param", 400)
    assert body["message"] == "name must be a string."
    dataset = kapi.post("/v1/datasets", {"name": "Typed"}).json()
    error(kapi.patch(f"/v1/datasets/{dataset['id']}", {"name": name}), "invalid_param", 400)
    with schema_context(world.alpha.schema_name):
        assert list(Dataset.objects.values_list("name", flat=True)) == ["Typed"]


def test_dataset_crud(world, kapi) -> None:  # type: ignore[no-untyped-def]
    response = kapi.post(
        "/v1/datasets",
        {"name": "Manuals", "description": "Product manuals", "indexing_technique": "high_quality", **LOCAL},
    )
    assert response.status_code == 200, response.content
    created = response.json()
    assert (
        created["name"] == "Manuals"
        and created["permission"] == "only_me"
        and created["provider"] == "vendor"
    )
    assert created["embedding_model"] == "all-MiniLM-L6-v2" and created["embedding_available"] is True
    assert created["retrieval_model_dict"]["search_method"] == "semantic_search"
    for key in (
        "app_count",
        "document_count",
        "word_count",
        "created_by",
        "author_name",
        "doc_metadata",
        "retrieval_model_dict",
        "external_knowledge_info",
        "icon_info",
        "enable_api",
        "total_documents",
    ):
        assert key in created
    assert created["created_by"] == str(world.owner.user_id)  # the API acts as the workspace owner

    error(kapi.post("/v1/datasets", {"name": "Manuals"}), "dataset_name_duplicate", 409)
    error(kapi.post("/v1/datasets", {"name": ""}), "invalid_param", 400)
    error(kapi.post("/v1/datasets", {"name": "x" * 41}), "invalid_param", 400)
    error(kapi.post("/v1/datasets", {"name": "Bad", "permission": "partial_members"}), "invalid_param", 400)
    error(kapi.post("/v1/datasets", {"name": "Bad", "indexing_technique": "magic"}), "invalid_param", 400)
    error(
        kapi.post(
            "/v1/datasets",
            {
                "name": "Bad",
                "indexing_technique": "high_quality",
                "embedding_model_provider": "openai",
                "embedding_model": "nope",
            },
        ),
        "provider_not_initialize",
        400,
    )
    kapi.post("/v1/datasets", {"name": "Second"})

    listing = kapi.get("/v1/datasets", page=1, limit=1).json()
    assert (
        listing["total"] == 2
        and listing["limit"] == 1
        and listing["page"] == 1
        and listing["has_more"] is True
    )
    assert [d["name"] for d in kapi.get("/v1/datasets", keyword="manu").json()["data"]] == ["Manuals"]
    error(kapi.get("/v1/datasets", limit="many"), "invalid_param", 400)

    dataset_id = created["id"]
    assert kapi.get(f"/v1/datasets/{dataset_id}").json()["description"] == "Product manuals"
    patched = kapi.patch(
        f"/v1/datasets/{dataset_id}",
        {
            "name": "Manuals v2",
            "permission": "all_team_members",
            "retrieval_model": {"search_method": "full_text_search", "top_k": 5},
        },
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["name"] == "Manuals v2" and patched.json()["partial_member_list"] == []
    assert patched.json()["retrieval_model_dict"]["top_k"] == 5
    error(kapi.patch(f"/v1/datasets/{dataset_id}", {"name": "Second"}), "dataset_name_duplicate", 409)

    assert _deleted(kapi.delete(f"/v1/datasets/{dataset_id}"))
    error(kapi.get(f"/v1/datasets/{dataset_id}"), "not_found", 404)
    error(kapi.delete(f"/v1/datasets/{uuid.uuid4()}"), "not_found", 404)


def test_delete_refused_while_an_app_uses_the_dataset(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = _dataset_with_doc(world)
    with schema_context(world.alpha.schema_name):
        app_services.app_create(
            name="Uses it",
            mode="chat",
            config={
                "dataset_configs": {
                    "retrieval_model": "multiple",
                    "reranking_enabled": True,
                    "reranking_mode": "weighted_score",
                    "weights": {"vector_setting": {"vector_weight": 0.7},
                                "keyword_setting": {"keyword_weight": 0.3}},
                    "datasets": {"datasets": [{"dataset": {"enabled": True, "id": str(dataset.pk)}}]},
                }
            },
        )
    assert kapi.get(f"/v1/datasets/{dataset.pk}").json()["app_count"] == 1
    error(kapi.delete(f"/v1/datasets/{dataset.pk}"), "dataset_in_use", 409)


def test_a_dataset_with_the_api_disabled_is_forbidden(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = _dataset_with_doc(world)
    with schema_context(world.alpha.schema_name):
        Dataset.objects.filter(pk=dataset.pk).update(enable_api=False)
    body = error(kapi.get(f"/v1/datasets/{dataset.pk}/documents"), "forbidden", 403)
    assert body["message"] == "Dataset api access is not enabled."


# --- Documents ------------------------------------------------------------------------------------------


def _index(world, document_id: str) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        indexing.index_document(document_id=document_id)


def test_create_by_text_then_indexing_status_list_detail_and_delete(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset = kapi.post("/v1/datasets", {"name": "Empty"}).json()
    base = f"/v1/datasets/{dataset['id']}"
    body = error(
        kapi.post(f"{base}/document/create_by_text", {"name": "n", "text": "t"}), "invalid_param", 400
    )
    assert body["message"] == "indexing_technique is required."
    error(
        kapi.post(f"{base}/document/create_by_text", {"text": "t", "indexing_technique": "economy"}),
        "invalid_param",
        400,
    )
    response = kapi.post(
        f"{base}/document/create-by-text",
        {
            "name": "Policies",
            "text": TEXT,
            "indexing_technique": "high_quality",
            **LOCAL,
            "process_rule": {
                "mode": "custom",
                "rules": {
                    "pre_processing_rules": [{"id": "remove_extra_spaces", "enabled": True}],
                    "segmentation": {"separator": "\n\n", "max_tokens": 100},
                },
            },
        },
    )
    assert response.status_code == 200, response.content
    created = response.json()
    document, batch = created["document"], created["batch"]
    assert document["name"] == "Policies" and document["created_from"] == "api"
    assert document["indexing_status"] == "waiting" and document["display_status"] == "queuing"
    assert kapi.get(base).json()["indexing_technique"] == "high_quality"

    status = kapi.get(f"{base}/documents/{batch}/indexing-status").json()["data"]
    assert [s["id"] for s in status] == [document["id"]] and status[0]["indexing_status"] == "waiting"
    _index(world, document["id"])
    status = kapi.get(f"{base}/documents/{batch}/indexing-status").json()["data"][0]
    assert (
        status["indexing_status"] == "completed"
        and status["completed_segments"] == status["total_segments"] == 3
    )
    assert isinstance(status["completed_at"], int)
    error(kapi.get(f"{base}/documents/nobatch/indexing-status"), "not_found", 404)

    listing = kapi.get(f"{base}/documents").json()
    assert listing["total"] == 1 and listing["data"][0]["display_status"] == "available"
    assert kapi.get(f"{base}/documents", status="error").json()["total"] == 0
    assert kapi.get(f"{base}/documents", keyword="polic").json()["total"] == 1

    detail = kapi.get(f"{base}/documents/{document['id']}").json()
    assert detail["segment_count"] == 3 and detail["doc_language"] == "English" and "doc_metadata" in detail
    assert set(kapi.get(f"{base}/documents/{document['id']}", metadata="only").json()) == {
        "id",
        "doc_type",
        "doc_metadata",
    }
    assert "doc_metadata" not in kapi.get(f"{base}/documents/{document['id']}", metadata="without").json()
    error(kapi.get(f"{base}/documents/{document['id']}", metadata="some"), "invalid_metadata", 400)
    error(kapi.get(f"{base}/documents/{uuid.uuid4()}"), "not_found", 404)

    assert _deleted(kapi.delete(f"{base}/documents/{document['id']}"))
    assert kapi.get(f"{base}/documents").json()["total"] == 0
    error(kapi.delete(f"{base}/documents/{document['id']}"), "not_found", 404)


def test_create_by_file_and_its_errors(world, kapi, settings) -> None:  # type: ignore[no-untyped-def]
    dataset = kapi.post("/v1/datasets", {"name": "Files", "indexing_technique": "economy"}).json()
    url = f"/v1/datasets/{dataset['id']}/document/create_by_file"
    rule = {"indexing_technique": "economy", "process_rule": {"mode": "automatic"}}
    body = error(kapi.upload(url, [("notes.md", b"# Notes\n\nhello")], {}), "invalid_param", 400)
    assert body["message"] == "process_rule is required."
    response = kapi.upload(url, [("notes.md", b"# Notes\n\nThe launch is in May.")], rule)
    assert response.status_code == 200, response.content
    assert response.json()["document"]["name"] == "notes.md" and response.json()["batch"]
    error(
        kapi.upload(url.replace("_", "-"), [("tool.exe", b"MZ\x90\x00binary")], rule),
        "unsupported_file_type",
        415,
    )
    error(kapi.upload(url, [("fake.pdf", b"not a pdf at all")], rule), "unsupported_file_type", 415)
    error(kapi.upload(url, [("a.txt", b"one"), ("b.txt", b"two")], rule), "too_many_files", 400)
    error(kapi.upload(url, [], rule), "no_file_uploaded", 400)
    settings.UPLOAD_FILE_SIZE_LIMIT = 0
    error(kapi.upload(url, [("big.txt", b"x" * 10)], rule), "file_too_large", 413)


def test_update_by_text_and_by_file_reindex_the_same_document(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, document = _dataset_with_doc(world)
    base = f"/v1/datasets/{dataset.pk}/documents/{document.pk}"
    error(kapi.post(f"{base}/update_by_text", {"text": "new"}), "invalid_param", 400)
    response = kapi.post(
        f"{base}/update-by-text", {"name": "Renamed", "text": "Penguins live in Antarctica."}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["document"]["id"] == str(document.pk) and body["document"]["name"] == "Renamed"
    assert body["batch"] != document.batch and body["document"]["indexing_status"] == "waiting"
    _index(world, str(document.pk))
    with schema_context(world.alpha.schema_name):
        assert list(Segment.objects.filter(document_id=document.pk).values_list("content", flat=True)) == [
            "Penguins live in Antarctica."
        ]
    response = kapi.upload(
        f"{base}/update_by_file", [("facts.txt", b"Owls hunt at night.")], {"name": "Owls"}
    )
    assert response.status_code == 200, response.content
    _index(world, str(document.pk))
    with schema_context(world.alpha.schema_name):
        doc = Document.objects.get(pk=document.pk)
        assert doc.name == "Owls" and doc.indexing_status == "completed"
        assert list(doc.segments.values_list("content", flat=True)) == ["Owls hunt at night."]
        Document.objects.filter(pk=document.pk).update(indexing_status="indexing")
    error(kapi.post(f"{base}/update_by_text", {"name": "n", "text": "x"}), "document_indexing", 400)
    error(kapi.delete(base), "document_indexing", 400)


def test_document_status_actions_and_archived_documents(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, document = _dataset_with_doc(world)
    base = f"/v1/datasets/{dataset.pk}"
    ids = {"document_ids": [str(document.pk)]}
    assert kapi.patch(f"{base}/documents/status/disable", ids).json() == {"result": "success"}
    assert kapi.get(f"{base}/documents/{document.pk}").json()["display_status"] == "disabled"
    error(kapi.patch(f"{base}/documents/status/explode", ids), "invalid_action", 400)
    error(
        kapi.patch(f"{base}/documents/status/enable", {"document_ids": [str(uuid.uuid4())]}), "not_found", 404
    )
    kapi.patch(f"{base}/documents/status/archive", ids)
    error(kapi.patch(f"{base}/documents/status/enable", ids), "archived_document_immutable", 403)
    error(
        kapi.post(f"{base}/documents/{document.pk}/update_by_text", {"name": "n", "text": "t"}),
        "archived_document_immutable",
        403,
    )
    error(kapi.delete(f"{base}/documents/{document.pk}"), "archived_document_immutable", 403)


# --- Segments ---------------------------------------------------------------------------------------------


def test_segments_crud(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, document = _dataset_with_doc(world)
    base = f"/v1/datasets/{dataset.pk}/documents/{document.pk}/segments"
    listing = kapi.get(base).json()
    assert (
        listing["total"] == 3 and listing["doc_form"] == "text_model" and listing["data"][0]["position"] == 1
    )
    assert kapi.get(base, keyword="Miso").json()["total"] == 1
    assert kapi.get(base, status="completed").json()["total"] == 3

    created = kapi.post(
        base.replace("segments", "segment"),
        {"segments": [{"content": "Dify means Do it for you", "keywords": ["Dify", "Do"]}]},
    )
    assert created.status_code == 200, created.content
    segment = created.json()["data"][0]
    assert (
        segment["keywords"] == ["Dify", "Do"]
        and segment["status"] == "completed"
        and segment["position"] == 4
    )
    error(kapi.post(base, {}), "invalid_param", 400)
    error(kapi.post(base, {"segments": [{"content": "  "}]}), "invalid_param", 400)

    one = kapi.get(f"{base}/{segment['id']}").json()
    assert one["data"]["content"] == "Dify means Do it for you" and one["doc_form"] == "text_model"
    updated = kapi.post(
        f"{base}/{segment['id']}", {"segment": {"content": "Dify: do it for you", "enabled": False}}
    )
    assert (
        updated.json()["data"]["content"] == "Dify: do it for you"
        and updated.json()["data"]["enabled"] is False
    )
    error(kapi.post(f"{base}/{segment['id']}", {"segment": "x"}), "invalid_param", 400)
    error(kapi.get(f"{base}/{uuid.uuid4()}"), "not_found", 404)
    assert _deleted(kapi.delete(f"{base}/{segment['id']}"))
    assert kapi.get(base).json()["total"] == 3

    with schema_context(world.alpha.schema_name):
        Document.objects.filter(pk=document.pk).update(enabled=False)
    assert (
        error(kapi.post(base, {"segments": [{"content": "x"}]}), "not_found", 404)["message"]
        == "Document is disabled."
    )
    with schema_context(world.alpha.schema_name):
        Document.objects.filter(pk=document.pk).update(enabled=True, indexing_status="indexing")
    assert (
        error(kapi.post(base, {"segments": [{"content": "x"}]}), "not_found", 404)["message"]
        == "Document is not completed."
    )


# --- Retrieval -----------------------------------------------------------------------------------------


def test_retrieve_modes_threshold_and_metadata_filters(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, document = _dataset_with_doc(world)
    url = f"/v1/datasets/{dataset.pk}/retrieve"
    response = kapi.post(url, {"query": "how many days do I have for a refund?"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query"] == {"content": "how many days do I have for a refund?"}
    top = body["records"][0]
    assert "refund" in top["segment"]["content"] and 0 < top["score"] <= 1
    assert top["segment"]["document"]["id"] == str(document.pk) and top["tsne_position"] is None
    assert len(body["records"]) <= 3

    full_text = kapi.post(
        url.replace("retrieve", "hit-testing"),
        {"query": "Miso", "retrieval_model": {"search_method": "full_text_search", "top_k": 1}},
    ).json()
    assert [r["segment"]["content"] for r in full_text["records"]] == ["Our office cat is called Miso."]
    strict = kapi.post(
        url,
        {
            "query": "refund",
            "retrieval_model": {
                "search_method": "semantic_search",
                "top_k": 3,
                "score_threshold_enabled": True,
                "score_threshold": 0.99,
            },
        },
    )
    assert strict.json()["records"] == []

    filtered = kapi.post(
        url,
        {
            "query": "refund",
            "retrieval_model": {
                "search_method": "semantic_search",
                "top_k": 3,
                "metadata_filtering_conditions": {
                    "logical_operator": "and",
                    "conditions": [
                        {"name": "document_name", "comparison_operator": "is", "value": "other.txt"}
                    ],
                },
            },
        },
    )
    assert filtered.status_code == 200 and filtered.json()["records"] == []
    error(
        kapi.post(
            url,
            {
                "query": "refund",
                "retrieval_model": {
                    "metadata_filtering_conditions": {
                        "conditions": [{"name": "nope", "comparison_operator": "is", "value": "x"}]
                    }
                },
            },
        ),
        "invalid_metadata",
        400,
    )
    error(kapi.post(url, {}), "invalid_param", 400)
    error(kapi.post(url, {"query": "q", "retrieval_model": {"top_k": 50}}), "invalid_param", 400)

    empty = kapi.post("/v1/datasets", {"name": "Not yet"}).json()
    error(kapi.post(f"/v1/datasets/{empty['id']}/retrieve", {"query": "x"}), "dataset_not_initialized", 400)


# --- Metadata ---------------------------------------------------------------------------------------------


def test_metadata_endpoints(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, document = _dataset_with_doc(world)
    base = f"/v1/datasets/{dataset.pk}"
    response = kapi.post(f"{base}/metadata", {"type": "string", "name": "team"})
    assert response.status_code == 201, response.content
    field = response.json()
    assert set(field) == {"id", "type", "name"} and field["name"] == "team"
    error(kapi.post(f"{base}/metadata", {"type": "colour", "name": "x"}), "invalid_metadata", 400)
    error(kapi.post(f"{base}/metadata", {"type": "string", "name": "team"}), "invalid_param", 400)

    ops = {
        "operation_data": [
            {
                "document_id": str(document.pk),
                "partial_update": False,
                "metadata_list": [{"id": field["id"], "name": "team", "value": "sales"}],
            }
        ]
    }
    assert kapi.post(f"{base}/documents/metadata", ops).json() == {"result": "success"}
    listing = kapi.get(f"{base}/metadata").json()
    assert listing == {
        "doc_metadata": [{"id": field["id"], "name": "team", "type": "string", "count": 1}],
        "built_in_field_enabled": False,
    }
    doc = kapi.get(f"{base}/documents/{document.pk}", metadata="only").json()
    assert doc["doc_metadata"] == [{"id": field["id"], "name": "team", "type": "string", "value": "sales"}]
    hits = kapi.post(
        f"{base}/retrieve",
        {
            "query": "refund",
            "retrieval_model": {
                "metadata_filtering_conditions": {
                    "conditions": [{"name": "team", "comparison_operator": "is", "value": "sales"}]
                }
            },
        },
    ).json()["records"]
    assert hits and hits[0]["segment"]["document"]["doc_metadata"][0]["value"] == "sales"

    renamed = kapi.patch(f"{base}/metadata/{field['id']}", {"name": "department"})
    assert renamed.json() == {"id": field["id"], "type": "string", "name": "department"}
    bad_doc = {"operation_data": [{"document_id": str(uuid.uuid4()), "metadata_list": []}]}
    error(kapi.post(f"{base}/documents/metadata", bad_doc), "not_found", 404)
    bad_field = {
        "operation_data": [
            {"document_id": str(document.pk), "metadata_list": [{"id": str(uuid.uuid4()), "value": "x"}]}
        ]
    }
    error(kapi.post(f"{base}/documents/metadata", bad_field), "invalid_metadata", 400)

    builtin = kapi.get(f"{base}/metadata/built-in").json()["fields"]
    assert {"name": "document_name", "type": "string"} in builtin and len(builtin) == 5
    assert kapi.post(f"{base}/metadata/built-in/enable").json() == {"result": "success"}
    assert kapi.get(f"{base}/metadata").json()["built_in_field_enabled"] is True
    error(kapi.post(f"{base}/metadata/built-in/toggle"), "invalid_action", 400)

    assert _deleted(kapi.delete(f"{base}/metadata/{field['id']}"))
    assert kapi.get(f"{base}/metadata").json()["doc_metadata"] == []
    error(kapi.delete(f"{base}/metadata/{field['id']}"), "not_found", 404)


# --- Isolation ------------------------------------------------------------------------------------------


def test_a_key_cannot_reach_another_workspaces_datasets(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, document = _dataset_with_doc(world)
    with schema_context(world.beta.schema_name):
        _, beta_raw = keys.api_key_create()
    beta = Api(beta_raw)
    assert beta.get("/v1/datasets").json()["data"] == []
    base = f"/v1/datasets/{dataset.pk}"
    for response in (
        beta.get(base),
        beta.get(f"{base}/documents"),
        beta.post(f"{base}/retrieve", {"query": "x"}),
        beta.delete(f"{base}/documents/{document.pk}"),
        beta.delete(base),
        beta.post(f"{base}/document/create_by_text", {"name": "n", "text": "t"}),
    ):
        error(response, "not_found", 404)
    with schema_context(world.alpha.schema_name):
        assert (
            Document.objects.filter(pk=document.pk).exists()
            and Dataset.objects.filter(pk=dataset.pk).exists()
        )


def test_a_limited_key_reaches_only_its_datasets(world) -> None:  # type: ignore[no-untyped-def]
    x, _ = _dataset_with_doc(world, name="X")
    y, y_doc = _dataset_with_doc(world, name="Y")
    with schema_context(world.alpha.schema_name):
        _, raw = keys.api_key_create(dataset_ids=[str(x.pk)])
    limited = Api(raw)
    assert [d["name"] for d in limited.get("/v1/datasets").json()["data"]] == ["X"]
    assert limited.get(f"/v1/datasets/{x.pk}").status_code == 200
    assert limited.post(f"/v1/datasets/{x.pk}/retrieve", {"query": "refund"}).status_code == 200
    for response in (
        limited.get(f"/v1/datasets/{y.pk}"),
        limited.post(f"/v1/datasets/{y.pk}/retrieve", {"query": "q"}),
        limited.delete(f"/v1/datasets/{y.pk}/documents/{y_doc.pk}"),
        limited.patch(f"/v1/datasets/{y.pk}", {"name": "Mine"}),
    ):
        error(response, "not_found", 404)
    error(limited.post("/v1/datasets", {"name": "New"}), "forbidden", 403)
    with schema_context(world.alpha.schema_name):  # deleting its only dataset never widens the key
        Dataset.objects.filter(pk=x.pk).delete()
    assert limited.get("/v1/datasets").json()["data"] == []


def test_create_dataset_api_key_command(world) -> None:  # type: ignore[no-untyped-def]
    x, _ = _dataset_with_doc(world, name="X")
    out = io.StringIO()
    call_command("create_dataset_api_key", "--workspace", "alpha", "--dataset", str(x.pk), stdout=out)
    raw = out.getvalue().strip()
    assert raw.startswith("dataset-") and len(raw) == len("dataset-") + 24
    assert [d["id"] for d in Api(raw).get("/v1/datasets").json()["data"]] == [str(x.pk)]
    with schema_context(world.alpha.schema_name):
        key = keys.api_keys().get()
        assert key.key_hash != raw and raw not in key.prefix + key.key_hash and key.limited
    out = io.StringIO()
    call_command("create_dataset_api_key", "--workspace", "alpha", stdout=out)
    assert Api(out.getvalue().strip()).get("/v1/datasets").json()["total"] == 1
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_dataset_api_key", "--workspace", "alpha", "--dataset", str(uuid.uuid4()))
    with pytest.raises(CommandError):
        call_command("create_dataset_api_key", "--workspace", "nowhere")


def test_openapi_schema_at_v1_docs(world) -> None:  # type: ignore[no-untyped-def]
    response = Client().get("/v1/docs", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert "/v1/datasets" in schema["paths"] and "/v1/datasets/{dataset_id}/retrieve" in schema["paths"]


@pytest.mark.django_db(transaction=True)
def test_the_knowledge_api_through_daphne(live_url, world_tx) -> None:  # type: ignore[no-untyped-def]
    """The real ASGI stack: /v1 is served by the middleware-less handler (config/asgi.py)."""
    import httpx

    dataset, _document = _dataset_with_doc(world_tx)
    with schema_context(world_tx.alpha.schema_name):
        _, raw = keys.api_key_create()
    headers = {"Authorization": f"Bearer {raw}"}
    with httpx.Client(base_url=live_url, headers=headers, timeout=60) as client:
        listing = client.get("/v1/datasets")
        assert listing.status_code == 200 and listing.json()["data"][0]["name"] == "Handbook"
        hits = client.post(f"/v1/datasets/{dataset.pk}/retrieve", json={"query": "office cat"})
        assert hits.status_code == 200 and "Miso" in hits.json()["records"][0]["segment"]["content"]
        upload = client.post(
            f"/v1/datasets/{dataset.pk}/document/create_by_file",
            files={"file": ("more.txt", b"Penguins live in Antarctica.", "text/plain")},
            data={"data": json.dumps({"process_rule": {"mode": "automatic"}})},
        )
        assert upload.status_code == 200, upload.text
        assert upload.json()["document"]["name"] == "more.txt"
        refused = client.get("/v1/datasets", headers={"Authorization": "Bearer dataset-wrong"})
        assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
