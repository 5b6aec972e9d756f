"""Each step's guard, the deadlines, "start again", the short invitation link and the status JSON.

The embedded demo issuer stands in for the agent; its wallet's answers are written straight into
its tables, and the portal's clock is frozen where deadlines matter.
"""

from __future__ import annotations

import base64
import json
import re

import pytest

from onboarding.models import DemoConnection, DemoCredential, Registration
from onboarding.services import SESSION_KEY

pytestmark = pytest.mark.django_db

DETAILS = {"first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical Engines"}
WAITING = {"state": "waiting", "next": None, "message": "", "issuer": "ok"}


@pytest.fixture
def visitor(client):
    client.cookies["django_language"] = "en"
    return client


def invited(visitor) -> Registration:
    assert visitor.get("/").status_code == 200
    return Registration.objects.latest("created_at")


def connected(visitor) -> Registration:
    registration = invited(visitor)
    DemoConnection.objects.filter(pk=registration.connection_id).update(state=DemoConnection.State.ACTIVE)
    assert visitor.get("/check_connection/status").json()["next"] == "/name"
    registration.refresh_from_db()
    return registration


def offered(visitor) -> Registration:
    registration = connected(visitor)
    assert visitor.post("/name", DETAILS)["Location"] == "/loading/"
    registration.refresh_from_db()
    return registration


def issued(visitor) -> Registration:
    """The credential accepted, as a visitor without script finds out (the page's refresh): the
    flow is not yet complete in the session, as it is once the page's poll has heard of it."""
    registration = offered(visitor)
    DemoCredential.objects.update(state=DemoCredential.State.ACCEPTED)
    assert_redirect(visitor.get("/loading/"), "/success")
    registration.refresh_from_db()
    return registration


def assert_redirect(response, location: str) -> None:
    assert response.status_code == 302, response.status_code
    assert response["Location"] == location


# --- Guards ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/check_connection/", "/name", "/loading/", "/success"])
def test_a_visitor_without_a_registration_is_sent_to_the_start(visitor, path):
    assert_redirect(visitor.get(path), "/")


def test_a_details_post_without_a_registration_is_sent_to_the_start(visitor):
    assert_redirect(visitor.post("/name", DETAILS), "/")
    assert not Registration.objects.exists()


def test_a_visitor_whose_registration_is_gone_starts_again(visitor):
    invited(visitor)
    Registration.objects.all().delete()
    assert_redirect(visitor.get("/check_connection/"), "/")
    assert visitor.get("/").status_code == 200
    assert Registration.objects.count() == 1


@pytest.mark.parametrize("path", ["/name", "/loading/", "/success"])
def test_a_visitor_waiting_for_the_wallet_is_sent_to_check_connection(visitor, path):
    invited(visitor)
    assert_redirect(visitor.get(path), "/check_connection/")


def test_the_redirect_tells_the_visitor_why(visitor):
    invited(visitor)
    page = visitor.get("/loading/", follow=True).content.decode()
    assert "Please connect your wallet first." in page
    # In a status region, so that a screen reader says it too.
    assert re.search(r'<ul class="messages" role="status">\s*<li[^>]*>Please connect your wallet first\.</li>', page)


@pytest.mark.parametrize("path", ["/", "/check_connection/", "/loading/", "/success"])
def test_a_connected_visitor_is_sent_to_the_form(visitor, path):
    connected(visitor)
    assert_redirect(visitor.get(path), "/name")


@pytest.mark.parametrize("path", ["/", "/check_connection/", "/name", "/success"])
def test_a_visitor_with_an_offer_is_sent_to_the_loading_page(visitor, path):
    offered(visitor)
    assert_redirect(visitor.get(path), "/loading/")


def test_sending_the_details_twice_offers_one_credential(visitor):
    offered(visitor)
    assert_redirect(visitor.post("/name", DETAILS), "/loading/")
    assert DemoCredential.objects.count() == 1


@pytest.mark.parametrize("path", ["/", "/check_connection/", "/name", "/loading/"])
def test_a_visitor_with_an_accepted_credential_is_sent_to_success(visitor, path):
    issued(visitor)
    assert_redirect(visitor.get(path), "/success")


def test_the_success_page_survives_a_reload_and_then_a_new_registration_can_start(visitor):
    issued(visitor)
    assert visitor.get("/success").status_code == 200
    assert SESSION_KEY not in visitor.session
    assert visitor.get("/success").status_code == 200
    assert visitor.get("/").status_code == 200
    assert Registration.objects.count() == 2
    # The new registration's steps are guarded again.
    assert_redirect(visitor.get("/success"), "/check_connection/")


