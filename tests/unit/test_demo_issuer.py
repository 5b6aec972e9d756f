"""The embedded demo issuer and its demo wallet pages."""

from __future__ import annotations

import pytest
from django.utils import translation

from onboarding.issuers.base import ConnectionState, CredentialState, IssuerRejected
from onboarding.issuers.demo import DemoIssuer
from onboarding.models import DemoConnection, DemoCredential

pytestmark = pytest.mark.django_db

ATTRIBUTES = {"first_name": "Ada", "last_name": "Lovelace"}


@pytest.fixture
def issuer() -> DemoIssuer:
    return DemoIssuer()


def new_connection(issuer: DemoIssuer, *, active: bool = False) -> DemoConnection:
    invitation = issuer.create_invitation(label="registerft")
    connection = DemoConnection.objects.get(pk=invitation.connection_id)
    if active:
        connection.state = DemoConnection.State.ACTIVE
        connection.save()
    return connection


def offer(issuer: DemoIssuer, connection: DemoConnection) -> DemoCredential:
    process = issuer.offer_credential(connection_id=str(connection.pk), attributes=ATTRIBUTES, reference="ref")
    return DemoCredential.objects.get(pk=process.process_id)


def wallet_url(connection: DemoConnection, suffix: str = "") -> str:
    return f"/demo/wallet/{connection.token}/{suffix}"


# --- The issuer --------------------------------------------------------------------------------


def test_its_invitation_points_at_the_demo_wallet_page(issuer):
    invitation = issuer.create_invitation(label="registerft")
    connection = DemoConnection.objects.get()
    assert invitation.url == wallet_url(connection)
    assert invitation.invitation_id == invitation.connection_id == str(connection.pk)
    assert connection.label == "registerft"
    assert invitation.oob == ""  # the demo wallet page carries no out-of-band invitation


def test_it_builds_itself_from_the_settings_without_needing_any(settings):
    settings.REGISTERFT_ISSUERS = ("demo",)
    assert isinstance(DemoIssuer.from_settings(), DemoIssuer)


def test_a_connection_is_pending_until_the_wallet_accepts_it(issuer):
    connection = new_connection(issuer)
    status = issuer.connection_status(invitation_id=str(connection.pk), connection_id="")
    assert status.state == ConnectionState.PENDING
    connection.state = DemoConnection.State.ACTIVE
    connection.save()
    status = issuer.connection_status(invitation_id=str(connection.pk), connection_id=str(connection.pk))
    assert status.state == ConnectionState.CONNECTED


@pytest.mark.parametrize("connection_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", ""])
def test_it_rejects_an_unknown_connection(issuer, connection_id):
    with pytest.raises(IssuerRejected):
        issuer.connection_status(invitation_id=connection_id, connection_id=connection_id)


def test_it_offers_nothing_before_the_wallet_connected(issuer):
    connection = new_connection(issuer)
    with pytest.raises(IssuerRejected):
        offer(issuer, connection)
    assert not DemoCredential.objects.exists()


def test_an_offer_is_pending_until_the_wallet_answers(issuer):
    credential = offer(issuer, new_connection(issuer, active=True))
    assert credential.attributes == ATTRIBUTES
    assert issuer.credential_status(process_id=str(credential.pk)).state == CredentialState.PENDING
    credential.state = DemoCredential.State.ACCEPTED
    credential.save()
    assert issuer.credential_status(process_id=str(credential.pk)).state == CredentialState.ACCEPTED
    credential.state = DemoCredential.State.DECLINED
    credential.save()
    assert issuer.credential_status(process_id=str(credential.pk)).state == CredentialState.FAILED


@pytest.mark.parametrize("process_id", ["00000000-0000-0000-0000-000000000000", "garbage"])
def test_it_rejects_an_unknown_process(issuer, process_id):
    with pytest.raises(IssuerRejected):
        issuer.credential_status(process_id=process_id)


def test_it_is_always_healthy_and_says_it_is_not_real(issuer):
    health = issuer.health()
    assert health.reachable
    assert "nothing real" in health.detail


# --- The wallet pages --------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "status"])
def test_an_unknown_token_is_not_found(client, suffix):
    assert client.get(f"/demo/wallet/no-such-token/{suffix}").status_code == 404


