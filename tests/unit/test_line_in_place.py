"""The line's page takes the start page in place: when the visitor's turn comes, the poll that says
so (asked with ``?in_place=1`` by the page's script) starts their registration and carries the start
page's content, so that no page is loaded for it. Without the question, or whenever the start page
would show something else, the answer is what it always was: load the start page."""

from __future__ import annotations

import re

import pytest
import responses
from django.test import Client

from onboarding import services, throttle
from onboarding.models import Registration
from onboarding.views.flow import START_SCRIPTS

pytestmark = pytest.mark.django_db

IN_PLACE = "/queue/status?in_place=1"


@pytest.fixture(autouse=True)
def bound(settings):
    settings.REGISTERFT_ISSUERS = ("demo",)
    settings.REGISTERFT_MAX_IN_PROGRESS = 1
    settings.REGISTERFT_QUEUE_TICKET_TTL = 30


def new_visitor() -> Client:
    client = Client()
    client.cookies["django_language"] = "en"
    return client


def registration_of(client: Client) -> Registration:
    return Registration.objects.get(pk=client.session["registerft"]["registration"])


@pytest.fixture
def first_and_waiting(clock) -> tuple[Client, Client]:
    """One visitor holds the agent's one place; the second waits in line."""
    first, waiting = new_visitor(), new_visitor()
    assert "invitation-url" in first.get("/").content.decode()
    page = waiting.get("/").content.decode()
    assert "You are next in line" in page
    return first, waiting


def free_the_place(first: Client) -> None:
    services.registration_mark_connected(registration=registration_of(first))


def test_the_line_page_asks_for_the_start_page_in_place_and_shows_the_start_step(first_and_waiting):
    _first, waiting = first_and_waiting
    page = waiting.get("/").content.decode()
    assert f'data-poll-url="{IN_PLACE}"' in page
    assert 'aria-current="step"' in page


def test_while_it_is_not_their_turn_the_question_changes_nothing(first_and_waiting):
    _first, waiting = first_and_waiting
    answer = waiting.get(IN_PLACE).json()
    assert answer["state"] == "waiting" and answer["position"] == 1
    assert "html" not in answer
    assert Registration.objects.count() == 1


def test_their_turn_answers_with_the_start_page_and_its_registration(first_and_waiting):
    first, waiting = first_and_waiting
    free_the_place(first)

    answer = waiting.get(IN_PLACE).json()

    assert answer["state"] == "moved" and answer["next"] == "/" and answer["in_place"] is True
    registration = registration_of(waiting)
    short_link = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', answer["html"]).group(1)
    assert short_link.endswith(f"/i/{registration.short_code}")
    assert "<svg" in answer["html"]
    assert 'data-poll-url="/check_connection/status"' in answer["html"]
    assert 'name="csrfmiddlewaretoken"' in answer["html"]  # the details form, shown once connected
    assert 'data-page-title="Scan the QR code · ' in answer["html"]
    assert [src.rsplit("/", 1)[-1].split(".")[0] for src in answer["scripts"]] == [
        script.rsplit("/", 1)[-1].split(".")[0] for script in START_SCRIPTS]
    assert not throttle.line_length()  # out of the line, served


def test_the_start_page_afterwards_shows_the_same_invitation(first_and_waiting):
    first, waiting = first_and_waiting
    free_the_place(first)
    html = waiting.get(IN_PLACE).json()["html"]
    page = waiting.get("/").content.decode()
    assert re.search(r'value="([^"]+/i/[^"]+)"', page).group(1) == re.search(r'value="([^"]+/i/[^"]+)"', html).group(1)
    assert Registration.objects.count() == 2


def test_without_the_question_their_turn_only_says_to_load_the_start_page(first_and_waiting):
    first, waiting = first_and_waiting
    free_the_place(first)
    answer = waiting.get("/queue/status").json()
    assert answer == {"state": "moved", "next": "/", "message": "", "issuer": "ok", "position": 0}
    assert Registration.objects.count() == 1


def test_a_client_without_a_place_in_line_gets_no_registration(client):
    answer = client.get(IN_PLACE).json()
    assert answer["next"] == "/" and "html" not in answer
    assert not Registration.objects.exists()


def test_a_failing_issuer_keeps_the_visitor_in_line_saying_why(settings, clock):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    settings.AGENT_REST_CONNECTION_URL = settings.AGENT_REST_ISSUER_URL = "http://agent.test"
    with responses.RequestsMock() as agent:
        agent.post("http://agent.test/connection/invitation",
                   json={"connectionId": "c-1", "invitationUrl": "http://agent.test/?oob=e30"})
        first, waiting = new_visitor(), new_visitor()
        assert "invitation-url" in first.get("/").content.decode()
        assert "You are next in line" in waiting.get("/").content.decode()
        Registration.objects.update(state=Registration.State.ISSUED)
        throttle.place_release(holder=str(registration_of(first).pk))
        agent.replace(responses.POST, "http://agent.test/connection/invitation", status=503)

        answer = waiting.get(IN_PLACE)

    assert answer.status_code == 200
    assert answer.json()["state"] == "waiting" and answer.json()["issuer"] == "unavailable"
    assert "cannot be reached" in answer.json()["message"]
    assert "html" not in answer.json()
    assert throttle.places_held() == 0  # the place went back at once
    assert throttle.line_length() == 1  # and the visitor keeps theirs


def test_a_rate_limit_at_their_turn_sends_the_page_to_the_start_page_that_says_so(settings, first_and_waiting):
    first, waiting = first_and_waiting
    settings.REGISTERFT_RATE_INVITATIONS_PER_SESSION = (0, 3600)
    free_the_place(first)
    answer = waiting.get(IN_PLACE).json()
    assert answer["next"] == "/" and "html" not in answer
    assert waiting.get("/").status_code == 429
