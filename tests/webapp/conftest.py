"""WebApp fixtures: the Service API test apps (tests/applications/conftest.py), with their sites."""

import dataclasses

import pytest
from django_tenants.utils import schema_context

from apps.applications import services
from apps.applications.models import App, Site
from tests.applications.conftest import build_api_setup


@dataclasses.dataclass
class WebSetup:
    chat: App
    chat_code: str
    completion: App
    completion_code: str
    beta_chat: App
    beta_code: str


def site_of(schema: str, app: App) -> Site:
    with schema_context(schema):
        return services.site_get_or_create(app=app)


def build_web_setup(world, fake) -> WebSetup:  # type: ignore[no-untyped-def]
    api = build_api_setup(world, fake)
    return WebSetup(
        chat=api.chat, chat_code=site_of(world.alpha.schema_name, api.chat).code,
        completion=api.completion, completion_code=site_of(world.alpha.schema_name, api.completion).code,
        beta_chat=api.beta_chat, beta_code=site_of(world.beta.schema_name, api.beta_chat).code,
    )


@pytest.fixture
def web(world_tx, fake_openai) -> WebSetup:  # type: ignore[no-untyped-def]
    return build_web_setup(world_tx, fake_openai)