def test_an_unknown_token_cannot_post(client):
    assert client.post("/demo/wallet/no-such-token/", {"action": "connect"}).status_code == 404


@pytest.mark.parametrize("backend", ["agent-rest", "acapy"])
def test_the_wallet_does_not_exist_with_another_issuer(client, issuer, settings, backend):
    connection = new_connection(issuer)
    settings.REGISTERFT_ISSUERS = (backend,)
    assert client.get(wallet_url(connection)).status_code == 404
    assert client.get(wallet_url(connection, "status")).status_code == 404
    assert client.post(wallet_url(connection), {"action": "connect"}).status_code == 404
    connection.refresh_from_db()
    assert connection.state == DemoConnection.State.INVITED


def test_the_wallet_page_says_nothing_it_holds_is_real(client, issuer):
    client.cookies["django_language"] = "en"
    page = client.get(wallet_url(new_connection(issuer))).content.decode()
    assert "not real" in page


def test_the_wallet_accepts_the_connection(client, issuer):
    connection = new_connection(issuer)
    assert 'value="connect"' in client.get(wallet_url(connection)).content.decode()
    response = client.post(wallet_url(connection), {"action": "connect"})
    assert response.status_code == 302
    assert response["Location"] == wallet_url(connection)
    connection.refresh_from_db()
    assert connection.state == DemoConnection.State.ACTIVE


def test_the_wallet_shows_a_pending_offer_with_its_attributes(client, issuer):
    connection = new_connection(issuer, active=True)
    credential = offer(issuer, connection)
    page = client.get(wallet_url(connection)).content.decode()
    assert f'name="credential" value="{credential.pk}"' in page
    assert "Lovelace" in page


@pytest.mark.parametrize("action, state", [("accept", "accepted"), ("decline", "declined")])
def test_the_wallet_answers_a_pending_offer(client, issuer, action, state):
    connection = new_connection(issuer, active=True)
    credential = offer(issuer, connection)
    response = client.post(wallet_url(connection), {"action": action, "credential": str(credential.pk)})
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.state == state


def test_a_wallet_cannot_answer_another_connections_offer(client, issuer):
    mine = new_connection(issuer, active=True)
    theirs = new_connection(issuer, active=True)
    credential = offer(issuer, theirs)
    client.post(wallet_url(mine), {"action": "accept", "credential": str(credential.pk)})
    credential.refresh_from_db()
    assert credential.state == DemoCredential.State.OFFERED


@pytest.mark.parametrize(
    "first, second, state",
    [("accept", "decline", "accepted"), ("decline", "accept", "declined")],
)
def test_an_answered_offer_cannot_be_answered_again(client, issuer, first, second, state):
    connection = new_connection(issuer, active=True)
    credential = offer(issuer, connection)
    client.post(wallet_url(connection), {"action": first, "credential": str(credential.pk)})
    client.post(wallet_url(connection), {"action": second, "credential": str(credential.pk)})
    credential.refresh_from_db()
    assert credential.state == state