# --- Reloads and "start again" -----------------------------------------------------------------


def test_a_reload_of_the_start_page_reuses_the_invitation(visitor):
    first = invited(visitor)
    page = visitor.get("/").content.decode()
    assert Registration.objects.count() == 1
    assert DemoConnection.objects.count() == 1
    assert f"/i/{first.short_code}" in page


def test_start_again_forgets_the_registration(visitor):
    first = connected(visitor)
    assert_redirect(visitor.post("/restart/"), "/")
    assert_redirect(visitor.get("/name"), "/")
    assert visitor.get("/").status_code == 200
    second = Registration.objects.latest("created_at")
    assert second.pk != first.pk
    first.refresh_from_db()
    assert first.state == Registration.State.CONNECTED


def test_start_again_needs_a_post(visitor):
    invited(visitor)
    assert visitor.get("/restart/").status_code == 405
    assert Registration.objects.count() == 1


# --- Deadlines ---------------------------------------------------------------------------------


def assert_failure_page(response) -> None:
    assert response.status_code == 200
    page = response.content.decode()
    assert 'role="alert"' in page
    assert 'action="/restart/"' in page
    assert "Start again" in page
    assert "data-poll-url" not in page  # nothing left to wait for


def test_an_expired_invitation_is_a_failure_with_start_again(visitor, clock, settings):
    invited(visitor)
    clock.advance(settings.REGISTERFT_INVITATION_TTL + 1)
    status = visitor.get("/check_connection/status").json()
    assert status["state"] == "failed"
    assert status["next"] == "/check_connection/"
    assert "expired" in status["message"]
    assert_failure_page(visitor.get("/check_connection/"))
    assert Registration.objects.get().failure == Registration.Failure.INVITATION_EXPIRED


def test_an_invitation_is_still_valid_just_before_its_deadline(visitor, clock, settings):
    invited(visitor)
    clock.advance(settings.REGISTERFT_INVITATION_TTL - 1)
    assert visitor.get("/check_connection/status").json() == WAITING


def test_a_wallet_that_connected_just_before_the_deadline_still_counts(visitor, clock, settings):
    registration = invited(visitor)
    DemoConnection.objects.filter(pk=registration.connection_id).update(state=DemoConnection.State.ACTIVE)
    clock.advance(settings.REGISTERFT_INVITATION_TTL + 1)
    assert_redirect(visitor.get("/check_connection/"), "/name")


def test_a_reload_of_the_start_page_after_the_invitation_expired_makes_a_new_one(visitor, clock, settings):
    first = invited(visitor)
    clock.advance(settings.REGISTERFT_INVITATION_TTL + 1)
    assert visitor.get("/").status_code == 200
    assert Registration.objects.count() == 2
    assert Registration.objects.latest("created_at").pk != first.pk


def test_expired_details_are_a_failure_with_start_again(visitor, clock, settings):
    connected(visitor)
    clock.advance(settings.REGISTERFT_DETAILS_TTL + 1)
    assert_redirect(visitor.get("/name"), "/check_connection/")
    assert_failure_page(visitor.get("/check_connection/"))
    assert Registration.objects.get().failure == Registration.Failure.DETAILS_EXPIRED


def test_details_sent_after_their_deadline_offer_nothing(visitor, clock, settings):
    connected(visitor)
    clock.advance(settings.REGISTERFT_DETAILS_TTL + 1)
    assert_redirect(visitor.post("/name", DETAILS), "/check_connection/")
    assert not DemoCredential.objects.exists()
    assert Registration.objects.get().state == Registration.State.FAILED


def test_an_expired_offer_is_a_failure_with_start_again(visitor, clock, settings):
    offered(visitor)
    clock.advance(settings.REGISTERFT_OFFER_TTL + 1)
    status = visitor.get("/loading/status").json()
    assert status["state"] == "failed"
    assert status["next"] == "/loading/"
    assert_failure_page(visitor.get("/loading/"))
    assert Registration.objects.get().failure == Registration.Failure.OFFER_EXPIRED
    assert_redirect(visitor.get("/success"), "/loading/")


def test_a_failed_registration_starts_again_from_a_fresh_invitation(visitor, clock, settings):
    offered(visitor)
    clock.advance(settings.REGISTERFT_OFFER_TTL + 1)
    visitor.get("/loading/")
    visitor.post("/restart/")
    assert visitor.get("/").status_code == 200
    assert visitor.get("/check_connection/status").json() == WAITING


