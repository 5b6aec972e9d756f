"""The line at the door: beyond REGISTERFT_MAX_IN_PROGRESS registrations in progress at the issuer,
new visitors wait on a page that says their place and moves on by itself; visitors already in the
flow are never held back."""

from __future__ import annotations

import pytest
from django.test import Client

from onboarding import admission
from onboarding.models import AdmissionTicket, Registration
from tests.processes import run_at_once, shared_database

pytestmark = pytest.mark.django_db

HOLD = 30


@pytest.fixture(autouse=True)
def bound(settings):
    settings.REGISTERFT_ISSUER = "demo"
    settings.REGISTERFT_MAX_IN_PROGRESS = 2
    settings.REGISTERFT_IN_PROGRESS_HOLD = HOLD
    settings.REGISTERFT_QUEUE_TICKET_TTL = 30


def new_visitor(language: str = "en") -> Client:
    client = Client()
    client.cookies["django_language"] = language
    return client


def started(client: Client) -> bool:
    response = client.get("/")
    assert response.status_code == 200
    return "<svg" in response.content.decode()


def test_visitors_up_to_the_bound_start_at_once():
    assert started(new_visitor())
    assert started(new_visitor())
    assert Registration.objects.count() == 2
    assert not AdmissionTicket.objects.exists()


def test_a_new_visitor_beyond_the_bound_waits_with_their_place_in_line(clock):
    started(new_visitor()), started(new_visitor())
    third, fourth = new_visitor(), new_visitor()

    third_page = third.get("/")
    fourth_page = fourth.get("/")

    assert third_page.status_code == 200 and fourth_page.status_code == 200
    assert "You are next in line" in third_page.content.decode()
    assert "number 2 in line" in fourth_page.content.decode()
    assert 'data-poll-url="/queue/status"' in fourth_page.content.decode()
    assert '<meta http-equiv="refresh"' in fourth_page.content.decode()  # without JavaScript
    assert Registration.objects.count() == 2  # nothing created at the issuer for them
    assert fourth.get("/queue/status").json() == {
        "state": "waiting", "next": None, "issuer": "ok", "position": 2,
        "message": "You are number 2 in line. This page moves on by itself.",
    }


def test_the_line_moves_on_by_itself_when_a_registration_is_done(clock):
    first = new_visitor()
    started(first), started(new_visitor())
    third, fourth = new_visitor(), new_visitor()
    third.get("/"), fourth.get("/")

    Registration.objects.filter(pk=first.session["registerft"]["registration"]).update(
        state=Registration.State.ISSUED
    )

    assert third.get("/queue/status").json()["next"] == "/"
    # The fourth waits for the third, who has not come in yet.
    assert fourth.get("/queue/status").json()["position"] == 2
    assert started(third)
    assert fourth.get("/queue/status").json()["position"] == 1


def test_visitors_already_in_the_flow_are_never_held_back(clock):
    first = new_visitor()
    started(first), started(new_visitor())
    new_visitor().get("/")  # someone waits

    assert started(first)  # a reload of the start page
    assert first.get("/check_connection/").status_code == 200
    assert first.get("/check_connection/status").json()["state"] == "waiting"


def test_an_invitation_nobody_answers_stops_counting_after_the_hold(clock):
    started(new_visitor()), started(new_visitor())
    waiting = new_visitor()
    assert not started(waiting)

    clock.advance(HOLD + 1)

    assert waiting.get("/queue/status").json()["next"] == "/"
    assert started(waiting)


def test_a_visitor_who_left_the_line_no_longer_holds_up_the_others(settings, clock):
    settings.REGISTERFT_IN_PROGRESS_HOLD = 300
    started(new_visitor()), started(new_visitor())
    gone, staying = new_visitor(), new_visitor()
    gone.get("/")
    assert staying.get("/queue/status").json()["position"] == 2

    clock.advance(20)
    staying.get("/queue/status")  # still here; the other one stopped asking
    clock.advance(15)

    assert staying.get("/queue/status").json()["position"] == 1


def test_an_admitted_visitor_whose_invitation_failed_keeps_the_front_of_the_line(settings, clock):
    started(new_visitor()), started(new_visitor())
    waiting = new_visitor()
    waiting.get("/")
    Registration.objects.update(state=Registration.State.ISSUED)
    token = waiting.session[admission.SESSION_TICKET_KEY]

    admission.admission_done(session={admission.SESSION_TICKET_KEY: token}, started=False)

    ticket = AdmissionTicket.objects.get(token=token)
    assert ticket.admitted_at is None
    assert started(waiting)
    assert not AdmissionTicket.objects.exists()


def test_zero_turns_the_line_off(settings):
    settings.REGISTERFT_MAX_IN_PROGRESS = 0
    for _ in range(4):
        assert started(new_visitor())


def test_the_bound_counts_offers_in_progress_and_not_visitors_typing(clock):
    first, second = new_visitor(), new_visitor()
    started(first), started(second)
    Registration.objects.update(state=Registration.State.CONNECTED)  # both typing their details
    assert started(new_visitor())
    assert started(new_visitor())
    assert admission.in_progress_count(now=clock()) == 2


def test_the_waiting_page_is_german_by_default():
    started(new_visitor()), started(new_visitor())
    visitor = Client()  # no language chosen: German, as the original portal
    page = visitor.get("/").content.decode()
    assert "in line" not in page
    assert "Sie sind gleich an der Reihe" in page
    second = Client()
    second.get("/")
    assert "Sie sind Nummer 2 in der Warteschlange" in second.get("/queue/status").json()["message"]


# --- Shared by processes ------------------------------------------------------------------------

ADMITTING_WORKER = """
import django
django.setup()
from django.conf import settings
from onboarding.admission import admission_request
assert settings.REGISTERFT_MAX_IN_PROGRESS == {bound}
print(sum(admission_request(session={{}}) == 0 for _ in range({visitors})))
"""


@pytest.mark.timeout(180)
def test_worker_processes_share_one_line_and_admit_exactly_the_bound(tmp_path):
    """Four processes (as gunicorn workers, or instances, would) let 40 new visitors in at once
    against one database file: exactly the bound get a slot, the rest wait."""
    env = shared_database(tmp_path, REGISTERFT_MAX_IN_PROGRESS="5")
    outputs = run_at_once(ADMITTING_WORKER.format(bound=5, visitors=10), env)
    assert sum(int(out) for out in outputs) == 5
