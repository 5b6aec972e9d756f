"""The whole flow with two real ACA-Py agents: the visitor's browser is a requests.Session, the
wallet is a holder agent that takes the invitation from the page the visitor sees."""

from __future__ import annotations

import io
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.conf import settings
from django.core.management import call_command

from onboarding.models import AcaPyIssuerDid, Registration
from tests.integration.agents import Agent

pytestmark = pytest.mark.integration

DEADLINE = 30.0


def wait_for(what: str, check: Callable[[], Any], *, deadline: float = DEADLINE, pause: float = 0.2) -> Any:
    """Poll ``check`` until it returns something true, or fail naming ``what``."""
    stop = time.monotonic() + deadline
    last = None
    while time.monotonic() < stop:
        last = check()
        if last:
            return last
        time.sleep(pause)
    pytest.fail(f"Timed out waiting for {what}; last answer: {last!r}")


class Visitor:
    """The visitor's browser: one cookie jar, following the portal's pages."""

    def __init__(self, portal: str):
        self.portal = portal
        self.browser = requests.Session()
        # English pages, so that failures read the same in every assertion message.
        self.browser.cookies.set(settings.LANGUAGE_COOKIE_NAME, "en")

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.browser.get(self.portal + path, timeout=20, **kwargs)

    def invitation_link(self) -> str:
        page = self.get("/")
        assert page.status_code == 200, page.text[:500]
        match = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', page.text)
        assert match, "the start page shows no invitation link"
        return match.group(1)

    def status(self, path: str) -> dict:
        response = self.get(path)
        assert response.status_code == 200, response.text[:500]
        return response.json()

    def wait_until_moved(self, path: str, target: str) -> dict:
        def moved() -> dict | None:
            status = self.status(path)
            assert status["state"] != "failed", status
            return status if status["next"] == target else None

        return wait_for(f"{path} to move on to {target}", moved)

    def submit_details(self, details: dict[str, str]) -> requests.Response:
        form = self.get("/name")
        assert form.status_code == 200, form.text[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        return self.browser.post(
            self.portal + "/name", data={**details, "csrfmiddlewaretoken": token},
            headers={"Referer": self.portal + "/name"}, allow_redirects=False, timeout=30,
        )


def wallet_receives(link: str, holder: Agent) -> dict:
    """The wallet opens the QR's link asking for JSON, and accepts the invitation it gets."""
    answer = requests.get(link, headers={"Accept": "application/json"}, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    invitation = answer.json()
    assert invitation["@type"].endswith("/out-of-band/1.1/invitation")
    return holder.post("/out-of-band/receive-invitation", invitation, auto_accept="true")


def details() -> dict[str, str]:
    """A value for every field of the form, unique to this test so that its credential can be told apart."""
    tag = secrets.token_hex(4)
    return {field["name"]: f"{field['name'].replace('_', ' ').title()} {tag}"[: field["max_length"]]
            for field in settings.REGISTERFT_FORM_FIELDS}


def stored_credential(holder: Agent, submitted: dict[str, str]) -> dict | None:
    for item in holder.post("/credentials/w3c", {}).get("results", []):
        subject = item.get("cred_value", {}).get("credentialSubject", {})
        if all(subject.get(name) == value for name, value in submitted.items()):
            return item["cred_value"]
    return None


def agent_calls(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The portal's calls to the agent, in order, from its own log lines (one per call)."""
    found = (re.search(r"backend=acapy operation=(\w+)", record.getMessage()) for record in caplog.records)
    return [match.group(1) for match in found if match]


def test_a_wallet_gets_a_verifiable_credential_through_the_portal(portal, settings, issuer_agent, holder_agent, caplog):
    # However slow this machine is today, no fallback check is due during the flow: every state
    # must come from the agent's webhooks.
    settings.REGISTERFT_WEBHOOK_FALLBACK_INTERVAL = 120.0
    caplog.set_level(logging.INFO, logger="onboarding.issuer")
    started = time.monotonic()
    visitor = Visitor(portal)
    wallet_receives(visitor.invitation_link(), holder_agent)

    visitor.wait_until_moved("/check_connection/status", "/name")
    submitted = details()
    response = visitor.submit_details(submitted)
    assert response.status_code == 302 and response.headers["Location"] == "/loading/"
    visitor.wait_until_moved("/loading/status", "/success")
    success = visitor.get("/success")
    assert success.status_code == 200

    credential = wait_for("the credential in the wallet", lambda: stored_credential(holder_agent, submitted))
    assert "RegisterftCredential" in credential["type"]
    issuer = credential["issuer"]
    # Signed by the portal's one did:key, created at the agent and remembered.
    assert (issuer["id"] if isinstance(issuer, dict) else issuer) == AcaPyIssuerDid.objects.get().did
    assert credential["proof"]["type"] == "Ed25519Signature2020"
    verified = holder_agent.post("/vc/credentials/verify", {"verifiableCredential": credential})
    assert verified["verified"] is True, verified

    registration = Registration.objects.get()
    assert registration.state == Registration.State.ISSUED
    assert registration.attributes == submitted
    # The visitor's many status polls never reached the agent.
    assert agent_calls(caplog) == ["create_invitation", "create_did", "offer_credential"]
    print(f"\nflow from invitation to verified credential: {time.monotonic() - started:.1f} s")

    # The person asks to be forgotten: the agent's record of the offer (with the details) goes too.
    record = f"{issuer_agent.admin_url}/issue-credential-2.0/records/{registration.process_id}"
    assert requests.get(record, headers=issuer_agent.headers, timeout=10).status_code == 200
    call_command("purge_registrations", "--id", str(registration.pk), stdout=io.StringIO())
    assert requests.get(record, headers=issuer_agent.headers, timeout=10).status_code == 404
    assert not Registration.objects.exists()


def test_a_wallet_that_refuses_the_offer_shows_the_visitor_a_failure(portal, refusing_holder_agent):
    visitor = Visitor(portal)
    wallet_receives(visitor.invitation_link(), refusing_holder_agent)
    visitor.wait_until_moved("/check_connection/status", "/name")
    assert visitor.submit_details(details()).status_code == 302

    def offer_received() -> str | None:
        records = refusing_holder_agent.get("/issue-credential-2.0/records", state="offer-received")["results"]
        return records[0]["cred_ex_record"]["cred_ex_id"] if records else None

    cred_ex_id = wait_for("the offer in the wallet", offer_received)
    refusing_holder_agent.post(f"/issue-credential-2.0/records/{cred_ex_id}/problem-report",
                               {"description": "not wanted"})

    status = wait_for("the failure", lambda: (s := visitor.status("/loading/status"))["state"] == "failed" and s)
    assert status["message"] == "The credential was declined or could not be issued."
    page = visitor.get("/loading/")
    assert page.status_code == 200
    assert "The credential was declined or could not be issued." in page.text
    registration = Registration.objects.get()
    assert registration.failure == Registration.Failure.OFFER_DECLINED
    assert "not wanted" in registration.failure_detail


def test_a_stopped_issuer_is_reported_and_the_flow_goes_on_once_it_is_back(portal, settings, issuer_agent,
                                                                           holder_agent):
    # Ask the agent itself soon after the webhooks stop coming.
    settings.REGISTERFT_WEBHOOK_FALLBACK_INTERVAL = 1.0
    visitor = Visitor(portal)
    link = visitor.invitation_link()

    issuer_agent.stop()
    try:
        status = wait_for(
            "the issuer to be reported unavailable",
            lambda: (s := visitor.status("/check_connection/status"))["issuer"] == "unavailable" and s,
        )
        assert status["state"] == "waiting"
        assert "cannot be reached" in status["message"]
        # The waiting page itself (without JavaScript it reloads) says so too, once a check is due.
        # (A requests.Response with an error status is falsy: wait for a list holding it.)
        page = wait_for("the page to say so",
                        lambda: [p for p in [visitor.get("/check_connection/")] if p.status_code != 200])[0]
        assert page.status_code in (503, 504) and "Traceback" not in page.text
        assert "cannot be reached" in page.text
    finally:
        issuer_agent.start()

    wallet_receives(link, holder_agent)
    assert visitor.wait_until_moved("/check_connection/status", "/name")["issuer"] == "ok"

    # Down again while the details are sent: the form says so and keeps what was typed.
    submitted = details()
    issuer_agent.stop()
    try:
        refused = visitor.submit_details(submitted)
        assert refused.status_code in (503, 504) and "Traceback" not in refused.text
        assert "cannot be reached" in refused.text
        assert next(iter(submitted.values())) in refused.text
    finally:
        issuer_agent.start()
    assert visitor.submit_details(submitted).status_code == 302
    visitor.wait_until_moved("/loading/status", "/success")
    assert wait_for("the credential in the wallet", lambda: stored_credential(holder_agent, submitted))
