"""The console's Knowledge API page: reachable from Knowledge, a key shown once then only its
prefix, the limited-datasets option, revoking, curl examples, who may manage keys, and isolation
between workspaces."""

import re
import uuid

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.datasets import keys
from apps.datasets.models import Dataset, DatasetApiKey
from apps.workspaces.models import ApiKeyRoute
from tests.conftest import client_for
from tests.datasets.conftest import make_dataset

pytestmark = pytest.mark.django_db
PAGE = "/console/alpha/datasets/api/"


def _raw_key(html: str) -> str:
    found = re.findall(r"dataset-[A-Za-z0-9]{24}", html)
    assert len(set(found)) == 1, found
    return found[0]


def _call(raw: str) -> int:
    return Client().get("/v1/datasets", headers={"Authorization": f"Bearer {raw}"}).status_code


def test_the_page_is_linked_from_knowledge_and_shows_a_new_key_once(world) -> None:  # type: ignore[no-untyped-def]
    owner = client_for(world.owner.user)
    listing = owner.get("/console/alpha/datasets/").content.decode()
    assert f'href="{PAGE}"' in listing
    page = owner.get(PAGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "No keys yet" in html and "/v1/datasets/{dataset_id}/retrieve" in html and "curl -X POST" in html
    assert 'aria-current="page"' in html  # the Knowledge nav item stays active

    created = owner.post(PAGE + "keys/")
    assert created.status_code == 200 and created["Cache-Control"] == "no-store"
    raw = _raw_key(created.content.decode())
    assert _call(raw) == 200
    again = owner.get(PAGE).content.decode()
    assert raw not in again and raw[:12] + "…" in again and "All knowledge bases" in again
    with schema_context(world.alpha.schema_name):
        key = DatasetApiKey.objects.get()
        assert key.key_hash != raw and not key.limited
    assert f'action="{PAGE}keys/{key.pk}/revoke/"' in again  # the key's row has its revoke form

    response = owner.post(PAGE + f"keys/{key.pk}/revoke/")
    assert response.status_code == 302
    assert _call(raw) == 401
    assert not ApiKeyRoute.objects.filter(kind="dataset").exists()


def test_a_limited_key_from_the_page(world) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        x = make_dataset(world, name="X", technique="economy")
        make_dataset(world, name="Y", technique="economy")
    owner = client_for(world.owner.user)
    html = owner.post(PAGE + "keys/", {"limited": "1", "datasets": [str(x.pk)]}).content.decode()
    raw = _raw_key(html)
    names = [
        d["name"]
        for d in Client().get("/v1/datasets", headers={"Authorization": f"Bearer {raw}"}).json()["data"]
    ]
    assert names == ["X"]
    assert '<span class="badge badge--info">X</span>' in owner.get(PAGE).content.decode()
    # Limited with nothing chosen, or with an unknown id: refused, no key made.
    for data in ({"limited": "1"}, {"limited": "1", "datasets": [str(uuid.uuid4())]}):
        response = owner.post(PAGE + "keys/", data, follow=True)
        assert "Choose at least one knowledge base" in response.content.decode()
    with schema_context(world.alpha.schema_name):
        assert DatasetApiKey.objects.count() == 1


def test_only_owners_and_admins_manage_keys(world) -> None:  # type: ignore[no-untyped-def]
    assert client_for(world.admin.user).get(PAGE).status_code == 200
    for member in (world.editor, world.normal):
        client = client_for(member.user)
        assert client.get(PAGE).status_code == 403
        assert client.post(PAGE + "keys/").status_code == 403
        assert f'href="{PAGE}"' not in client.get("/console/alpha/datasets/").content.decode()
    with schema_context(world.alpha.schema_name):
        assert not DatasetApiKey.objects.exists()


def test_keys_and_datasets_stay_in_their_workspace(world) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        alpha_ds = make_dataset(world, name="Alpha secret", technique="economy")
        alpha_key, _ = keys.api_key_create()
    bruno = client_for(world.other.user)  # owner of beta
    assert bruno.get(PAGE).status_code in (403, 404)
    assert bruno.post(PAGE + "keys/").status_code in (403, 404)
    assert bruno.post(PAGE + f"keys/{alpha_key.pk}/revoke/").status_code in (403, 404)
    assert bruno.post(f"/console/beta/datasets/api/keys/{alpha_key.pk}/revoke/").status_code == 404
    beta_page = bruno.get("/console/beta/datasets/api/").content.decode()
    assert alpha_key.prefix not in beta_page and "Alpha secret" not in beta_page
    # A beta key limited to an alpha dataset id cannot be made.
    response = bruno.post(
        "/console/beta/datasets/api/keys/", {"limited": "1", "datasets": [str(alpha_ds.pk)]}, follow=True
    )
    assert "Choose at least one knowledge base" in response.content.decode()
    with schema_context(world.alpha.schema_name):
        assert DatasetApiKey.objects.filter(pk=alpha_key.pk).exists()
    with schema_context(world.beta.schema_name):
        assert not DatasetApiKey.objects.exists()


def test_api_access_per_dataset_can_be_switched_off(world) -> None:  # type: ignore[no-untyped-def]
    with schema_context(world.alpha.schema_name):
        x = make_dataset(world, name="X", technique="economy", permission="all_team_members")
        _, raw = keys.api_key_create()
    headers = {"Authorization": f"Bearer {raw}"}
    owner = client_for(world.owner.user)
    assert f'data-testid="api-access-{x.pk}"' in owner.get(PAGE).content.decode()
    response = owner.post(PAGE + f"{x.pk}/access/", {"enable_api": "off"}, follow=True)
    assert "API access to X is off." in response.content.decode()
    refused = Client().get(f"/v1/datasets/{x.pk}", headers=headers)
    assert refused.status_code == 403 and refused.json()["message"] == "Dataset api access is not enabled."
    owner.post(PAGE + f"{x.pk}/access/", {"enable_api": "on"})
    assert Client().get(f"/v1/datasets/{x.pk}", headers=headers).status_code == 200
    # Editors may not switch it; another workspace's owner cannot reach it.
    assert (
        client_for(world.editor.user).post(PAGE + f"{x.pk}/access/", {"enable_api": "off"}).status_code == 403
    )
    bruno = client_for(world.other.user)
    assert bruno.post(f"/console/beta/datasets/api/{x.pk}/access/", {"enable_api": "off"}).status_code == 404
    assert bruno.post(PAGE + f"{x.pk}/access/", {"enable_api": "off"}).status_code in (403, 404)
    with schema_context(world.alpha.schema_name):
        assert Dataset.objects.get(pk=x.pk).enable_api is True
