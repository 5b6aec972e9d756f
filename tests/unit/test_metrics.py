"""/metrics: off by default, optionally behind a bearer token, and what it counts."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
import responses

from onboarding import health, metrics
from onboarding.issuers import get_issuer
from onboarding.issuers.base import IssuerError
from onboarding.models import Registration

pytestmark = pytest.mark.django_db

AGENT = "http://agent.test"


@pytest.fixture
def metrics_on(settings):
    settings.REGISTERFT_METRICS = True
    settings.REGISTERFT_METRICS_TOKEN = ""
    return settings


def sample(name: str, **labels: str) -> float:
    return metrics.PORTAL.get_sample_value(name, labels) or 0.0


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_count_registrations_by_state(client, metrics_on):
    for state in ("issued", "issued", "failed"):
        Registration.objects.create(backend="demo", state=state, invitation_id=str(uuid.uuid4()), invitation_url="/x")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'registerft_registrations{state="issued"} 2.0' in text
    assert 'registerft_registrations{state="failed"} 1.0' in text
    assert 'registerft_registrations{state="invited"} 0.0' in text
    assert not response.cookies


def test_metrics_report_whether_the_issuer_answers(client, metrics_on):
    health.issuer_refresh_health()
    assert 'registerft_issuer_up{backend="demo"} 1.0' in client.get("/metrics").content.decode()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic c2VjcmV0", "bearer s3cret-metrics"])
def test_metrics_with_a_token_refuse_anyone_without_it(client, metrics_on, authorization):
    metrics_on.REGISTERFT_METRICS_TOKEN = "s3cret-metrics"
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"registerft_" not in response.content


def test_metrics_with_a_token_answer_the_bearer(client, metrics_on):
    metrics_on.REGISTERFT_METRICS_TOKEN = "s3cret-metrics"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics")
    assert response.status_code == 200
    assert b"registerft_registrations" in response.content


@pytest.fixture
def agent_rest(settings):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    settings.AGENT_REST_CONNECTION_URL = settings.AGENT_REST_ISSUER_URL = AGENT
    get_issuer.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def test_metrics_time_issuer_calls_and_count_their_errors(agent_rest, metrics_on):
    labels = {"backend": "agent-rest", "operation": "create_invitation"}
    calls_before = sample("registerft_issuer_call_duration_seconds_count", **labels)
    errors_before = sample("registerft_issuer_call_errors_total", outcome="http_503", **labels)
    timeouts_before = sample("registerft_issuer_call_errors_total", outcome="timeout", **labels)
    agent_rest.post(f"{AGENT}/connection/invitation", json={"connectionId": "c", "invitationUrl": "https://a/?oob=e30"})
    agent_rest.post(f"{AGENT}/connection/invitation", status=503, body="down")
    agent_rest.post(f"{AGENT}/connection/invitation", body=requests.Timeout("slow"))
    get_issuer().create_invitation(label="x")
    for _ in range(2):
        with pytest.raises(IssuerError):
            get_issuer().create_invitation(label="x")
    assert sample("registerft_issuer_call_duration_seconds_count", **labels) == calls_before + 3
    assert sample("registerft_issuer_call_errors_total", outcome="http_503", **labels) == errors_before + 1
    assert sample("registerft_issuer_call_errors_total", outcome="timeout", **labels) == timeouts_before + 1


def test_nothing_is_counted_while_metrics_are_off(agent_rest, settings):
    settings.REGISTERFT_METRICS = False
    labels = {"backend": "agent-rest", "operation": "create_invitation"}
    before = sample("registerft_issuer_call_duration_seconds_count", **labels)
    agent_rest.post(f"{AGENT}/connection/invitation", json={"connectionId": "c", "invitationUrl": "https://a/?oob=e30"})
    get_issuer().create_invitation(label="x")
    assert sample("registerft_issuer_call_duration_seconds_count", **labels) == before


def test_webhook_deliveries_are_counted_by_topic_and_outcome(metrics_on):
    before = sample("registerft_webhook_deliveries_total", topic="connections", outcome="ok")
    metrics.webhook_delivery_observed(topic="connections", outcome="ok")
    assert sample("registerft_webhook_deliveries_total", topic="connections", outcome="ok") == before + 1


WORKER = """
import django, os, sys
django.setup()
from onboarding import metrics
metrics.issuer_call_observed(backend="agent-rest", operation="health", outcome=sys.argv[1], seconds=0.2)
"""
SCRAPE = """
import django
django.setup()
from onboarding import health
import sys
sys.stdout.write(health.metrics_exposition().decode())
"""


def test_multi_process_mode_adds_up_what_each_worker_counted(tmp_path):
    """Two "workers" count in their own processes; a third process's scrape sees both."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "REGISTERFT_METRICS": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "REGISTERFT_DB_PATH": str(tmp_path / "db.sqlite3"),
    }
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for outcome in ("ok", "timeout"):
        subprocess.run([sys.executable, "-c", WORKER, outcome], env=env, cwd=root, check=True, timeout=60)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=root, check=True, timeout=120
    )
    scraped = subprocess.run(
        [sys.executable, "-c", SCRAPE], env=env, cwd=root, check=True, timeout=60, capture_output=True, text=True
    ).stdout
    assert 'registerft_issuer_call_duration_seconds_count{backend="agent-rest",operation="health"} 2.0' in scraped
    assert (
        'registerft_issuer_call_errors_total{backend="agent-rest",operation="health",outcome="timeout"} 1.0'
        in scraped
    )
    assert 'registerft_registrations{state="issued"} 0.0' in scraped


