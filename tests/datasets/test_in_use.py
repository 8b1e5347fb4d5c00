"""dataset_in_use (service-api.md §5.1): a dataset that an app uses cannot be deleted, through the
Knowledge API (409 dataset_in_use) or the console (an error naming the apps; the settings page warns
first). Apps count when a chat/completion config attaches the dataset or when a workflow app's draft
or newest published graph searches it in a Knowledge Retrieval node; older published versions are
history and do not pin it. Another workspace's graphs never count."""

import uuid

import pytest
from django_tenants.utils import schema_context

from apps.datasets.models import Dataset
from apps.workflows import services as workflows
from tests.conftest import client_for
from tests.datasets.test_api import _dataset_with_doc, error, kapi  # noqa: F401 (fixture)
from tests.workflows.helpers import chain, graph, node

pytestmark = pytest.mark.django_db

BASE = "/console/alpha/datasets/"


def _graph(*dataset_ids: str) -> dict:
    nodes = [node("start", "start", variables=[{"variable": "q", "type": "text-input"}])]
    ids = ["start"]
    if dataset_ids:
        nodes.append(node("kr", "knowledge-retrieval", query_variable_selector=["start", "q"],
                          dataset_ids=list(dataset_ids), retrieval_mode="multiple",
                          multiple_retrieval_config={"top_k": 2}))
        ids.append("kr")
    nodes.append(node("end", "end", outputs=[]))
    return graph(nodes, chain(*ids, "end"))


def _workflow_app(schema: str, name: str, raw: dict, *, publish: bool = False):  # type: ignore[no-untyped-def]
    with schema_context(schema):
        app = workflows.workflow_app_create(name=name, mode="workflow", graph=raw)
        if publish:
            workflows.publish(app=app)
        return app


def _exists(world, dataset: Dataset) -> bool:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        return Dataset.objects.filter(pk=dataset.pk).exists()


def test_a_workflow_draft_using_the_dataset_blocks_deletion(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = _dataset_with_doc(world)
    other, _ = _dataset_with_doc(world, name="Other")
    app = _workflow_app(world.alpha.schema_name, "Support flow", _graph(str(other.pk), str(dataset.pk)))
    url = f"/v1/datasets/{dataset.pk}"
    assert kapi.get(url).json()["app_count"] == 1
    body = error(kapi.delete(url), "dataset_in_use", 409)
    assert body["message"] == ("The dataset is being used by some apps. Please remove the dataset from the apps "
                               "before deleting it.")
    assert _exists(world, dataset)

    editor = client_for(world.owner.user)
    settings_page = editor.get(f"{BASE}{dataset.pk}/settings/").content.decode()
    assert 'data-testid="dataset-in-use"' in settings_page and "Support flow" in settings_page
    refused = editor.post(f"{BASE}{dataset.pk}/delete/", follow=True)
    page = refused.content.decode()
    assert refused.redirect_chain[-1][0] == f"{BASE}{dataset.pk}/settings/"
    assert "is used by these apps: Support flow" in page and _exists(world, dataset)

    # The app stops using it (the draft no longer has the node, nothing was published): deletable.
    with schema_context(world.alpha.schema_name):
        workflows.draft_sync(app=app, graph=_graph(str(other.pk)))
    assert kapi.get(url).json()["app_count"] == 0
    assert 'data-testid="dataset-in-use"' not in editor.get(f"{BASE}{dataset.pk}/settings/").content.decode()
    deleted = editor.post(f"{BASE}{dataset.pk}/delete/")
    assert deleted.status_code == 302 and not _exists(world, dataset)
    error(kapi.delete(f"/v1/datasets/{other.pk}"), "dataset_in_use", 409)  # still in the draft


def test_the_newest_published_graph_counts_older_versions_do_not(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = _dataset_with_doc(world)
    app = _workflow_app(world.alpha.schema_name, "Published flow", _graph(str(dataset.pk)), publish=True)
    with schema_context(world.alpha.schema_name):
        workflows.draft_sync(app=app, graph=_graph())  # the draft dropped it; the live version still has it
    url = f"/v1/datasets/{dataset.pk}"
    assert kapi.get(url).json()["app_count"] == 1
    error(kapi.delete(url), "dataset_in_use", 409)
    with schema_context(world.alpha.schema_name):
        workflows.publish(app=app)  # the newest published version no longer searches it
    assert kapi.get(url).json()["app_count"] == 0
    response = kapi.delete(url)
    assert response.status_code == 200 and response.json() == 204 and not _exists(world, dataset)


def test_another_workspaces_graph_never_pins_a_dataset(world, kapi) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = _dataset_with_doc(world)
    # Beta's workflow names alpha's dataset id: it cannot search it, and it cannot block alpha.
    _workflow_app(world.beta.schema_name, "Beta flow", _graph(str(dataset.pk)), publish=True)
    assert kapi.get(f"/v1/datasets/{dataset.pk}").json()["app_count"] == 0
    beta_owner = client_for(world.other.user)
    assert beta_owner.post(f"/console/beta/datasets/{dataset.pk}/delete/").status_code == 404
    assert beta_owner.post(f"/console/alpha/datasets/{dataset.pk}/delete/").status_code in (403, 404)
    assert _exists(world, dataset)
    # Alpha's own workflow with an unknown id pins nothing either.
    _workflow_app(world.alpha.schema_name, "Stale flow", _graph(str(uuid.uuid4())))
    deleted = client_for(world.owner.user).post(f"{BASE}{dataset.pk}/delete/")
    assert deleted.status_code == 302 and not _exists(world, dataset)


def test_in_use_warning_is_translated(world) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = _dataset_with_doc(world)
    _workflow_app(world.alpha.schema_name, "Flow", _graph(str(dataset.pk)))
    editor = client_for(world.owner.user)
    for lang, words in (("zh-hans", "个应用使用"), ("ja", "個のアプリ")):
        page = editor.get(f"{BASE}{dataset.pk}/settings/", headers={"Accept-Language": lang}).content.decode()
        assert words in page, lang
