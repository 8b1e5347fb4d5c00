"""Knowledge in the console: navigation, list and create, permissions ('only me', roles), uploads
with their limits and the preview, live progress rows, document actions, segments, metadata,
hit testing with history, settings and delete; and every page refused across workspaces."""

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from apps.datasets import indexing, services
from apps.datasets.models import Dataset, Document, HitTestQuery, Segment
from tests.conftest import client_for
from tests.datasets.conftest import LOCAL, add_text, make_dataset

pytestmark = pytest.mark.django_db
BASE = "/console/alpha/datasets/"


def _page(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _in_alpha(world):  # type: ignore[no-untyped-def]
    return schema_context(world.alpha.schema_name)


def test_knowledge_is_in_the_navigation_and_lists_datasets(world) -> None:  # type: ignore[no-untyped-def]
    with _in_alpha(world):
        make_dataset(world, name="Team handbook", permission="all_team_members")
    html = _page(client_for(world.normal.user).get("/console/alpha/"))
    assert 'href="/console/alpha/datasets/"' in html and "Knowledge" in html
    listing = _page(client_for(world.normal.user).get(BASE))
    assert "Team handbook" in listing and "Create knowledge" not in listing  # normal members only read
    assert 'aria-current="page"' in listing


def test_the_list_says_how_many_new_vectors_wait_for_the_search_index(world) -> None:  # type: ignore[no-untyped-def]
    with _in_alpha(world):
        document = add_text(world, make_dataset(world), "Kettles boil water.\n\nTeapots brew tea.",
                            process_rule={"mode": "custom", "rules": {"pre_processing_rules": [], "segmentation": {
                                "separator": "\n\n", "max_tokens": 100}}})
        assert document.segments.count() == 2
    assert 'data-testid="vector-tail"' not in _page(client_for(world.owner.user).get(BASE))  # merged already
    with _in_alpha(world):
        Segment.objects.filter(document=document).update(vector_indexed=False)
    listing = _page(client_for(world.owner.user).get(BASE))
    assert "2 new vectors are being added to the search index; they can already be found." in listing
    japanese = _page(client_for(world.owner.user).get(BASE, HTTP_ACCEPT_LANGUAGE="ja"))
    assert "2 件の新しいベクトルを検索インデックスに追加しています" in japanese


def test_create_a_dataset_from_the_console(world) -> None:  # type: ignore[no-untyped-def]
    editor = client_for(world.editor.user)
    response = editor.post(BASE + "new/", {
        "name": "FAQ", "description": "Answers", "permission": "only_me", "indexing_technique": "high_quality",
        "embedding_model": "local:all-MiniLM-L6-v2", "search_method": "hybrid_search", "top_k": 4,
        "score_threshold": 0.3, "score_threshold_enabled": "on", "vector_weight": 0.6, "rerank_model": "",
        "reranking_mode": "weighted_score"})
    with _in_alpha(world):
        dataset = Dataset.objects.get(name="FAQ")
    assert response.status_code == 302 and response["Location"] == f"{BASE}{dataset.pk}/documents/"
    assert dataset.created_by_id == world.editor.user_id and dataset.embedding_model == "all-MiniLM-L6-v2"
    assert dataset.retrieval_model["search_method"] == "hybrid_search"
    assert dataset.retrieval_model["weights"]["keyword_setting"]["keyword_weight"] == 0.4
    duplicate = editor.post(BASE + "new/", {"name": "FAQ", "permission": "only_me", "indexing_technique": "economy",
                                            "search_method": "semantic_search", "top_k": 3, "vector_weight": 0.7})
    assert "already exists" in _page(duplicate)
    assert client_for(world.normal.user).get(BASE + "new/").status_code == 403


def test_only_me_datasets_are_hidden_from_other_members(world) -> None:  # type: ignore[no-untyped-def]
    with _in_alpha(world):
        private = services.dataset_create(name="Edith's notes", actor_id=world.editor.user_id,
                                          indexing_technique="economy")
    url = f"{BASE}{private.pk}/documents/"
    assert _page(client_for(world.editor.user).get(url))
    assert _page(client_for(world.owner.user).get(url))  # the owner sees every dataset
    for member in (world.admin, world.normal):
        assert client_for(member.user).get(url).status_code == 404
        assert "Edith&#x27;s notes" not in _page(client_for(member.user).get(BASE))
    with _in_alpha(world):
        services.dataset_update(dataset=private, actor_id=world.editor.user_id, permission="all_team_members")
    assert _page(client_for(world.normal.user).get(url))


def test_upload_preview_limits_and_live_rows(world, settings) -> None:  # type: ignore[no-untyped-def]
    with _in_alpha(world):
        dataset = make_dataset(world, technique="economy", permission="all_team_members")
    owner = client_for(world.owner.user)
    rule = {"mode": "custom", "separator": "###", "max_tokens": 100, "chunk_overlap": 0,
            "remove_extra_spaces": "on", "doc_form": "text_model", "doc_language": "English"}
    preview = owner.post(f"{BASE}{dataset.pk}/documents/preview/", {
        **rule, "files": SimpleUploadedFile("a.txt", b"first part###second part")})
    html = _page(preview)
    assert "2 segments" in html and "first part" in html and "second part" in html
    bad = owner.post(f"{BASE}{dataset.pk}/documents/preview/", {
        **rule, "files": SimpleUploadedFile("a.exe", b"MZ\x00")})
    assert "File type not allowed" in _page(bad)
    settings.UPLOAD_FILE_BATCH_LIMIT = 2
    too_many = owner.post(f"{BASE}{dataset.pk}/documents/upload/", {**rule, "files": [
        SimpleUploadedFile(f"{i}.txt", b"x") for i in range(3)]}, follow=True)
    assert "Too many files" in _page(too_many)
    response = owner.post(f"{BASE}{dataset.pk}/documents/upload/", {**rule, "files": [
        SimpleUploadedFile("one.txt", b"alpha###beta"), SimpleUploadedFile("two.md", b"# gamma")]})
    assert response.status_code == 302
    text = owner.post(f"{BASE}{dataset.pk}/documents/upload/", {**rule, "source": "text", "name": "Pasted",
                                                                 "text": "delta###epsilon"})
    assert text.status_code == 302
    with _in_alpha(world):
        documents = {d.name: d for d in dataset.documents.all()}
        assert set(documents) == {"one.txt", "two.md", "Pasted"}
        assert {d.indexing_status for d in documents.values()} == {"waiting"}
    rows = _page(owner.get(f"{BASE}{dataset.pk}/documents/?rows=1"))
    assert 'hx-trigger="every 1s"' in rows and rows.count("<tr") == 3  # polls while anything runs
    with _in_alpha(world):
        for document in documents.values():
            indexing.index_document(document_id=document.pk)
    rows = _page(owner.get(f"{BASE}{dataset.pk}/documents/?rows=1"))
    assert "every 1s" not in rows and rows.count('aria-valuenow="100"') == 3
    assert "2 / 2 segments" in rows


def test_document_actions_segments_and_metadata(world) -> None:  # type: ignore[no-untyped-def]
    with _in_alpha(world):
        dataset = make_dataset(world, permission="all_team_members")
        field = services.metadata_field_create(dataset=dataset, name="team", type="string")
        document = add_text(world, dataset, "Kettles boil water.")
        segment = document.segments.get()
    owner = client_for(world.owner.user)
    doc_url = f"{BASE}{dataset.pk}/documents/{document.pk}/"
    html = _page(owner.get(doc_url))
    assert "Kettles boil water." in html and "Add a segment" in html
    owner.post(f"{BASE}{dataset.pk}/segments/{segment.pk}/edit/", {"content": "Ovens bake bread.",
                                                                   "keywords": "bakery, oven"})
    owner.post(doc_url + "segments/add/", {"content": "Fridges keep food cold.", "keywords": ""})
    owner.post(doc_url + "metadata/", {f"field-{field.pk}": "kitchen"})
    with _in_alpha(world):
        segment.refresh_from_db()
        assert segment.content == "Ovens bake bread." and segment.keywords == ["bakery", "oven"]
        assert document.segments.count() == 2
        assert Document.objects.get(pk=document.pk).metadata == {str(field.pk): "kitchen"}
    owner.post(f"{BASE}{dataset.pk}/segments/{segment.pk}/toggle/", {"action": "disable"})
    with _in_alpha(world):
        assert not Segment.objects.get(pk=segment.pk).enabled
    for action, check in (("disable", lambda d: not d.enabled), ("enable", lambda d: d.enabled),
                          ("archive", lambda d: d.archived), ("un_archive", lambda d: not d.archived)):
        assert owner.post(doc_url + f"action/{action}/").status_code == 302
        with _in_alpha(world):
            assert check(Document.objects.get(pk=document.pk)), action
    resegment = owner.post(doc_url + "resegment/", {"mode": "automatic", "max_tokens": 500, "chunk_overlap": 50,
                                                    "doc_form": "text_model", "doc_language": "English"})
    with _in_alpha(world):
        new = dataset.documents.exclude(pk=document.pk).get()
        assert Document.objects.get(pk=document.pk).archived
    assert resegment["Location"] == f"{BASE}{dataset.pk}/documents/{new.pk}/"
    assert "Archived: it can be viewed or deleted" in _page(owner.get(doc_url))
    normal = client_for(world.normal.user)
    assert "Add a segment" not in _page(normal.get(doc_url))
    assert normal.post(doc_url + "action/delete/").status_code == 403
    assert owner.post(doc_url + "action/delete/").status_code == 302
    with _in_alpha(world):
        assert not Document.objects.filter(pk=document.pk).exists()


def test_hit_testing_shows_scores_and_history(world) -> None:  # type: ignore[no-untyped-def]
    with _in_alpha(world):
        dataset = make_dataset(world, permission="all_team_members")
        add_text(world, dataset, "The lighthouse keeper lights the lamp at dusk.\n\nBakers rise early.",
                 process_rule={"mode": "custom", "rules": {"pre_processing_rules": [],
                                                           "segmentation": {"separator": "\n\n", "max_tokens": 50}}})
    client = client_for(world.normal.user)  # reading is enough to test retrieval
    url = f"{BASE}{dataset.pk}/hit-testing/"
    html = _page(client.post(url, {"query": "who lights the lamp", "search_method": "semantic_search"},
                             HTTP_HX_REQUEST="true"))
    scores = [float(s) for s in re.findall(r'<span class="score">([0-9.]+)</span>', html)]
    assert scores == sorted(scores, reverse=True) and len(scores) == 2
    assert html.index("lighthouse keeper") < html.index("Bakers")
    assert 'hx-swap-oob="true"' in html and "who lights the lamp" in html
    page = _page(client.get(url))
    assert "who lights the lamp" in page and "Recent queries" in page
    with _in_alpha(world):
        assert HitTestQuery.objects.get(dataset=dataset).created_by_id == world.normal.user_id


def test_settings_update_and_delete(world) -> None:  # type: ignore[no-untyped-def]
    with _in_alpha(world):
        dataset = make_dataset(world, permission="all_team_members")
    owner = client_for(world.owner.user)
    url = f"{BASE}{dataset.pk}/settings/"
    html = _page(owner.get(url))
    assert 'value="Handbook"' in html
    response = owner.post(url, {"name": "Renamed", "description": "New text", "permission": "all_team_members",
                                "indexing_technique": "high_quality", "embedding_model": "local:all-MiniLM-L6-v2",
                                "search_method": "full_text_search", "top_k": 5, "vector_weight": 0.7})
    assert response.status_code == 302
    with _in_alpha(world):
        dataset.refresh_from_db()
    assert (dataset.name, dataset.retrieval_model["search_method"], dataset.retrieval_model["top_k"]) == \
        ("Renamed", "full_text_search", 5)
    assert client_for(world.normal.user).post(url, {"name": "Nope"}).status_code == 403
    owner.post(url + "metadata/", {"name": "region", "type": "string"})
    with _in_alpha(world):
        assert list(dataset.metadata_fields.values_list("name", flat=True)) == ["region"]
    assert owner.post(f"{BASE}{dataset.pk}/delete/").status_code == 302
    with _in_alpha(world):
        assert not Dataset.objects.filter(pk=dataset.pk).exists()


def test_every_page_is_refused_across_workspaces(world) -> None:  # type: ignore[no-untyped-def]
    with _in_alpha(world):
        dataset = make_dataset(world, permission="all_team_members", **LOCAL)
        document = add_text(world, dataset, "Alpha secret text.")
        segment = document.segments.get()
        field = services.metadata_field_create(dataset=dataset, name="f", type="string")
    ds, doc, seg = dataset.pk, document.pk, segment.pk
    gets = [f"datasets/{ds}/documents/", f"datasets/{ds}/documents/?rows=1", f"datasets/{ds}/documents/{doc}/",
            f"datasets/{ds}/hit-testing/", f"datasets/{ds}/settings/"]
    posts = [f"datasets/{ds}/documents/preview/", f"datasets/{ds}/documents/upload/",
             *[f"datasets/{ds}/documents/{doc}/action/{a}/" for a in ("pause", "disable", "archive", "delete")],
             f"datasets/{ds}/documents/{doc}/resegment/", f"datasets/{ds}/documents/{doc}/metadata/",
             f"datasets/{ds}/documents/{doc}/segments/add/", f"datasets/{ds}/segments/{seg}/edit/",
             f"datasets/{ds}/segments/{seg}/toggle/", f"datasets/{ds}/hit-testing/", f"datasets/{ds}/settings/",
             f"datasets/{ds}/settings/metadata/", f"datasets/{ds}/settings/metadata/{field.pk}/delete/",
             f"datasets/{ds}/delete/"]
    bruno = client_for(world.other.user)  # owner of beta
    for path in gets:
        assert bruno.get(f"/console/beta/{path}").status_code == 404, path
        assert bruno.get(f"/console/alpha/{path}").status_code in (403, 404), path
    for path in posts:
        data = {"query": "secret", "content": "x", "name": "x", "type": "string", "mode": "automatic",
                "max_tokens": 500, "chunk_overlap": 0, "doc_form": "text_model", "doc_language": "English",
                "action": "delete"}
        assert bruno.post(f"/console/beta/{path}", data).status_code == 404, path
        assert bruno.post(f"/console/alpha/{path}", data).status_code in (403, 404), path
    assert "Handbook" not in _page(bruno.get("/console/beta/datasets/"))
    with _in_alpha(world):
        assert Segment.objects.filter(pk=seg, content="Alpha secret text.", enabled=True).exists()
        assert Dataset.objects.filter(pk=ds).exists() and not HitTestQuery.objects.exists()
    assert client_for(world.owner.user).get(f"/console/beta/datasets/{uuid.uuid4()}/documents/").status_code \
        in (403, 404)
