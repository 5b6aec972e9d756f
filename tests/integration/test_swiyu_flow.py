"""The offer-first order against real OpenID4VCI components: the portal's swiyu backend talks to a
stand-in for swiyu's management API in front of a real issuer (Credo 0.6.3), and a real holder
(Credo) redeems the offer it decodes from the QR code's pixels, with the PIN the page shows.

The visitor's browser is a requests.Session (tests/browser/test_swiyu_qr.py runs Chromium)."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from onboarding.models import Registration
from tests.integration.test_acapy_flow import Visitor, details, wait_for

# The stand-in, the holder and the portal pointed at them, started once per run.
from tests.oid4vc.fixtures import (  # noqa: F401  (fixtures)
    oid4vc_components,
    oid4vc_holder,
    oid4vc_log_dir,
    swiyu_portal,
    swiyu_standin,
)
from tests.oid4vc.components import limit_with_install
from tests.oid4vc.reading import decode_qr_image, qr_pixels, verified_claims

pytestmark = [pytest.mark.integration, pytest.mark.timeout(limit_with_install(120))]

State = Registration.State
OTHER_KEY = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}


def offer_page(visitor: Visitor, submitted: dict[str, str]) -> str:
    """The visitor sends the details and opens the offer's page, which makes the offer."""
    response = visitor.submit_details(submitted)
    assert response.status_code == 302 and response.headers["Location"] == "/offer/", response.text[:500]
    page = visitor.get("/offer/")
    assert page.status_code == 200, page.text[:500]
    return page.text


def scanned(page: str) -> str:
    """What a wallet's camera reads from the QR code on the page."""
    svg = re.search(r'<figure class="qr"[^>]*>\s*(<svg.*?</svg>)', page, re.S).group(1)
    [text] = decode_qr_image(qr_pixels(svg))
    return text


def pin_on(page: str) -> str:
    return re.search(r'<output class="pin"[^>]*>(\d+)</output>', page).group(1)


def test_a_real_wallet_redeems_the_scanned_offer_and_holds_a_verifiable_sd_jwt_vc(
    swiyu_portal, swiyu_standin, oid4vc_holder, settings
):
    started = time.monotonic()
    visitor = Visitor(swiyu_portal)
    submitted = details()
    page = offer_page(visitor, submitted)
    link, pin = scanned(page), pin_on(page)

    # The offer by reference, the PIN only on the page.
    registration = Registration.objects.get(state=State.OFFERED)
    reference = unquote(parse_qs(urlsplit(link).query)["credential_offer_uri"][0])
    assert link.startswith("swiyu://?credential_offer_uri=") and len(link) < 120
    assert reference == f"{swiyu_portal}/o/{registration.short_code}"
    assert pin == registration.offer_pin and pin not in link

    answer = oid4vc_holder.redeem(link, tx_code=pin)
    assert answer.status_code == 200, answer.text
    visitor.wait_until_moved("/offer/status", "/success")
    assert Registration.objects.get(pk=registration.pk).state == State.ISSUED
    assert swiyu_standin.status(registration.process_id) == "ISSUED"

    stored = oid4vc_holder.credentials()
    assert answer.json()["credential"] in stored
    claims = verified_claims(answer.json()["credential"], swiyu_standin.issuer_key()["jwk"])
    assert {name: claims.get(name) for name in submitted} == submitted
    assert claims["iss"] == swiyu_standin.issuer_key()["kid"].split("#")[0]
    with pytest.raises(Exception):  # noqa: B017 (sd-jwt raises jwcrypto's or its own errors)
        verified_claims(answer.json()["credential"], OTHER_KEY)
    print(f"\noffer-first issuance with a real holder: {time.monotonic() - started:.1f} s")


def test_a_wrong_pin_gets_no_credential_and_the_offer_stays_open(swiyu_portal, swiyu_standin, oid4vc_holder):
    visitor = Visitor(swiyu_portal)
    page = offer_page(visitor, details())
    link, pin = scanned(page), pin_on(page)
    wrong = f"{(int(pin) + 1) % 10 ** len(pin):0{len(pin)}d}"

    answer = oid4vc_holder.redeem(link, tx_code=wrong)
    assert answer.status_code == 400 and "tx_code" in answer.json()["error"]
    registration = Registration.objects.get(short_code=link.rsplit("%2F", 1)[-1])
    assert registration.state == State.OFFERED
    assert visitor.status("/offer/status")["state"] == "waiting"
    assert swiyu_standin.status(registration.process_id) != "ISSUED"


def test_an_offer_not_taken_in_time_shows_the_failure_page_and_cannot_be_redeemed(
    swiyu_portal, swiyu_standin, oid4vc_holder, settings
):
    settings.REGISTERFT_OFFER_TTL = 2  # the portal's offer and the issuer's (offer_validity_seconds)
    visitor = Visitor(swiyu_portal)
    page = offer_page(visitor, details())
    link, pin = scanned(page), pin_on(page)
    registration = Registration.objects.get(short_code=link.rsplit("%2F", 1)[-1])

    wait_for("the issuer to expire the offer", lambda: swiyu_standin.status(registration.process_id) == "EXPIRED",
             deadline=10)
    assert oid4vc_holder.redeem(link, tx_code=pin).status_code == 400  # the portal's link is gone
    # and the issuer itself refuses the offer, taken by value from its own deeplink:
    assert oid4vc_holder.redeem(registration.invitation_url, tx_code=pin).status_code == 400
    failure = visitor.get("/offer/")
    assert "Start again" in failure.text and "<svg" not in failure.text
    assert visitor.status("/offer/status")["state"] == "failed"
    assert Registration.objects.get(pk=registration.pk).state == State.FAILED


def test_an_offer_cancelled_at_the_issuer_shows_the_failure_page_and_cannot_be_redeemed(
    swiyu_portal, swiyu_standin, oid4vc_holder
):
    from onboarding.issuers import get_issuer

    visitor = Visitor(swiyu_portal)
    page = offer_page(visitor, details())
    link, pin = scanned(page), pin_on(page)
    registration = Registration.objects.get(short_code=link.rsplit("%2F", 1)[-1])

    # As withdrawing the registration does: the backend cancels the offer not yet taken, and the
    # issuer's webhook tells the portal.
    assert get_issuer().revoke_credential(process_id=registration.process_id) is True
    assert swiyu_standin.status(registration.process_id) == "CANCELLED"
    wait_for("the webhook to fail the registration",
             lambda: Registration.objects.get(pk=registration.pk).state == State.FAILED)
    failure = visitor.get("/offer/")
    assert "Start again" in failure.text and "<svg" not in failure.text
    assert oid4vc_holder.redeem(link, tx_code=pin).status_code == 400  # the portal's link is gone
    # and the issuer itself refuses the offer, taken by value from its own deeplink:
    assert oid4vc_holder.redeem(registration.invitation_url, tx_code=pin).status_code == 400
