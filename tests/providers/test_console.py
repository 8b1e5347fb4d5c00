"""Settings → Model providers in the console: credentials (validated against the fake servers, stored
encrypted, never shown in full), per-model entries, default models, prices, permissions, isolation."""

import re
import uuid
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from apps.providers import crypto
from apps.providers.models import DefaultModel, ModelPrice, ProviderCredential
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

BASE = "/console/alpha/settings/providers/"
KEY = "sk-test-4f1c9a2b7d3e8f60"
OTHER_KEY = "sk-test-new-b2c4d6e8f0a1"
LABELS = ("OpenAI", "Anthropic", "Cohere", "Azure OpenAI", "OpenAI-API-compatible", "Built-in embeddings")


@pytest.fixture(autouse=True)
def _no_provider_rows(world) -> None:  # type: ignore[no-untyped-def]
    """Start from empty provider tables: workspace schemas outlive transactional tests elsewhere."""
    for workspace in (world.alpha, world.beta):
        with schema_context(workspace.schema_name):
            for model in (ProviderCredential, DefaultModel, ModelPrice):
                model.objects.all().delete()


def _in(world, slug: str = "alpha"):  # type: ignore[no-untyped-def]
    return schema_context(getattr(world, slug).schema_name)


def _credentials(world, slug: str = "alpha", **filters) -> list[ProviderCredential]:  # type: ignore[no-untyped-def]
    with _in(world, slug):
        return list(ProviderCredential.objects.filter(**filters))


def _save_openai(client, fake_openai, key: str = KEY, **extra):  # type: ignore[no-untyped-def]
    data = {"api_key": key, "organization": "", "base_url": fake_openai.base_url, **extra}
    return client.post(f"{BASE}openai/new/", data)


def _compatible_data(fake_openai, **extra) -> dict:  # type: ignore[no-untyped-def]
    return {"display_name": "Llama 3 (local)", "base_url": fake_openai.base_url, "api_key": KEY,
            "model": "llama3:8b", "model_type": "llm", "mode": "chat", "context_length": "8192",
            "max_tokens": "2048", "streaming": "on", **extra}


def _messages(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


# --- The page, permissions, isolation -------------------------------------------------------------


def test_owner_sees_every_provider(world) -> None:  # type: ignore[no-untyped-def]
    response = client_for(world.owner.user).get(BASE)
    assert response.status_code == 200
    page = response.content.decode()
    for label in LABELS:
        assert f">{label}</h3>" in page, label
    assert "Built-in, no key needed" in page
    assert page.count("Not configured") == 5
    # Model types as badges; the navigation marks the page.
    assert "Text embedding" in page and "Rerank" in page
    assert re.search(r'class="nav-link is-active" href="/console/alpha/settings/providers/"', page)
    # The built-in embedding model is already offered as a default.
    assert 'value="local:all-MiniLM-L6-v2"' in page


def test_admin_may_manage_providers(world) -> None:  # type: ignore[no-untyped-def]
    assert client_for(world.admin.user).get(BASE).status_code == 200
    assert client_for(world.admin.user).get(f"{BASE}prices/").status_code == 200


def _provider_urls(credential_id: object) -> list[tuple[str, str]]:
    return [
        ("get", BASE), ("get", f"{BASE}prices/"), ("post", f"{BASE}prices/"), ("post", f"{BASE}defaults/"),
        ("get", f"{BASE}openai/new/"), ("post", f"{BASE}openai/new/"),
        ("get", f"{BASE}openai_api_compatible/new/"),
        ("get", f"{BASE}credentials/{credential_id}/edit/"),
        ("post", f"{BASE}credentials/{credential_id}/edit/"),
        ("post", f"{BASE}credentials/{credential_id}/delete/"),
    ]


@pytest.fixture
def alpha_credential(world) -> ProviderCredential:  # type: ignore[no-untyped-def]
    with _in(world):
        secret = crypto.encrypt(world.alpha.schema_name, {"api_key": KEY})
        return ProviderCredential.objects.create(provider="openai", public_config={}, secret_config=secret)


@pytest.mark.parametrize("role", ["editor", "normal"])
def test_members_without_the_permission_get_403(world, alpha_credential, role: str) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.by_role(role).user)
    for method, url in _provider_urls(alpha_credential.pk):
        response = getattr(client, method)(url, {"llm": "", "api_key": "sk-evil"})
        assert response.status_code == 403, (method, url)
    assert len(_credentials(world)) == 1
    # The navigation does not offer the page either.
    assert "/settings/providers/" not in client.get("/console/alpha/").content.decode()


