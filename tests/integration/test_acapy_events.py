"""The real issuer agent's event websocket carries a registration from the QR code to the credential
with every webhook refused (``manage.py acapy_events``'s loop in a thread beside the live portal)."""

from __future__ import annotations

import io
import logging
import threading

import pytest
from django.core.management import call_command

from onboarding.models import Registration
from tests.integration.test_acapy_flow import wait_for
from tests.integration.test_door import register
from tests.unit.test_acapy_event_stream import following

pytestmark = pytest.mark.integration


def test_the_agents_event_stream_alone_takes_a_visitor_to_the_credential(portal, settings, holder_agent, caplog):
    # No fallback check during the flow, and the agent's webhooks are all refused: every step the
    # portal sees must come through the stream.
    settings.REGISTERFT_WEBHOOK_FALLBACK_INTERVAL = 120.0
    settings.ACAPY_WEBHOOK_SECRET = "not-the-agents-secret"
    caplog.set_level(logging.INFO, logger="onboarding.webhooks")
    stop, errors = threading.Event(), []
    thread = threading.Thread(target=following(stop, errors), name="acapy-events")
    thread.start()
    try:
        wait_for("the event stream to open",
                 lambda: any(r.getMessage().startswith("event stream open: ws://") for r in caplog.records))
        registration = register(portal, holder_agent)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive() and errors == []
    registration.refresh_from_db()
    assert registration.state == Registration.State.ISSUED
    lines = [record.getMessage() for record in caplog.records]
    assert f"event topic=connections state=active registration={registration.pk}" in lines
    assert f"event topic=issue_credential_v2_0 state=done registration={registration.pk}" in lines
    assert any(line.startswith("webhook refused") for line in lines), "the agent's webhooks were not refused"


def test_the_issuer_status_says_the_agents_websocket_accepts_the_key(portal):
    out = io.StringIO()
    call_command("issuer_status", stdout=out)
    assert "reachable:  yes" in out.getvalue()
    assert "events ws:  accepted" in out.getvalue()