@pytest.mark.parametrize(
    "topic, key, body, counted, outcome",
    [
        ("connections", "wrong", "{}", "connections", "unauthorised"),
        ("connections", "hook-secret", "not json", "connections", "bad_request"),
        ("basicmessages", "hook-secret", "{}", "other", "ignored"),
        ("made-up-topic-1234", "wrong", "{}", "other", "unauthorised"),
    ],
)
def test_webhook_deliveries_are_counted_from_the_webhook_view(client, metrics_on, topic, key, body, counted, outcome):
    metrics_on.ACAPY_WEBHOOK_SECRET = "hook-secret"
    metrics_on.REGISTERFT_ISSUERS = ("acapy",)  # the endpoint exists only where the portal runs ACA-Py
    before = sample("registerft_webhook_deliveries_total", topic=counted, outcome=outcome)
    client.post(f"/webhooks/acapy/topic/{topic}/", body, content_type="application/json", HTTP_X_API_KEY=key)
    assert sample("registerft_webhook_deliveries_total", topic=counted, outcome=outcome) == before + 1
    assert sample("registerft_webhook_deliveries_total", topic=topic, outcome=outcome) == (
        before + 1 if topic == counted else 0
    )


def test_metrics_is_a_leaf_that_the_issuer_backends_can_import():
    """metrics imports nothing of the portal, lazily or not: the backends import it, so anything it
    imported of ours would close a circle (the scrape-time state lives in onboarding.health)."""
    tree = ast.parse(Path(metrics.__file__).read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.level]
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    assert not [name for name in imported if name.split(".")[0] in ("onboarding", "registerft")]


def test_it_counts_registrations_and_reachability_per_backend(client, metrics_on, settings):
    settings.REGISTERFT_ISSUERS = ("demo", "swiyu")
    settings.SWIYU_MANAGEMENT_URL = "http://127.0.0.1:9"  # nothing listens: unreachable
    settings.SWIYU_CREDENTIAL_CONFIGURATION_ID = "registerft"
    settings.SWIYU_WEBHOOK_KEY = "hook"
    settings.REGISTERFT_ISSUER_TIMEOUT = 0.5
    Registration.objects.create(backend="swiyu", state="issued", invitation_id="", invitation_url="")
    Registration.objects.create(backend="demo", state="issued", invitation_id="i", invitation_url="/x")
    health.issuer_refresh_health()
    text = client.get("/metrics").content.decode()
    assert 'registerft_registrations{state="issued"} 2.0' in text
    assert 'registerft_registrations_by_backend{backend="swiyu",state="issued"} 1.0' in text
    assert 'registerft_registrations_by_backend{backend="demo",state="issued"} 1.0' in text
    assert 'registerft_issuer_up{backend="demo"} 1.0' in text
    assert 'registerft_issuer_up{backend="swiyu"} 0.0' in text