# --- The short invitation link /i/<code> -----------------------------------------------------


def agent_registration(invitation_url: str, **fields) -> Registration:
    return Registration.objects.create(
        backend="agent-rest", invitation_id="inv-1", invitation_url=invitation_url, **fields
    )


def encoded(message: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(message).encode()).decode().rstrip("=")


def test_the_short_link_redirects_to_the_invitation(visitor):
    registration = invited(visitor)
    response = visitor.get(f"/i/{registration.short_code}")
    connection = DemoConnection.objects.get()
    assert_redirect(response, f"http://testserver/demo/wallet/{connection.token}/")


def test_the_short_link_uses_the_public_url_when_set(visitor, settings):
    settings.REGISTERFT_PUBLIC_URL = "https://portal.example.org"
    registration = invited(visitor)
    response = visitor.get(f"/i/{registration.short_code}")
    assert response["Location"].startswith("https://portal.example.org/demo/wallet/")


@pytest.mark.parametrize("parameter", ["oob", "c_i"])
def test_the_short_link_hands_a_wallet_the_invitation_as_json(client, parameter):
    message = {"@type": "https://didcomm.org/out-of-band/1.1/invitation", "@id": "abc", "label": "registerft"}
    registration = agent_registration(f"https://agent.example/?{parameter}={encoded(message)}")
    response = client.get(f"/i/{registration.short_code}", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == message


def test_the_short_link_redirects_a_browser_even_when_the_url_carries_an_invitation(client):
    url = f"https://agent.example/?oob={encoded({'@id': 'abc'})}"
    registration = agent_registration(url)
    assert_redirect(client.get(f"/i/{registration.short_code}", HTTP_ACCEPT="text/html"), url)


@pytest.mark.parametrize("url", ["https://agent.example/invite/abc", "https://agent.example/?oob=%%%not-base64"])
def test_the_short_link_redirects_a_json_client_when_the_url_carries_no_readable_invitation(client, url):
    registration = agent_registration(url)
    assert_redirect(client.get(f"/i/{registration.short_code}", HTTP_ACCEPT="application/json"), url)


def test_the_short_link_is_gone_once_the_invitation_expired(visitor, clock, settings):
    registration = invited(visitor)
    clock.advance(settings.REGISTERFT_INVITATION_TTL + 1)
    response = visitor.get(f"/i/{registration.short_code}")
    assert response.status_code == 410
    assert 'href="/"' in response.content.decode()


@pytest.mark.parametrize("state", ["connected", "offered", "issued", "failed"])
def test_the_short_link_is_gone_once_the_invitation_was_used(client, state):
    registration = agent_registration("https://agent.example/?oob=x", state=state)
    assert client.get(f"/i/{registration.short_code}").status_code == 410


@pytest.mark.parametrize("link", ["/i/", "/o/"])
@pytest.mark.parametrize("code", ["no-such-code", "x" * 5000, "%C3%A9%00%27%22", "%F0%9F%98%80"])
def test_an_unknown_short_link_is_not_found(client, link, code):
    agent_registration("https://agent.example/?oob=x", state="invited")
    assert client.get(link + code).status_code == 404


# --- The status JSON ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/check_connection/status", "/loading/status"])
def test_the_status_without_a_registration_sends_the_page_to_the_start(visitor, path):
    assert visitor.get(path).json() == {"state": "moved", "next": "/", "message": "", "issuer": "ok"}


def test_the_connection_status_while_waiting(visitor):
    invited(visitor)
    response = visitor.get("/check_connection/status")
    assert response.json() == WAITING
    assert "no-cache" in response["Cache-Control"]


def test_the_connection_status_once_connected(visitor):
    connected(visitor)
    assert visitor.get("/check_connection/status").json() == {
        "state": "moved", "next": "/name", "message": "", "issuer": "ok", "in_place": True
    }


def test_the_credential_status_while_waiting_and_once_accepted(visitor):
    offered(visitor)
    assert visitor.get("/loading/status").json() == WAITING
    assert visitor.get("/check_connection/status").json()["next"] == "/loading/"
    DemoCredential.objects.update(state=DemoCredential.State.ACCEPTED)
    assert visitor.get("/loading/status").json() == {
        "state": "moved", "next": "/success", "message": "", "issuer": "ok", "in_place": True
    }


def test_the_credential_status_once_accepted_completes_the_flow_for_the_page_to_show_done_in_place(visitor):
    registration = offered(visitor)
    DemoCredential.objects.update(state=DemoCredential.State.ACCEPTED)
    assert visitor.get("/loading/status").json()["in_place"] is True
    assert SESSION_KEY not in visitor.session
    # The address the page shows then is the success page's, should the visitor reload it.
    page = visitor.get("/success")
    assert page.status_code == 200 and "Thank you!" in page.content.decode()
    # As after the success page: the flow is over, and the start page begins a new one.
    assert visitor.get("/").status_code == 200
    assert Registration.objects.exclude(pk=registration.pk).count() == 1


def test_the_connection_status_moving_on_leaves_the_flow_as_it_is(visitor):
    registration = connected(visitor)
    assert visitor.get("/check_connection/status").json()["in_place"] is True
    assert visitor.session[SESSION_KEY]["registration"] == str(registration.pk)
    assert visitor.get("/name").status_code == 200


def in_place(page: str) -> dict[str, tuple[str, str, str]]:
    """The steps a page carries to show in place: address -> (step, title, content)."""
    found = re.finditer(r'<div data-in-place="([^"]+)" data-in-place-step="([^"]+)" data-in-place-title="([^"]+)" '
                        r'hidden>(.*?)\n</div>', page, re.S)
    return {match.group(1): match.group(2, 3, 4) for match in found}


def test_the_start_page_carries_the_details_form_and_the_loading_page_done(visitor):
    invited(visitor)
    start = visitor.get("/").content.decode()
    step, title, form = in_place(start)["/name"]
    assert step == "name" and title.startswith("Your details · ")
    assert '<form method="post" action="/name"' in form and 'name="csrfmiddlewaretoken"' in form
    assert all(f'name="{field}"' in form for field in DETAILS)
    assert start.index("data-waiting") < start.index("data-in-place")
    assert in_place(visitor.get("/check_connection/").content.decode()) == {}
    offered(visitor)
    step, title, done = in_place(visitor.get("/loading/").content.decode())["/success"]
    assert step == "success" and title.startswith("Done · ")
    assert "<h1>Thank you!</h1>" in done


def test_the_start_pages_form_sends_the_details_as_the_details_page_does(visitor):
    invited(visitor)
    form = in_place(visitor.get("/").content.decode())["/name"][2]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    registration = connected(visitor)
    visitor.handler.enforce_csrf_checks = True
    assert visitor.post("/name", DETAILS).status_code == 403
    assert_redirect(visitor.post("/name", {**DETAILS, "csrfmiddlewaretoken": token}), "/loading/")
    registration.refresh_from_db()
    assert registration.attributes == DETAILS


def test_details_sent_by_a_page_with_script_are_answered_with_the_loading_page_itself(visitor):
    invited(visitor)
    form = in_place(visitor.get("/").content.decode())["/name"][2]
    marker = re.search(r'data-answer-in-place="([^"]+)"', form).group(1)
    registration = connected(visitor)
    key = visitor.session.session_key
    response = visitor.post("/name", {**DETAILS, marker: "1"})
    assert response.status_code == 200
    page = response.content.decode()
    # The loading page, with the address its script sets and "done" to show in place.
    assert 'data-address="/loading/"' in page and 'data-poll-url="/loading/status"' in page
    assert in_place(page)["/success"][0] == "success"
    assert "no-cache" in response["Cache-Control"]
    registration.refresh_from_db()
    assert registration.state == Registration.State.OFFERED and registration.attributes == DETAILS
    assert visitor.session.session_key != key
    # The address set, a reload asks for the page: the same page, the offer made once.
    assert visitor.get("/loading/").status_code == 200
    assert DemoCredential.objects.count() == 1


def test_details_sent_without_script_are_redirected_to_the_loading_page(visitor):
    connected(visitor)
    assert_redirect(visitor.post("/name", {**DETAILS, "in_place": "0"}), "/loading/")
    assert_redirect(visitor.post("/name", DETAILS), "/loading/")
    assert DemoCredential.objects.count() == 1


def test_the_credential_status_once_declined(visitor):
    offered(visitor)
    DemoCredential.objects.update(state=DemoCredential.State.DECLINED)
    status = visitor.get("/loading/status").json()
    assert set(status) == {"state", "next", "message", "issuer"}
    assert status["state"] == "failed"
    assert status["next"] == "/loading/"
    assert status["message"]
    assert status["issuer"] == "ok"
