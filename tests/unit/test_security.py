"""Security headers, cookie flags, CORS and the deployment check, with production settings.

The production settings are read once from ``registerft.settings`` in a child process started with
a production environment (debug off), and applied to the test settings; ``manage.py check
--deploy`` and start-up failures run in child processes too, each with a clean environment.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from onboarding.models import DemoConnection, Registration
from onboarding.services import SESSION_KEY

pytestmark = pytest.mark.django_db

BASE_DIR = Path(__file__).resolve().parents[2]
HOST = "portal.example.org"
PRODUCTION_KEYS = [
    "DEBUG",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_SAMESITE",
    "CSRF_COOKIE_HTTPONLY",
    "LANGUAGE_COOKIE_SECURE",
    "LANGUAGE_COOKIE_HTTPONLY",
    "LANGUAGE_COOKIE_SAMESITE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "X_FRAME_OPTIONS",
    "CONTENT_SECURITY_POLICY",
    "CORS_ALLOWED_ORIGINS",
    "MIDDLEWARE",
    "ALLOWED_HOSTS",
]
TIMEOUT = 120


def production_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a production start: none of the developer's own settings leak in."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "REGISTERFT_", "AGENT_REST_", "ACAPY_"))
    }
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48)[:50],
        DJANGO_ALLOWED_HOSTS=HOST,
        DJANGO_SETTINGS_MODULE="registerft.settings",
        REGISTERFT_VAR_DIR=str(tmp_path / "var"),
    )
    env.update(extra)
    return {name: value for name, value in env.items() if value is not None}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def settings_of(env: dict[str, str]) -> dict:
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{k: getattr(settings, k, None) for k in {PRODUCTION_KEYS!r}}}, default=str))"
    )
    result = run(["-c", script], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict:
    return settings_of(production_environment(tmp_path_factory.mktemp("production")))


@pytest.fixture
def portal(settings, production, client):
    """The test settings made like production's (served over https, as production is)."""
    for name in PRODUCTION_KEYS:
        if name not in ("ALLOWED_HOSTS", "DEBUG"):
            setattr(settings, name, production[name])
    client.defaults.update(SERVER_NAME="testserver")
    return client


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


# --- Production settings ------------------------------------------------------------------------


def test_production_has_debug_off_and_secure_defaults(production):
    assert production["DEBUG"] is False
    assert production["ALLOWED_HOSTS"] == [HOST]
    assert production["SESSION_COOKIE_SECURE"] and production["CSRF_COOKIE_SECURE"]
    assert production["SESSION_COOKIE_HTTPONLY"]
    assert production["SESSION_COOKIE_SAMESITE"] == production["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert production["SECURE_SSL_REDIRECT"] is True
    assert production["SECURE_HSTS_SECONDS"] >= 31536000
    assert production["X_FRAME_OPTIONS"] == "DENY"
    assert production["CORS_ALLOWED_ORIGINS"] == []


def test_embedding_names_the_parent_origins_in_the_policy_and_the_cookies(tmp_path):
    embedded = settings_of(production_environment(tmp_path, REGISTERFT_FRAME_ANCESTORS="https://events.example.org"))
    frame_ancestors = embedded["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["frame-ancestors"]
    assert frame_ancestors == ["'self'", "https://events.example.org"]
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" not in embedded["MIDDLEWARE"]
    assert embedded["SESSION_COOKIE_SAMESITE"] == embedded["CSRF_COOKIE_SAMESITE"] == "None"
    assert embedded["SESSION_COOKIE_SECURE"] and embedded["CSRF_COOKIE_SECURE"]


# --- Headers ----------------------------------------------------------------------------------


PAGES = ["/", "/check_connection/status", "/no-such-page", "/name"]


@pytest.mark.parametrize("path", PAGES)
def test_every_answer_carries_a_strict_content_security_policy(portal, path):
    response = portal.get(path, secure=True)
    directives = csp_directives(response)
    sources = [source for values in directives.values() for source in values]
    assert "'unsafe-inline'" not in sources
    assert "'unsafe-eval'" not in sources
    assert not [source for source in sources if "*" in source]
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]


@pytest.mark.parametrize("path", PAGES)
def test_every_answer_carries_the_security_headers(portal, path):
    response = portal.get(path, secure=True)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_plain_http_is_redirected_to_https(portal):
    response = portal.get("/name")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/name"


def test_the_embedding_setting_replaces_the_frame_header(settings, tmp_path, client):
    embedded = settings_of(production_environment(tmp_path, REGISTERFT_FRAME_ANCESTORS="https://events.example.org"))
    settings.MIDDLEWARE = embedded["MIDDLEWARE"]
    settings.CONTENT_SECURITY_POLICY = embedded["CONTENT_SECURITY_POLICY"]
    response = client.get("/")
    assert "X-Frame-Options" not in response
    assert csp_directives(response)["frame-ancestors"] == ["'self'", "https://events.example.org"]


def visitor_pages(client) -> dict[str, str]:
    """Every page a visitor sees, rendered."""
    pages = {"start": client.get("/").content.decode()}
    registration = Registration.objects.get()
    pages["waiting"] = client.get("/check_connection/").content.decode()
    pages["wallet"] = client.get(client.get(f"/i/{registration.short_code}")["Location"]).content.decode()
    Registration.objects.filter(pk=registration.pk).update(state="connected")
    pages["form"] = client.post("/name", {"first_name": ""}).content.decode()
    pages["not found"] = client.get("/no-such-page").content.decode()
    pages["gone"] = client.get(f"/i/{registration.short_code}").content.decode()
    return pages


def test_no_page_needs_inline_script_or_style(client):
    # What the policy forbids must not be needed: inline code would silently stop working.
    for name, page in visitor_pages(client).items():
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), name
        assert not re.search(r"\sstyle\s*=", page), name
        assert not re.search(r"<style", page), name
        assert not re.search(r"\son[a-z]+\s*=", page), name
        assert "javascript:" not in page, name


