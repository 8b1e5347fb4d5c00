"""Browser-facing headers (issue 20, item 6): the Content-Security-Policy of every page, no-store for
signed-in pages, no inline script in any template, and `check --deploy` under the production settings.
The WebApps' frame-ancestors are in tests/webapp/test_widget.py; a real browser loading console
pages without a CSP violation is tests/core/test_csp_browser.py."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import client_for

ROOT = Path(__file__).resolve().parents[2]


def csp(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The directives of a response's Content-Security-Policy."""
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    return directives


def _strict_scripts(response) -> str:  # type: ignore[no-untyped-def]
    script_src = csp(response)["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    nonce = re.fullmatch(r"'self' 'nonce-([\w-]{20,})'", script_src)
    assert nonce, script_src
    assert csp(response)["object-src"] == "'none'" and csp(response)["base-uri"] == "'self'"
    return nonce.group(1)


@pytest.mark.django_db
def test_console_pages_have_a_strict_policy_and_are_not_stored(world) -> None:  # type: ignore[no-untyped-def]
    client = client_for(world.owner.user)
    nonces = set()
    for url in ("/console/alpha/", "/console/alpha/apps/", "/console/alpha/apps/new/",
                "/console/alpha/settings/members/", "/console/alpha/settings/providers/"):
        response = client.get(url)
        assert response.status_code == 200, url
        nonces.add(_strict_scripts(response))
        assert csp(response)["frame-ancestors"] == "'none'"
        assert response["Cache-Control"] == "no-store", url
    assert len(nonces) == 5  # a fresh nonce per response


@pytest.mark.django_db
def test_login_and_admin_pages_have_the_policy(world, admin_client) -> None:  # type: ignore[no-untyped-def]
    login = Client().get("/accounts/login/")
    _strict_scripts(login)
    admin = admin_client.get("/admin/")
    assert admin.status_code == 200
    _strict_scripts(admin)
    assert "no-store" in admin["Cache-Control"]  # Django's own never_cache stands


@pytest.mark.django_db
def test_api_responses_carry_no_page_policy(world) -> None:  # type: ignore[no-untyped-def]
    response = Client().get("/v1/parameters", HTTP_AUTHORIZATION="Bearer app-nope")
    assert response.status_code == 401 and "Content-Security-Policy" not in response


def test_csp_extra_directives_add_sources(settings) -> None:  # type: ignore[no-untyped-def]
    from apps.core import headers

    settings.CSP_EXTRA_DIRECTIVES = {"img-src": "https://cdn.example", "worker-src": "'self'"}
    directives = headers.policy("n0nce")
    assert directives["img-src"].endswith("https://cdn.example") and directives["worker-src"] == "'self'"
    assert directives["script-src"] == "'self' 'nonce-n0nce'"


# Inline scripts and event-handler attributes would be refused by the policy: none may come back.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.I)


def test_no_template_has_an_inline_script_or_handler() -> None:
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        text = re.sub(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", "", text, flags=re.S)
        for pattern in (INLINE_SCRIPT, INLINE_HANDLER):
            found += [f"{path.relative_to(ROOT)}: {m.group(0).strip()}" for m in pattern.finditer(text)]
    assert found == []


def test_the_vendored_alpine_is_the_csp_build() -> None:
    vendor = ROOT / "static" / "vendor"
    assert not (vendor / "alpine.min.js").exists()
    assert "new Function" not in (vendor / "alpine-csp.min.js").read_text()
    for path in (ROOT / "templates").rglob("*.html"):
        assert "vendor/alpine.min.js" not in path.read_text(), path


def _check_deploy(**env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.prod",
                   "SECRET_KEY": "a-production-secret-key-" + "x" * 40,
                   "DATABASE_URL": "postgres://tessera:secret@db:5432/tessera", "REDIS_URL": "redis://redis:6379/0",
                   "ALLOWED_HOSTS": "tessera.example", "SITE_URL": "https://tessera.example", **env}
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300)


def test_check_deploy_has_no_security_warnings_under_the_production_settings() -> None:
    result = _check_deploy()
    assert "security." not in result.stdout + result.stderr, result.stdout + result.stderr
    # Turning HTTPS off where a proxy handles it is the operator's choice, and check --deploy says so.
    relaxed = _check_deploy(SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0")
    output = relaxed.stdout + relaxed.stderr
    assert "security.W008" in output and "security.W004" in output


def test_production_defaults_redirect_to_https_with_hsts() -> None:
    code = ("from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
            "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_REDIRECT_EXEMPT)")
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.prod",
                   "SECRET_KEY": "a-production-secret-key-" + "x" * 40,
                   "DATABASE_URL": "postgres://tessera:secret@db:5432/tessera", "REDIS_URL": "redis://redis:6379/0"}
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                         env=environment, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True 31536000 True ['^healthz$']", out.stderr