@pytest.mark.parametrize("credential_id", ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_answer_to_an_unknown_offer_changes_nothing(client, issuer, credential_id):
    connection = new_connection(issuer, active=True)
    credential = offer(issuer, connection)
    response = client.post(wallet_url(connection), {"action": "accept", "credential": credential_id})
    assert response.status_code == 302
    credential.refresh_from_db()
    assert credential.state == DemoCredential.State.OFFERED


@pytest.mark.parametrize("data", [{}, {"action": "steal"}])
def test_an_unknown_action_is_a_bad_request_on_the_portals_own_page(client, issuer, data):
    response = client.post(wallet_url(new_connection(issuer)), data)
    assert response.status_code == 400
    page = response.content.decode()
    with translation.override("de"):
        assert translation.gettext("Bad request") in page
    assert 'href="/"' in page


# --- The wallet's status JSON ----------------------------------------------------------------


def test_the_wallet_status_waits_for_an_offer_once_connected(client, issuer):
    connection = new_connection(issuer, active=True)
    assert client.get(wallet_url(connection, "status")).json() == {
        "state": "waiting", "next": None, "message": "", "issuer": "ok"
    }


def test_the_wallet_status_sends_the_page_to_a_new_offer(client, issuer):
    connection = new_connection(issuer, active=True)
    offer(issuer, connection)
    assert client.get(wallet_url(connection, "status")).json() == {
        "state": "moved", "next": wallet_url(connection), "message": "", "issuer": "ok"
    }


def test_the_wallet_status_waits_again_once_the_offer_is_answered(client, issuer):
    connection = new_connection(issuer, active=True)
    credential = offer(issuer, connection)
    client.post(wallet_url(connection), {"action": "accept", "credential": str(credential.pk)})
    assert client.get(wallet_url(connection, "status")).json()["state"] == "waiting"


# --- The wallet closes with its registration ---------------------------------------------------


def visitor_with_wallet(client) -> tuple[str, DemoConnection]:
    """A visitor who opened the start page (a registration) and the path of their demo wallet."""
    client.get("/")
    connection = DemoConnection.objects.get()
    return wallet_url(connection), connection


def visitor_with_offer(client, wallet) -> tuple[str, DemoCredential]:
    path, connection = visitor_with_wallet(client)
    wallet.post(path, {"action": "connect"})
    assert client.get("/check_connection/status").json()["next"] == "/name"
    assert client.post("/name", {"first_name": "Ada", "last_name": "Lovelace", "institution": "AE"}).status_code == 302
    return path, DemoCredential.objects.get()


def assert_closed(response) -> None:
    assert response.status_code == 410
    page = response.content.decode()
    with translation.override("de"):
        assert translation.gettext("This wallet is closed") in page
    assert "Lovelace" not in page
    assert 'href="/"' in page


def test_the_wallet_closes_when_its_invitation_expires(client, clock, settings):
    path, connection = visitor_with_wallet(client)
    clock.advance(settings.REGISTERFT_INVITATION_TTL - 1)
    assert client.get(path).status_code == 200
    clock.advance(2)
    assert_closed(client.get(path))
    assert_closed(client.post(path, {"action": "connect"}))
    connection.refresh_from_db()
    assert connection.state == DemoConnection.State.INVITED


def test_the_wallet_closes_when_the_details_were_not_sent_in_time(client, clock, settings):
    path, _connection = visitor_with_wallet(client)
    client.post(path, {"action": "connect"})
    client.get("/check_connection/status")
    clock.advance(settings.REGISTERFT_DETAILS_TTL + 1)
    assert_closed(client.get(path))


def test_the_wallet_shows_the_visitors_details_only_until_the_offer_expires(client, clock, settings):
    path, credential = visitor_with_offer(client, client)
    clock.advance(settings.REGISTERFT_OFFER_TTL - 1)
    assert "Lovelace" in client.get(path).content.decode()
    clock.advance(2)
    assert_closed(client.get(path))
    assert_closed(client.post(path, {"action": "accept", "credential": str(credential.pk)}))
    credential.refresh_from_db()
    assert credential.state == DemoCredential.State.OFFERED


def test_a_stored_credential_is_shown_no_longer_than_the_offer_ran(client, clock, settings):
    path, credential = visitor_with_offer(client, client)
    client.post(path, {"action": "accept", "credential": str(credential.pk)})
    assert client.get("/loading/status").json()["next"] == "/success"
    assert "Lovelace" in client.get(path).content.decode()
    clock.advance(settings.REGISTERFT_OFFER_TTL + 1)
    assert_closed(client.get(path))


def test_the_wallet_status_sends_a_closed_wallet_to_its_page(client, clock, settings):
    path, _connection = visitor_with_wallet(client)
    client.post(path, {"action": "connect"})
    assert client.get(path + "status").json()["state"] == "waiting"
    clock.advance(settings.REGISTERFT_DETAILS_TTL + 1)
    assert client.get(path + "status").json() == {"state": "moved", "next": path, "message": "", "issuer": "ok"}


def test_a_wallet_without_a_registration_closes_after_the_longest_a_registration_runs(client, issuer, clock, settings):
    connection = new_connection(issuer, active=True)
    offer(issuer, connection)
    longest = settings.REGISTERFT_INVITATION_TTL + settings.REGISTERFT_DETAILS_TTL + settings.REGISTERFT_OFFER_TTL
    clock.advance(longest - 1)
    assert client.get(wallet_url(connection)).status_code == 200
    clock.advance(2)
    assert_closed(client.get(wallet_url(connection)))
