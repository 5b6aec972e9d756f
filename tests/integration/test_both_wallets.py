"""Both kinds of wallet on one portal, with their real components in one run (issue 14): the
portal runs swiyu (a stand-in for swiyu's management API in front of a real Credo issuer) and
ACA-Py (a real issuer agent) at once. One visitor with a DIDComm wallet (a real ACA-Py holder),
one with an OpenID4VCI wallet (a real Credo holder), each chooses their kind and reaches success;
at the door the DIDComm credential is checked by the ACA-Py agent and the swiyu one is checked in
by name, as the door page tells staff."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from onboarding.issuers import get_issuer
from onboarding.models import CheckIn, Registration
from onboarding.verifiers import get_verifier
from tests.integration.conftest import WEBHOOK_SECRET
from tests.integration.test_acapy_flow import Visitor, details, stored_credential, wait_for, wallet_receives
from tests.integration.test_door import Door, did_key, present, record_of
from tests.integration.test_swiyu_flow import offer_page, pin_on, scanned
from tests.oid4vc.components import limit_with_install
from tests.oid4vc.fixtures import (  # noqa: F401  (fixtures)
    oid4vc_components,
    oid4vc_holder,
    oid4vc_log_dir,
    point_at_swiyu_standin,
    swiyu_standin,
)
from tests.oid4vc.reading import verified_claims

pytestmark = [pytest.mark.integration, pytest.mark.timeout(limit_with_install(240))]

State = Registration.State


@pytest.fixture
def both(settings, issuer_agent, swiyu_standin, live_server) -> Iterator[str]:
    """The live portal with both backends, each pointed at its own real components."""
    settings.REGISTERFT_ISSUERS = ("swiyu", "acapy")
    settings.ACAPY_ADMIN_URL = issuer_agent.admin_url
    settings.ACAPY_ADMIN_API_KEY = issuer_agent.api_key
    settings.ACAPY_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.ACAPY_ISSUER_DID = ""
    point_at_swiyu_standin(settings, swiyu_standin)
    get_issuer.cache_clear()
    get_verifier.cache_clear()
    yield live_server.url
    get_issuer.cache_clear()
    get_verifier.cache_clear()


def choose(visitor: Visitor, backend: str) -> None:
    """The visitor answers the start page's question with the button of their kind of wallet."""
    page = visitor.get("/")
    assert page.status_code == 200 and "Which wallet do you have?" in page.text, page.text[:500]
    assert f'name="wallet" value="{backend}"' in page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = visitor.browser.post(
        visitor.portal + "/wallet/", data={"wallet": backend, "csrfmiddlewaretoken": token},
        headers={"Referer": visitor.portal + "/"}, allow_redirects=False, timeout=20,
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/", answer.text[:500]


def test_two_visitors_one_per_wallet_each_reach_success_and_the_door_checks_each_its_way(
    both, holder_agent, oid4vc_holder, swiyu_standin
):
    # The DIDComm visitor: connection first, at the ACA-Py agent.
    didcomm = Visitor(both)
    choose(didcomm, "acapy")
    wallet_receives(didcomm.invitation_link(), holder_agent)
    didcomm.wait_until_moved("/check_connection/status", "/name")
    didcomm_details = details()
    assert didcomm.submit_details(didcomm_details).headers["Location"] == "/loading/"
    didcomm.wait_until_moved("/loading/status", "/success")
    assert didcomm.get("/success").status_code == 200
    assert wait_for("the DIDComm credential", lambda: stored_credential(holder_agent, didcomm_details))

    # The OpenID4VCI visitor: details first, one QR code with the offer, at swiyu's issuer.
    openid = Visitor(both)
    choose(openid, "swiyu")
    page = offer_page(openid, openid_details := details())
    answer = oid4vc_holder.redeem(scanned(page), tx_code=pin_on(page))
    assert answer.status_code == 200, answer.text
    openid.wait_until_moved("/offer/status", "/success")
    assert openid.get("/success").status_code == 200
    claims = verified_claims(answer.json()["credential"], swiyu_standin.issuer_key()["jwk"])
    assert {name: claims.get(name) for name in openid_details} == openid_details

    by_backend = {registration.backend: registration for registration in Registration.objects.all()}
    assert set(by_backend) == {"acapy", "swiyu"}
    assert all(registration.state == State.ISSUED for registration in by_backend.values())
    assert by_backend["acapy"].attributes == didcomm_details and by_backend["swiyu"].attributes == openid_details

    # The door: a request at the ACA-Py agent, and the swiyu wallets named for the check by name.
    door = Door(both, "door1", "North")
    door_request, link = door.new_request()
    assert door_request.backend == "acapy"
    door_page = door.get(f"/door/r/{door_request.pk}/").text
    assert "The door cannot check these wallets yet: swiyu or another OpenID wallet." in door_page
    record = record_of(holder_agent, by_backend["acapy"].credential_id)["record_id"]
    present(holder_agent, link, record, signer=did_key(holder_agent))
    colour, text = door.result(door_request)
    assert colour == "green" and f"Welcome, {didcomm_details['first_name']}" in text

    # The swiyu visitor, found by name and let in by hand.
    found = door.get(f"/door/manual/?q={openid_details['last_name'].split()[-1]}").text
    assert str(by_backend["swiyu"].pk) in found
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', found).group(1)
    admitted = door.browser.post(
        both + "/door/manual/", data={"registration": str(by_backend["swiyu"].pk), "csrfmiddlewaretoken": token},
        headers={"Referer": both + "/door/manual/"}, timeout=20,
    )
    assert 'data-result="green"' in admitted.text
    assert sorted(CheckIn.objects.values_list("registration__backend", "method")) == [
        ("acapy", "scan"), ("swiyu", "manual")
    ]
