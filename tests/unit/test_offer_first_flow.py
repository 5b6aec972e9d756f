"""The offer-first order (OpenID4VCI) with the demo issuer in its offer-first mode: details, then
one QR code with the offer, then success; the same guards, expiry, line and limits as the
connection-first order."""

import re

import pytest
from django.test import Client

from onboarding.models import DemoCredential, Registration

pytestmark = pytest.mark.django_db

DETAILS = {"first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical"}
State = Registration.State


@pytest.fixture(autouse=True)
def offer_first(settings, client):
    settings.REGISTERFT_ISSUERS = ("demo",)
    settings.REGISTERFT_DEMO_FLOW = "offer-first"
    settings.REGISTERFT_MAX_IN_PROGRESS = 2
    client.cookies["django_language"] = "en"


def visitor() -> Client:
    client = Client()
    client.cookies["django_language"] = "en"
    return client


def offer_link_from(page: str) -> str:
    return re.search(r'id="offer-url"[^>]*value="([^"]+)"', page).group(1).replace("http://testserver", "")


def accept_in_the_demo_wallet(page: str, *, accept: bool = True) -> None:
    wallet = Client()
    wallet_path = wallet.get(offer_link_from(page))["Location"].replace("http://testserver", "")
    offer_page = wallet.get(wallet_path).content.decode()
    assert "Lovelace" in offer_page
    credential = re.search(r'name="credential" value="([^"]+)"', offer_page).group(1)
    wallet.post(wallet_path, {"action": "accept" if accept else "decline", "credential": credential})


def test_it_starts_with_the_details_form_and_shows_the_offer_first_steps(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/name"
    page = client.get("/name").content.decode()
    assert 'aria-current="step">Details<' in page
    assert "Scan and accept" in page and "Connect" not in page
    assert Registration.objects.count() == 0  # nothing is made before the details are sent


def test_a_visitor_completes_the_offer_first_flow_with_the_demo_wallet(client):
    response = client.post("/name", DETAILS)
    assert response.status_code == 302 and response["Location"] == "/offer/"
    registration = Registration.objects.get()
    assert registration.state == State.SAVED and registration.attributes == DETAILS
    page = client.get("/offer/")  # the offer is made as the page asks for it
    assert Registration.objects.get().state == State.OFFERED
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and 'aria-current="step">Scan and accept<' in html
    assert client.get("/offer/status").json()["state"] == "waiting"

    accept_in_the_demo_wallet(html)

    assert client.get("/offer/status").json() == {"state": "moved", "next": "/success", "message": "", "issuer": "ok"}
    assert client.get("/success").status_code == 200
    assert Registration.objects.get().state == State.ISSUED
    assert client.get("/offer/").status_code == 302


def test_the_step_guards_send_a_visitor_to_their_step_in_the_offer_first_order(client):
    assert client.get("/offer/")["Location"] == "/name"
    assert client.get("/success")["Location"] == "/name"
    assert client.get("/check_connection/")["Location"] == "/name"
    client.post("/name", DETAILS)
    for page in ("/", "/name", "/loading/", "/check_connection/"):
        assert client.get(page)["Location"] == "/offer/", page


def test_a_declined_offer_is_a_failure_with_start_again(client):
    client.post("/name", DETAILS)
    accept_in_the_demo_wallet(client.get("/offer/").content.decode(), accept=False)
    assert client.get("/offer/status").json()["state"] == "failed"
    page = client.get("/offer/").content.decode()
    assert 'role="alert"' in page and "/restart/" in page and "<svg" not in page
    client.post("/restart/")
    assert client.get("/")["Location"] == "/name"


def test_an_offer_not_taken_in_time_expires_and_its_link_is_gone(client, clock, settings):
    client.post("/name", DETAILS)
    link = offer_link_from(client.get("/offer/").content.decode())
    clock.advance(settings.REGISTERFT_OFFER_TTL + 1)
    assert client.get("/offer/status").json()["state"] == "failed"
    assert Registration.objects.get().failure == Registration.Failure.OFFER_EXPIRED
    assert Client().get(link).status_code == 410


def test_beyond_the_bound_the_details_are_saved_and_the_visitor_waits_in_line(settings, clock):
    settings.REGISTERFT_MAX_IN_PROGRESS = 1
    first, second = visitor(), visitor()
    first.post("/name", DETAILS, follow=True)
    response = second.post("/name", {**DETAILS, "first_name": "Grace"}, follow=True)
    html = response.content.decode()
    assert "Your details are saved." in html and 'data-queue-position="1"' in html
    saved = Registration.objects.get(state=State.SAVED)
    assert saved.attributes["first_name"] == "Grace" and saved.process_id == ""
    assert second.get("/queue/status").json()["state"] == "waiting"

    accept_in_the_demo_wallet(first.get("/offer/").content.decode())
    first.get("/offer/status")  # the first visitor's place is free once their wallet answered
    assert second.get("/queue/status").json()["next"] == "/"
    assert second.get("/")["Location"] == "/offer/"
    assert "<svg" in second.get("/offer/").content.decode()
    assert Registration.objects.get(pk=saved.pk).state == State.OFFERED


def test_an_issuer_failure_keeps_the_details_and_the_page_makes_the_offer_when_it_tries_again(client, monkeypatch):
    from onboarding.issuers.base import IssuerUnavailable
    from onboarding.issuers.demo import DemoIssuer

    real = DemoIssuer.offer_credential

    def down(self, **kwargs):
        raise IssuerUnavailable("down")

    monkeypatch.setattr(DemoIssuer, "offer_credential", down)
    assert client.post("/name", DETAILS)["Location"] == "/offer/"
    response = client.get("/offer/")
    assert response.status_code == 503 and "Retry-After" in response  # the page tries again by itself
    assert Registration.objects.get().state == State.SAVED
    assert client.get("/name")["Location"] == "/offer/"

    monkeypatch.setattr(DemoIssuer, "offer_credential", real)
    assert "<svg" in client.get("/offer/?retry=1").content.decode()
    assert Registration.objects.get().state == State.OFFERED
    assert DemoCredential.objects.count() == 1


def test_new_offers_are_rate_limited_per_session(client, settings):
    settings.REGISTERFT_RATE_INVITATIONS_PER_SESSION = (1, 600)
    client.post("/name", DETAILS, follow=True)
    client.post("/restart/")
    client.post("/name", DETAILS)
    response = client.get("/offer/")
    assert response.status_code == 429 and "Retry-After" in response
    assert Registration.objects.filter(state=State.SAVED).count() == 1  # the details are kept


def test_send_again_makes_a_new_offer_behind_the_same_short_link(client, clock, settings):
    client.post("/name", DETAILS)
    page = client.get("/offer/").content.decode()
    link = offer_link_from(page)
    first = Registration.objects.get().process_id
    clock.advance(settings.REGISTERFT_STUCK_AFTER + 1)
    assert client.post("/loading/again/")["Location"] == "/offer/"
    registration = Registration.objects.get()
    assert registration.process_id != first and registration.previous_process_id == first
    assert offer_link_from(client.get("/offer/").content.decode()) == link


def test_the_offer_page_works_without_javascript(client):
    client.post("/name", DETAILS)
    html = client.get("/offer/").content.decode()
    assert '<noscript><meta http-equiv="refresh"' in html
    assert 'href="http://testserver/o/' in html  # the phone's button is a plain link