# --- Cookies ----------------------------------------------------------------------------------


def test_the_session_cookie_is_secure_httponly_and_lax(portal):
    session = portal.get("/", secure=True).cookies["sessionid"]
    assert session["secure"] and session["httponly"]
    assert session["samesite"] == "Lax"


def test_the_csrf_cookie_is_secure_and_lax_and_httponly_only_as_configured(portal, production):
    # Django's default, kept: the CSRF cookie is not HttpOnly. It holds no secret a script could
    # abuse (a script on the page could read the form's token anyway), and the session cookie,
    # which is the secret, is HttpOnly.
    assert production["CSRF_COOKIE_HTTPONLY"] is False
    csrf = portal.get("/", secure=True).cookies["csrftoken"]
    assert csrf["secure"]
    assert csrf["samesite"] == "Lax"
    assert bool(csrf["httponly"]) is production["CSRF_COOKIE_HTTPONLY"]


def test_the_language_cookie_is_secure_httponly_and_lax(portal):
    for response in (
        portal.get("/fr", secure=True),
        portal.post("/i18n/setlang/", {"language": "it", "next": "/"}, secure=True),
    ):
        cookie = response.cookies["django_language"]
        assert cookie["secure"] and cookie["httponly"], response.request["PATH_INFO"]
        assert cookie["samesite"] == "Lax", response.request["PATH_INFO"]


def test_a_committed_step_gets_a_fresh_session_key(client):
    client.get("/")
    DemoConnection.objects.update(state=DemoConnection.State.ACTIVE)
    assert client.get("/check_connection/status").json()["next"] == "/name"
    before = client.session.session_key
    client.post("/name", {"first_name": "Ada", "last_name": "Lovelace", "institution": "X"})
    assert client.session.session_key != before
    assert SESSION_KEY in client.session


# --- CORS -------------------------------------------------------------------------------------

KIOSK = "https://kiosk.example.org"


def test_cors_answers_no_origin_by_default(client):
    response = client.get("/check_connection/status", HTTP_ORIGIN=KIOSK)
    assert "Access-Control-Allow-Origin" not in response