def test_another_workspaces_owner_gets_404(world, alpha_credential) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.other.user)
    for method, url in _provider_urls(alpha_credential.pk):
        response = getattr(client, method)(url, {"llm": "", "api_key": "sk-evil"})
        assert response.status_code == 404, (method, url)
    assert len(_credentials(world)) == 1


def test_unknown_provider_and_credential_are_404(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    assert client.get(f"{BASE}nope/new/").status_code == 404
    assert client.get(f"{BASE}local/new/").status_code == 404  # built-in: nothing to set up
    assert client.get(f"{BASE}credentials/{uuid.uuid4()}/edit/").status_code == 404
    assert client.post(f"{BASE}credentials/{uuid.uuid4()}/delete/").status_code == 404


def test_a_credential_of_alpha_is_invisible_from_beta(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    response = _save_openai(client_for(world.owner.user), fake_openai)
    assert response.status_code == 302
    [credential] = _credentials(world)

    beta = client_for(world.other.user)
    page = beta.get("/console/beta/settings/providers/").content.decode()
    assert page.count("Not configured") == 5
    assert "Configured" not in page and "sk-" not in page
    beta_credential_url = f"/console/beta/settings/providers/credentials/{credential.pk}"
    assert beta.get(f"{beta_credential_url}/edit/").status_code == 404
    assert beta.post(f"{beta_credential_url}/delete/").status_code == 404
    assert _credentials(world, "beta") == []
    assert len(_credentials(world)) == 1


# --- Account-level credentials (OpenAI) -----------------------------------------------------------


def test_saving_openai_credentials_validates_and_encrypts(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.valid_keys = frozenset({KEY})
    client = client_for(world.owner.user)
    form = client.get(f"{BASE}openai/new/").content.decode()
    assert 'type="password" name="api_key"' in form and "Validate & save" in form

    response = _save_openai(client, fake_openai)
    assert response.status_code == 302 and response["Location"] == f"{BASE}#provider-openai"
    # The validation call reached the provider with the key.
    assert fake_openai.requests_to("models")[-1].api_key == KEY

    [credential] = _credentials(world)
    assert credential.provider == "openai" and credential.validated_at is not None
    assert KEY not in credential.secret_config and KEY not in str(credential.public_config)
    assert crypto.decrypt(world.alpha.schema_name, credential.secret_config)["api_key"] == KEY
    assert credential.created_by_id == world.owner.user.pk

    page = client.get(BASE)
    html = page.content.decode()
    assert "OpenAI credentials were validated and saved." in html
    assert crypto.mask(KEY) in html and "sk-••••••8f60" in html
    # The OpenAI models are now offered as defaults and priced.
    assert 'value="openai:gpt-4o-mini"' in html
    edit_url = f"{BASE}credentials/{credential.pk}/edit/"
    assert edit_url in html
    edit = client.get(edit_url).content.decode()
    assert f'placeholder="{crypto.mask(KEY)}"' in edit
    assert fake_openai.base_url in edit
    prices = client.get(f"{BASE}prices/").content.decode()

    for other in (html, edit, prices, client.get("/console/alpha/").content.decode()):
        assert KEY not in other


def test_a_wrong_key_shows_the_providers_message_and_stores_nothing(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.valid_keys = frozenset({KEY})
    client = client_for(world.owner.user)
    response = _save_openai(client, fake_openai, key="sk-wrong-0000000000abcd", organization="org-42")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Validation failed: Incorrect API key provided" in html
    assert 'class="alert alert--error"' in html
    # The non-secret values stay in the form; the secret does not come back.
    assert 'value="org-42"' in html and fake_openai.base_url in html
    assert "sk-wrong-0000000000abcd" not in html
    assert _credentials(world) == []


def test_editing_with_an_empty_key_keeps_the_stored_one(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    _save_openai(client, fake_openai)
    [credential] = _credentials(world)
    url = f"{BASE}credentials/{credential.pk}/edit/"

    response = client.post(url, {"api_key": "", "organization": "org-7", "base_url": fake_openai.base_url})
    assert response.status_code == 302
    [credential] = _credentials(world)
    config = crypto.decrypt(world.alpha.schema_name, credential.secret_config)
    assert config["api_key"] == KEY and config["organization"] == "org-7"
    assert fake_openai.requests_to("models")[-1].api_key == KEY

    client.post(url, {"api_key": OTHER_KEY, "organization": "", "base_url": fake_openai.base_url})
    [credential] = _credentials(world)
    assert crypto.decrypt(world.alpha.schema_name, credential.secret_config)["api_key"] == OTHER_KEY


def test_htmx_submit_redirects_with_hx_redirect(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    response = client.post(f"{BASE}openai/new/", {"api_key": KEY, "base_url": fake_openai.base_url},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"] == f"{BASE}#provider-openai"


def test_removing_account_credentials(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    _save_openai(client, fake_openai)
    [credential] = _credentials(world)
    assert client.post(f"{BASE}defaults/", {"llm": "openai:gpt-4o"}).status_code == 302
    assert client.get(f"{BASE}credentials/{credential.pk}/delete/").status_code == 405
    response = client.post(f"{BASE}credentials/{credential.pk}/delete/", follow=True)
    assert "OpenAI was removed." in response.content.decode()
    assert _credentials(world) == []
    with _in(world):
        assert not DefaultModel.objects.filter(model_type="llm").exists()


# --- Per-model entries (OpenAI-API-compatible) ----------------------------------------------------


def test_openai_compatible_model_add_edit_delete(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    response = client.post(f"{BASE}openai_api_compatible/new/", _compatible_data(fake_openai))
    assert response.status_code == 302, _messages(response) or response.content.decode()[:2000]
    [entry] = _credentials(world, provider="openai_api_compatible")
    assert (entry.model, entry.model_type, entry.label) == ("llama3:8b", "llm", "Llama 3 (local)")
    assert entry.public_config["context_length"] == 8192 and entry.public_config["streaming"] is True
    assert entry.public_config["vision"] is False
    # The validation call asked the model itself.
    assert fake_openai.requests_to("chat")[-1].json["model"] == "llama3:8b"

    html = client.get(BASE).content.decode()
    assert "Llama 3 (local)<span class=\"table__sub\"><code>llama3:8b</code>" in html
    assert "1 model configured" in html
    assert fake_openai.base_url in html and crypto.mask(KEY) in html and KEY not in html
    assert 'value="openai_api_compatible:llama3:8b"' in html

    # Edit: a new label and capabilities; the key is kept.
    edit_url = f"{BASE}credentials/{entry.pk}/edit/"
    form = client.get(edit_url).content.decode()
    assert 'value="Llama 3 (local)"' in form and KEY not in form
    data = _compatible_data(fake_openai, display_name="Llama 3 8B", api_key="", vision="on",
                            max_tokens="1024")
    assert client.post(edit_url, data).status_code == 302
    [entry] = _credentials(world, provider="openai_api_compatible")
    assert entry.label == "Llama 3 8B" and entry.public_config["vision"] is True
    assert entry.public_config["max_tokens"] == 1024
    assert crypto.decrypt(world.alpha.schema_name, entry.secret_config)["api_key"] == KEY

    # A second model, then remove the first.
    fake_openai.serve("bge-m3")
    client.post(f"{BASE}openai_api_compatible/new/",
                _compatible_data(fake_openai, display_name="", model="bge-m3", model_type="text-embedding"))
    assert len(_credentials(world, provider="openai_api_compatible")) == 2
    assert "2 models configured" in client.get(BASE).content.decode()
    response = client.post(f"{BASE}credentials/{entry.pk}/delete/", follow=True)
    assert "Llama 3 8B was removed." in response.content.decode()
    [left] = _credentials(world, provider="openai_api_compatible")
    assert left.model == "bge-m3" and left.model_type == "text-embedding"


def test_openai_compatible_field_errors(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    data = _compatible_data(fake_openai, base_url="ftp://example", model="", context_length="x")
    response = client.post(f"{BASE}openai_api_compatible/new/", data)
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"base_url", "model", "context_length"}
    assert _credentials(world) == []
    assert fake_openai.requests == []


def test_a_server_refusing_the_model_shows_its_message(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.base import Fail

    fake_openai.script("chat", Fail(404))
    client = client_for(world.owner.user)
    response = client.post(f"{BASE}openai_api_compatible/new/", _compatible_data(fake_openai, model="nope"))
    assert response.status_code == 200
    assert "Validation failed: The model `nope` does not exist" in response.content.decode()
    assert _credentials(world) == []


def test_editing_onto_another_entrys_model_is_refused(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    fake_openai.serve("qwen")
    client.post(f"{BASE}openai_api_compatible/new/", _compatible_data(fake_openai))
    client.post(f"{BASE}openai_api_compatible/new/",
                _compatible_data(fake_openai, display_name="", model="qwen"))
    qwen = _credentials(world, model="qwen")[0]
    response = client.post(f"{BASE}credentials/{qwen.pk}/edit/",
                           _compatible_data(fake_openai, model="llama3:8b"))
    assert response.status_code == 200
    assert "already uses this model name and type" in response.content.decode()
    assert len(_credentials(world)) == 2


# --- Default models -------------------------------------------------------------------------------


def test_default_model_set_and_clear(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    html = client.get(BASE).content.decode()
    assert "No LLM model is available yet." in html
    assert re.search(r'<select id="default-llm" name="llm" disabled', html)

    client.post(f"{BASE}openai_api_compatible/new/", _compatible_data(fake_openai))
    response = client.post(f"{BASE}defaults/", {"llm": "openai_api_compatible:llama3:8b",
                                                 "text-embedding": "local:all-MiniLM-L6-v2"})
    assert response.status_code == 302 and response["Location"] == f"{BASE}#defaults"
    with _in(world):
        assert DefaultModel.objects.get(model_type="llm").model == "llama3:8b"
        assert DefaultModel.objects.get(model_type="text-embedding").provider == "local"
    html = client.get(BASE).content.decode()
    assert "Default models saved." in html
    assert '<option value="openai_api_compatible:llama3:8b" selected>Llama 3 (local)</option>' in html
    assert '<optgroup label="OpenAI-API-compatible">' in html

    # A model that is not available is refused with the service's message; the rest is kept.
    response = client.post(f"{BASE}defaults/", {"llm": "openai:gpt-4o"}, follow=True)
    assert "is not an available llm model" in response.content.decode()
    with _in(world):
        assert DefaultModel.objects.get(model_type="llm").model == "llama3:8b"

    # Clearing: the empty choice.
    client.post(f"{BASE}defaults/", {"llm": "", "text-embedding": "local:all-MiniLM-L6-v2"})
    with _in(world):
        assert not DefaultModel.objects.filter(model_type="llm").exists()
        assert DefaultModel.objects.filter(model_type="text-embedding").exists()


# --- Prices ---------------------------------------------------------------------------------------


def _price(provider: str, model: str, input_price: str, output_price: str, *, unit: str = "0.001",
           currency: str = "EUR") -> dict[str, str]:
    return {"provider": provider, "model": model, "input_price": input_price, "output_price": output_price,
            "price_unit": unit, "currency": currency}


def test_prices_page_and_override(world, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    assert f'href="{BASE}prices/"' in client.get(BASE).content.decode()
    html = client.get(f"{BASE}prices/").content.decode()
    assert "all-MiniLM-L6-v2" in html and "Catalog default" in html

    _save_openai(client, fake_openai)
    html = client.get(f"{BASE}prices/").content.decode()
    row = re.search(r"<code>gpt-4o-mini</code>.*?</tr>", html, re.S).group(0)
    assert "0.15" in row and "0.60" in row and "per 1M tokens" in row and "USD" in row
    assert "Catalog default" in row
    assert "whisper-1" not in html  # only LLM, embedding and rerank models are priced

    response = client.post(f"{BASE}prices/", _price("openai", "gpt-4o-mini", "0.12", "0.5", currency="eur"))
    assert response.status_code == 302
    with _in(world):
        price = ModelPrice.objects.get(provider="openai", model="gpt-4o-mini")
    assert (price.input_price, price.output_price, price.price_unit, price.currency) == (
        Decimal("0.12"), Decimal("0.5"), Decimal("0.001"), "EUR")
    html = client.get(f"{BASE}prices/").content.decode()
    assert "Price of gpt-4o-mini saved." in html
    row = re.search(r"<code>gpt-4o-mini</code>.*?</tr>", html, re.S).group(0)
    assert "0.12" in row and "0.50" in row and "per 1K tokens" in row and "EUR" in row
    assert "Workspace override" in row

    # Invalid values and unknown models change nothing.
    response = client.post(f"{BASE}prices/", _price("openai", "gpt-4o-mini", "-1", "1"), follow=True)
    assert "Input price" in response.content.decode()
    assert client.post(f"{BASE}prices/", _price("anthropic", "claude-opus-4-0", "1", "1")).status_code == 404
    with _in(world):
        assert ModelPrice.objects.get().input_price == Decimal("0.12")


@pytest.mark.parametrize(("language", "title", "status"), [("ja", "モデルプロバイダー", "未設定"),
                                                           ("zh-hans", "模型供应商", "未配置")])
def test_the_pages_are_translated(world, language: str, title: str, status: str) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    html = client.get(BASE, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert f'<h1 class="page-title">{title}</h1>' in html and status in html
    assert client.get(f"{BASE}prices/", HTTP_ACCEPT_LANGUAGE=language).status_code == 200
