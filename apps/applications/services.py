"""Writes for apps: create, edit the draft, publish, duplicate, delete, and API keys."""

import secrets
import string
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from apps.applications.config import with_defaults
from apps.applications.models import ApiKey, App, AppVersion, Site, new_site_code
from apps.workspaces.models import ApiKeyRoute, SiteRoute, Workspace, hash_secret

MAX_KEYS_PER_APP = 10
SUPPORTED_MODES = (App.Mode.CHAT, App.Mode.COMPLETION, App.Mode.AGENT_CHAT)


def _workspace() -> Workspace:
    return Workspace.objects.get(schema_name=connection.schema_name)


@transaction.atomic
def app_create(*, name: str, mode: str, actor_id: int | None = None, description: str = "",
               icon: str = "🤖", icon_background: str = "#E4EEF9", config: dict[str, Any] | None = None) -> App:
    """Create an app with a complete draft configuration (in the current workspace schema)."""
    name = name.strip()
    if not name:
        raise ValidationError(_("An app needs a name."))
    if mode not in SUPPORTED_MODES:
        raise ValidationError(_("Unsupported app mode: %(mode)s") % {"mode": mode})
    draft = with_defaults(config)
    if mode == App.Mode.AGENT_CHAT:
        draft["agent_mode"] = {**draft["agent_mode"], "enabled": True}
    app = App.objects.create(name=name[:120], mode=mode, description=description, icon=icon or "🤖",
                             icon_background=icon_background or "#E4EEF9", draft_config=draft,
                             created_by_id=actor_id)
    site_get_or_create(app=app)
    return app


def app_update(*, app: App, **fields: Any) -> App:
    """Change an app's name, description, icon or its API / WebApp switches."""
    allowed = {"name", "description", "icon", "icon_background", "enable_api", "enable_site", "max_active_requests"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
    for key, value in fields.items():
        setattr(app, key, value)
    app.save(update_fields=[*fields, "updated_at"])
    return app


def draft_save(*, app: App, config: dict[str, Any]) -> App:
    """Replace the draft configuration. The API and WebApp keep running the published one."""
    app.draft_config = with_defaults(config)
    app.save(update_fields=["draft_config", "updated_at"])
    return app


@transaction.atomic
def app_publish(*, app: App, actor_id: int | None = None, note: str = "") -> AppVersion:
    """Make the draft live for the API and the WebApp (APP-09); every publish is kept as a version."""
    app = App.objects.select_for_update().get(pk=app.pk)
    number = (app.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = AppVersion.objects.create(app=app, number=number, config=app.draft_config, note=note[:255],
                                        created_by_id=actor_id)
    app.published = version
    app.save(update_fields=["published", "updated_at"])
    return version


@transaction.atomic
def app_duplicate(*, app: App, actor_id: int | None = None, name: str | None = None) -> App:
    if app.mode in (App.Mode.WORKFLOW, App.Mode.ADVANCED_CHAT):
        from apps.workflows.services import workflow_app_duplicate

        return workflow_app_duplicate(app=app, actor_id=actor_id, name=name)
    return app_create(name=name or _("%(name)s (copy)") % {"name": app.name}, mode=app.mode, actor_id=actor_id,
                      description=app.description, icon=app.icon, icon_background=app.icon_background,
                      config=app.draft_config)


@transaction.atomic
def app_delete(*, app: App) -> None:
    """Delete the app with its conversations, versions and keys (and their public routes)."""
    hashes = list(app.api_keys.values_list("key_hash", flat=True))
    app_id = app.pk
    workspace = _workspace()
    app.delete()
    with schema_context(get_public_schema_name()):
        ApiKeyRoute.objects.filter(key_hash__in=hashes).delete()
        SiteRoute.objects.filter(workspace=workspace, app_id=app_id).delete()


def _new_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    return "app-" + "".join(secrets.choice(alphabet) for _ in range(24))


@transaction.atomic
def api_key_create(*, app: App, actor_id: int | None = None) -> tuple[ApiKey, str]:
    """A new key for the app: returns the row and the raw key, which is never shown again."""
    if app.api_keys.count() >= MAX_KEYS_PER_APP:
        raise ValidationError(_("An app can have at most %(n)d API keys.") % {"n": MAX_KEYS_PER_APP})
    raw = _new_secret()
    digest = hash_secret(raw)
    key = ApiKey.objects.create(app=app, prefix=raw[:8], key_hash=digest, created_by_id=actor_id)
    workspace = _workspace()
    with schema_context(get_public_schema_name()):
        ApiKeyRoute.objects.create(key_hash=digest, kind=ApiKeyRoute.Kind.APP, workspace=workspace, app_id=app.pk)
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> None:
    digest = key.key_hash
    key.delete()
    with schema_context(get_public_schema_name()):
        ApiKeyRoute.objects.filter(key_hash=digest).delete()


# --- The WebApp site (/chat/<code>, /completion/<code>, the widget) ---------------------------------

SITE_FIELDS = {"title", "icon", "icon_background", "description", "default_language", "privacy_policy",
               "copyright", "custom_disclaimer", "show_prompt", "allowed_origins", "rate_limit_per_user",
               "rate_limit_per_ip"}


@transaction.atomic
def site_get_or_create(*, app: App) -> Site:
    """The app's site, created on first use (apps made before sites existed get theirs here), with
    its public route. The route is repaired too if it went missing."""
    site = Site.objects.filter(app=app).first()
    if site is None:
        site = Site.objects.create(app=app, title=app.name, icon=app.icon,
                                   icon_background=app.icon_background, description=app.description)
        _route_add(app, site.code)
    return site


def _route_add(app: App, code: str) -> None:
    workspace = _workspace()
    with schema_context(get_public_schema_name()):
        SiteRoute.objects.update_or_create(code=code, defaults={"workspace": workspace, "app_id": app.pk})


def site_update(*, site: Site, **fields: Any) -> Site:
    """Change the WebApp's look, languages, links or limits (WEB-03). The code changes only through
    site_regenerate_code."""
    unknown = set(fields) - SITE_FIELDS
    if unknown:
        raise ValueError(f"cannot update {', '.join(sorted(unknown))}")
    if "default_language" in fields and fields["default_language"] not in Site.Language.values:
        raise ValidationError(_("Unsupported language."))
    for key, value in fields.items():
        setattr(site, key, value)
    site.save(update_fields=[*fields, "updated_at"])
    return site


@transaction.atomic
def site_regenerate_code(*, site: Site) -> Site:
    """A new share code (WEB-05): the old link, and every cookie and widget tied to it, stop
    working at once, because the public route of the old code is gone in the same transaction."""
    old = site.code
    site.code = new_site_code()
    site.save(update_fields=["code", "updated_at"])
    workspace = _workspace()
    with schema_context(get_public_schema_name()):
        SiteRoute.objects.filter(code=old).delete()
        SiteRoute.objects.create(code=site.code, workspace=workspace, app_id=site.app_id)
    return site