def test_cors_answers_an_allowlisted_origin_on_the_status_endpoints(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [KIOSK]
    for path in ("/check_connection/status", "/loading/status"):
        response = client.get(path, HTTP_ORIGIN=KIOSK)
        assert response["Access-Control-Allow-Origin"] == KIOSK
    preflight = client.options(
        "/check_connection/status", HTTP_ORIGIN=KIOSK, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert preflight["Access-Control-Allow-Origin"] == KIOSK


def test_cors_ignores_an_origin_that_is_not_allowlisted(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [KIOSK]
    for origin in ("https://evil.example", "http://kiosk.example.org", "null"):
        response = client.get("/check_connection/status", HTTP_ORIGIN=origin)
        assert "Access-Control-Allow-Origin" not in response, origin


def test_cors_does_not_open_the_pages_themselves(client, settings):
    settings.CORS_ALLOWED_ORIGINS = [KIOSK]
    assert "Access-Control-Allow-Origin" not in client.get("/", HTTP_ORIGIN=KIOSK)
    assert "Access-Control-Allow-Origin" not in client.get(reverse("onboarding:name"), HTTP_ORIGIN=KIOSK)


# --- The deployment check and start-up failures ----------------------------------------------


def test_the_deployment_check_reports_no_issue_with_production_settings(tmp_path):
    # The demo issuer, named: the operator's choice (without it, see the next test).
    result = run(["manage.py", "check", "--deploy"], production_environment(tmp_path, REGISTERFT_ISSUERS="demo"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_the_deployment_check_reports_the_demo_issuer_nobody_chose(tmp_path):
    result = run(["manage.py", "check", "--deploy"], production_environment(tmp_path))
    assert "onboarding.W001" in result.stdout + result.stderr
    assert "REGISTERFT_ISSUERS" in result.stdout + result.stderr


def test_start_up_fails_without_a_secret_key_when_debug_is_off(tmp_path):
    result = run(["manage.py", "check"], production_environment(tmp_path, DJANGO_SECRET_KEY=None))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_start_up_fails_without_allowed_hosts_when_debug_is_off(tmp_path):
    result = run(["manage.py", "check"], production_environment(tmp_path, DJANGO_ALLOWED_HOSTS=None))
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


@pytest.mark.parametrize(
    "name, value",
    [
        ("REGISTERFT_ISSUER", "carrier-pigeon"),
        ("REGISTERFT_ISSUERS", "acapy,carrier-pigeon"),
        ("REGISTERFT_STATUS_CHECK_INTERVAL", "soon"),
        ("REGISTERFT_INVITATION_TTL", "1"),
        ("REGISTERFT_FORM_FIELDS", "first_name,last_name"),
        ("REGISTERFT_COOKIE_SAMESITE", "Sometimes"),
        ("DJANGO_DEBUG", "maybe"),
        ("REGISTERFT_ISSUER_TIMEOUT", "nan"),
        ("REGISTERFT_STATUS_CHECK_INTERVAL", "inf"),
        ("REGISTERFT_PUBLIC_URL", "register.example.org"),
        ("ACAPY_ADMIN_URL", "localhost:8031"),
        ("AGENT_REST_ATTRIBUTE_NAMES", "first_name=firstName,lastName"),
        ("REGISTERFT_FRAME_ANCESTORS", "*"),
        ("REGISTERFT_FRAME_ANCESTORS", "https://*.example.org"),
        ("REGISTERFT_FRAME_ANCESTORS", "https://events.example.org/page"),
    ],
)
def test_start_up_fails_on_a_bad_value_naming_the_variable(tmp_path, name, value):
    result = run(["manage.py", "check"], production_environment(tmp_path, **{name: value}))
    assert result.returncode != 0
    assert name in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_start_up_fails_when_production_would_serve_metrics_without_a_token(tmp_path):
    result = run(["manage.py", "check"], production_environment(tmp_path, REGISTERFT_METRICS="1"))
    assert result.returncode != 0
    assert "REGISTERFT_METRICS_TOKEN" in result.stderr


def test_metrics_with_a_token_start_in_production_and_without_one_in_development(tmp_path):
    with_token = production_environment(tmp_path, REGISTERFT_METRICS="1", REGISTERFT_METRICS_TOKEN="s3cret-metrics")
    assert run(["manage.py", "check"], with_token).returncode == 0
    development = production_environment(tmp_path, REGISTERFT_METRICS="1", DJANGO_DEBUG="1")
    assert run(["manage.py", "check"], development).returncode == 0


def test_start_up_fails_when_the_agent_rest_backend_has_no_urls(tmp_path):
    result = run(["manage.py", "check"], production_environment(tmp_path, REGISTERFT_ISSUERS="agent-rest"))
    assert result.returncode != 0
    assert "AGENT_REST_CONNECTION_URL" in result.stderr
