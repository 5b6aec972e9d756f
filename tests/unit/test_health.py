"""/healthz and /readyz: cheap, cookie-free, and the issuer never decides readiness."""

from __future__ import annotations

import os

import pytest
import requests
import responses
from django.core.cache import cache
from django.db import OperationalError, connections

from onboarding import health
from onboarding.issuers import get_issuer

pytestmark = pytest.mark.django_db


def ready(client):
    """Ask /readyz twice: the first starts the background issuer check, the second reports it."""
    client.get("/readyz")
    health.issuer_refresh_wait()
    return client.get("/readyz")


def test_healthz_answers_without_a_cookie_or_a_session(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert not response.cookies
    assert "Set-Cookie" not in response.headers
    assert os.listdir(settings.SESSION_FILE_PATH) == []
    assert "no-cache" in response["Cache-Control"]


def test_readyz_reports_database_cache_and_issuer(client, settings):
    response = ready(client)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["cache"] == "ok"
    assert body["issuer"]["backend"] == "demo"
    assert body["issuer"]["reachable"] is True
    assert not response.cookies
    assert os.listdir(settings.SESSION_FILE_PATH) == []


def test_readyz_reports_an_unknown_issuer_before_the_first_check(client, monkeypatch):
    monkeypatch.setattr(health, "_start_issuer_refresh", lambda: None)
    body = client.get("/readyz").json()
    assert body["issuer"] == {"backend": "demo", "reachable": None, "checked_at": None}


def test_readyz_is_503_when_the_database_is_unreachable(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("unable to open database file")

    monkeypatch.setattr(connections["default"], "cursor", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert response.json()["status"] == "unavailable"
    health.issuer_refresh_wait()


def test_readyz_is_503_when_the_cache_is_unreachable(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionError("cache server gone")

    monkeypatch.setattr(cache, "set", refuse)
    monkeypatch.setattr(cache, "get", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["cache"] == "unreachable"
    assert response.json()["database"] == "ok"
    health.issuer_refresh_wait()


def test_readyz_stays_ready_when_the_issuer_is_down(client, settings):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    settings.AGENT_REST_CONNECTION_URL = settings.AGENT_REST_ISSUER_URL = "http://agent.test"
    get_issuer.cache_clear()
    with responses.RequestsMock() as mock:
        mock.get("http://agent.test/connection/registerft-health-check", body=requests.ConnectionError("refused"))
        response = ready(client)
    assert response.status_code == 200
    assert response.json()["issuer"]["reachable"] is False
    assert response.json()["issuer"]["backend"] == "agent-rest"


def test_readyz_asks_the_issuer_at_most_once_per_interval(client, settings, monkeypatch):
    calls = []
    real = health.issuer_status
    monkeypatch.setattr(health, "issuer_status", lambda backend="": calls.append(1) or real(backend))
    ready(client)
    for _ in range(5):
        client.get("/readyz")
    health.issuer_refresh_wait()
    assert len(calls) == 1


def test_the_probes_are_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/").status_code == 301
    health.issuer_refresh_wait()


def test_the_probes_only_answer_get(client):
    assert client.post("/healthz").status_code == 405


def test_the_probes_answer_head(client):
    assert client.head("/healthz").status_code == 200


def test_a_load_balancer_probing_by_address_gets_an_answer_but_pages_keep_the_host_check(client, settings):
    """The probes answer whatever the Host header says; every other path still needs an allowed host."""
    settings.ALLOWED_HOSTS = ["portal.example.org"]
    probe = {"HTTP_HOST": "10.0.0.11:8000"}
    assert client.get("/healthz", **probe).status_code == 200
    assert client.get("/readyz", **probe).status_code == 200
    assert client.post("/readyz", **probe).status_code == 405
    assert client.get("/", **probe).status_code == 400
    assert client.get("/healthz/", **probe).status_code == 400  # only the probes' own paths
    health.issuer_refresh_wait()
