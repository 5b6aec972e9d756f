""""Send the offer again" on the loading page: a new offer on the same connection, never a second
credential for a visitor who already accepted."""

import re
from datetime import timedelta

import pytest

from onboarding import events
from onboarding.issuers.base import CredentialState
from onboarding.models import DemoCredential, Registration

pytestmark = pytest.mark.django_db

DETAILS = {"first_name": "Grace", "last_name": "Hopper", "institution": "Navy"}


@pytest.fixture
def offered(client, settings, clock):
    """A visitor whose credential was offered through the demo issuer; returns the wallet path."""
    settings.REGISTERFT_STUCK_AFTER = 60
    wallet = type(client)()
    start = client.get("/").content.decode()
    short = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', start).group(1)
    wallet_path = wallet.get(short.replace("http://testserver", ""))["Location"].replace("http://testserver", "")
    wallet.post(wallet_path, {"action": "connect"})
    client.get("/check_connection/")
    assert client.post("/name", DETAILS).status_code == 302
    return wallet, wallet_path


def pending_offers():
    return list(DemoCredential.objects.filter(state=DemoCredential.State.OFFERED))


def test_it_offers_nothing_again_before_the_wallet_has_been_silent_long_enough(client, offered, clock):
    clock.advance(30)
    response = client.post("/loading/again/")
    assert response.status_code == 302 and response["Location"] == "/loading/"
    assert DemoCredential.objects.count() == 1
    # The button waits, hidden, until the page's timer says the wallet has been silent long enough.
    assert re.search(r"data-stuck-help\s+hidden", client.get("/loading/").content.decode())


def test_a_silent_wallet_gets_a_new_offer_with_the_same_details(client, offered, clock):
    clock.advance(61)
    page = client.get("/loading/").content.decode()
    assert 'action="/loading/again/"' in page and not re.search(r"data-stuck-help\s+hidden", page)
    first = Registration.objects.get().process_id

    response = client.post("/loading/again/")

    assert response.status_code == 302 and response["Location"] == "/loading/"
    registration = Registration.objects.get()
    assert registration.state == Registration.State.OFFERED
    assert registration.previous_process_id == first
    assert registration.process_id != first
    newest = DemoCredential.objects.get(pk=registration.process_id)
    assert newest.attributes == DETAILS
    assert str(newest.connection_id) == registration.connection_id


def test_the_new_offer_accepted_completes_the_flow(client, offered, clock):
    wallet, wallet_path = offered
    clock.advance(61)
    client.post("/loading/again/")
    newest = Registration.objects.get().process_id
    wallet.post(wallet_path, {"action": "accept", "credential": newest})
    assert client.get("/loading/status").json()["next"] == "/success"


def test_a_visitor_who_already_accepted_is_never_offered_a_second_credential(client, offered, clock):
    wallet, wallet_path = offered
    first = pending_offers()[0]
    wallet.post(wallet_path, {"action": "accept", "credential": str(first.pk)})
    clock.advance(61)

    response = client.post("/loading/again/")

    assert DemoCredential.objects.count() == 1
    assert Registration.objects.get().state == Registration.State.ISSUED
    assert response.status_code == 302


def test_accepting_the_replaced_offer_after_all_still_counts(offered, client, clock):
    clock.advance(61)
    client.post("/loading/again/")
    registration = Registration.objects.get()

    events.registration_apply_credential_event(
        backend=registration.backend, cred_ex_id=registration.previous_process_id, connection_id="", state=CredentialState.ACCEPTED
    )

    assert Registration.objects.get().state == Registration.State.ISSUED


def test_a_failure_of_the_replaced_offer_changes_nothing(offered, client, clock):
    clock.advance(61)
    client.post("/loading/again/")
    registration = Registration.objects.get()

    events.registration_apply_credential_event(
        backend=registration.backend, cred_ex_id=registration.previous_process_id, connection_id="", state=CredentialState.FAILED, detail="x"
    )

    assert Registration.objects.get().state == Registration.State.OFFERED


def test_an_issuer_failure_on_sending_again_shows_the_issuer_page_and_keeps_the_offer(
    client, offered, clock, monkeypatch
):
    from onboarding.issuers.base import IssuerUnavailable
    from onboarding.issuers.demo import DemoIssuer

    def refuse(self, **kwargs):
        raise IssuerUnavailable("down")

    clock.advance(61)
    before = Registration.objects.get().process_id
    monkeypatch.setattr(DemoIssuer, "offer_credential", refuse)

    response = client.post("/loading/again/")

    assert response.status_code == 503
    # The way back is the loading page (a GET), not the form's own address; nothing is re-sent by itself.
    page = response.content.decode()
    assert 'href="/loading/"' in page and "data-retry-in" not in page
    registration = Registration.objects.get()
    assert registration.process_id == before
    assert registration.offer_started_at is None  # a later try may claim the offer again
    assert registration.state == Registration.State.OFFERED


def test_the_offer_is_sent_again_soon_after_the_first_when_the_setting_says_so(client, offered, clock, settings):
    """The first offer's claim is over once it was made: a short REGISTERFT_STUCK_AFTER works too."""
    settings.REGISTERFT_STUCK_AFTER = 5
    first = Registration.objects.get().process_id
    clock.advance(6)
    client.post("/loading/again/")
    registration = Registration.objects.get()
    assert registration.previous_process_id == first and registration.process_id != first


def test_two_clicks_at_once_send_one_new_offer(client, offered, clock):
    clock.advance(61)
    registration = Registration.objects.get()
    # The other click's request has claimed the offer and is sending it right now.
    Registration.objects.filter(pk=registration.pk).update(offer_started_at=clock() - timedelta(seconds=1))
    response = client.post("/loading/again/")
    assert response.status_code == 302
    assert DemoCredential.objects.count() == 1
