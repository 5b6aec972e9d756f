"""The session key changes when the details form is committed, never on polls or page loads; and a
visitor only ever sees and moves their own registration."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from onboarding.models import DemoConnection, DemoCredential, Registration
from onboarding.sessions import SessionStore

pytestmark = pytest.mark.django_db

DETAILS = {"first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical Engines"}


def session_key(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def connected(client: Client) -> Registration:
    assert client.get("/").status_code == 200
    registration = Registration.objects.latest("created_at")
    DemoConnection.objects.filter(pk=registration.connection_id).update(state=DemoConnection.State.ACTIVE)
    assert client.get("/check_connection/status").json()["next"] == "/name"
    return registration


def offered(client: Client) -> Registration:
    registration = connected(client)
    assert client.post("/name", DETAILS)["Location"] == "/loading/"
    registration.refresh_from_db()
    return registration


def with_session_key(key: str) -> Client:
    other = Client()
    other.cookies[settings.SESSION_COOKIE_NAME] = key
    return other


# --- Rotation ---------------------------------------------------------------------------------


def test_sending_the_details_gives_the_visitor_a_new_session_key_and_retires_the_old_one(client, monkeypatch):
    connected(client)
    before = session_key(client)

    response = client.post("/name", DETAILS)

    assert response.status_code == 302
    after = session_key(client)
    assert after != before
    # The old key keeps none of the visitor's session, only where it went, for a short grace.
    old = SessionStore(before)
    assert old.load() == SessionStore(after).load()
    assert old.session_key == after
    # The visitor goes on with the new key, with their registration.
    assert client.get("/loading/status").json()["state"] == "waiting"
    # Whoever learnt the old key (a shared screen, a proxy log) no longer follows the visitor once
    # the grace has passed.
    monkeypatch.setattr("onboarding.sessions.ROTATION_GRACE_SECONDS", -1)
    visitor = Client()
    connected(visitor)
    before = session_key(visitor)
    assert visitor.post("/name", DETAILS)["Location"] == "/loading/"
    stale = with_session_key(before)
    status = stale.get("/loading/status").json()
    assert (status["state"], status["next"]) == ("moved", "/")
    assert stale.get("/loading/")["Location"] == "/"
    assert not SessionStore().exists(before)


def test_a_request_with_the_old_key_within_the_grace_is_answered_with_the_new_one(client):
    """A double click's second request, or a browser that never saw the new cookie."""
    connected(client)
    before = session_key(client)
    client.post("/name", DETAILS)
    after = session_key(client)

    late = with_session_key(before)
    response = late.get("/loading/status")

    assert response.json()["state"] == "waiting"
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == after
    assert late.get("/loading/").status_code == 200


def test_polls_and_page_loads_never_change_the_session_key(client):
    client.get("/")
    key = session_key(client)
    for path in ("/", "/check_connection/", "/check_connection/status", "/check_connection/status", "/"):
        response = client.get(path)
        assert response.status_code in (200, 302), path
        assert session_key(client) == key, path

    offered(client)
    key = session_key(client)
    for path in ("/loading/", "/loading/status", "/loading/status"):
        response = client.get(path)
        assert settings.SESSION_COOKIE_NAME not in response.cookies, path
        assert session_key(client) == key, path


def test_details_that_are_not_committed_keep_the_session_key(client):
    connected(client)
    key = session_key(client)
    assert client.post("/name", {**DETAILS, "first_name": ""}).status_code == 400
    assert session_key(client) == key


def test_an_offer_the_issuer_refuses_keeps_the_session_key(client):
    registration = connected(client)
    key = session_key(client)
    DemoConnection.objects.filter(pk=registration.connection_id).update(state=DemoConnection.State.INVITED)
    response = client.post("/name", DETAILS)
    assert response.status_code == 502
    assert session_key(client) == key


# --- Isolation --------------------------------------------------------------------------------


def test_another_visitor_cannot_see_someone_elses_registration(client):
    registration = offered(client)
    stranger = Client()
    # Naming the other's registration, connection or process anywhere in the request changes
    # nothing: the portal reads only the session.
    names = {
        "registration": str(registration.pk),
        "process_id": registration.process_id,
        "connection_id": registration.connection_id,
    }
    for path in ("/check_connection/status", "/loading/status"):
        assert stranger.get(path, names).json()["next"] == "/"
    for path in ("/loading/", "/success", "/name"):
        assert stranger.get(path, names)["Location"] == "/"


def test_another_visitor_cannot_move_someone_elses_registration(client):
    registration = connected(client)
    stranger = Client()
    response = stranger.post("/name", {**DETAILS, "registration": str(registration.pk)})
    assert response["Location"] == "/"
    stranger.post("/restart/", {"registration": str(registration.pk)})

    registration.refresh_from_db()
    assert registration.state == Registration.State.CONNECTED and registration.attributes == {}
    assert not DemoCredential.objects.exists()
    # The owner's flow goes on untouched.
    assert client.post("/name", DETAILS)["Location"] == "/loading/"


def test_a_process_id_from_another_session_is_refused(client):
    mine = offered(client)
    stranger = Client()
    theirs = offered(stranger)
    # The stranger's poll that names the visitor's process still reports the stranger's own.
    DemoCredential.objects.filter(pk=mine.process_id).update(state=DemoCredential.State.ACCEPTED)
    status = stranger.get("/loading/status", {"process_id": mine.process_id}).json()
    assert status["state"] == "waiting"
    # And the stranger's wallet cannot answer the visitor's offer.
    DemoCredential.objects.filter(pk=mine.process_id).update(state=DemoCredential.State.OFFERED)
    their_wallet = DemoConnection.objects.get(pk=theirs.connection_id)
    Client().post(f"/demo/wallet/{their_wallet.token}/", {"action": "accept", "credential": mine.process_id})
    assert DemoCredential.objects.get(pk=mine.process_id).state == DemoCredential.State.OFFERED
    assert client.get("/loading/status").json()["state"] == "waiting"
