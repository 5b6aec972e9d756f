"""The real issuer agent's event websocket carries a registration from the QR code to the credential
with every webhook refused (``manage.py acapy_events``'s loop in a thread beside the live portal)."""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import connection

from onboarding import agent_events
from onboarding.models import Registration
from tests.integration.test_acapy_flow import Visitor, details, stored_credential, wait_for, wallet_receives

pytestmark = pytest.mark.integration


def test_the_agents_event_stream_alone_takes_a_visitor_to_the_credential(portal, settings, holder_agent, caplog):
    # No fallback check during the flow, and the agent's webhooks are all refused: every step the
    # portal sees must come through the stream.
    settings.REGISTERFT_WEBHOOK_FALLBACK_INTERVAL = 120.0
    settings.ACAPY_WEBHOOK_SECRET = "not-the-agents-secret"
    caplog.set_level(logging.INFO, logger="onboarding.webhooks")
    stop, errors = threading.Event(), []

    def follow() -> None:
        try:
            agent_events.follow_acapy_events(stop, idle_seconds=0.2)
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            errors.append(err)
        finally:
            connection.close()

    thread = threading.Thread(target=follow, name="acapy-events")
    thread.start()
    try:
        wait_for("the event stream to open",
                 lambda: any(r.getMessage().startswith("event stream open: ws://") for r in caplog.records))
        visitor = Visitor(portal)
        wallet_receives(visitor.invitation_link(), holder_agent)
        visitor.wait_until_moved("/check_connection/status", "/name")
        submitted = details()
        assert visitor.submit_details(submitted).status_code == 302
        visitor.wait_until_moved("/loading/status", "/success")
        assert visitor.get("/success").status_code == 200
        wait_for("the credential in the wallet", lambda: stored_credential(holder_agent, submitted))
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive() and errors == []
    registration = Registration.objects.get()
    assert registration.state == Registration.State.ISSUED
    lines = [record.getMessage() for record in caplog.records]
    assert f"event topic=connections state=active registration={registration.pk}" in lines
    assert f"event topic=issue_credential_v2_0 state=done registration={registration.pk}" in lines
    assert any(line.startswith("webhook refused") for line in lines), "the agent's webhooks were not refused"
