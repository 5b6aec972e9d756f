"""The throttle's line at the door: beyond REGISTERFT_MAX_IN_PROGRESS registrations in progress at the
issuer, new visitors wait on a page that says their place and moves on by itself; visitors already
in the flow are never held back, and nobody who is not there holds up those who are."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import responses
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from onboarding import services, throttle
from onboarding.models import LineTicket, Registration
from tests.processes import run_at_once, shared_database

pytestmark = pytest.mark.django_db

HOLD = 30


@pytest.fixture(autouse=True)
def bound(settings):
    settings.REGISTERFT_ISSUERS = ("demo",)
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
    assert not LineTicket.objects.exists()


def test_a_new_visitor_beyond_the_bound_waits_with_their_place_in_line(clock):
    started(new_visitor()), started(new_visitor())
    third, fourth = new_visitor(), new_visitor()

    third_page = third.get("/")
    fourth_page = fourth.get("/")

    assert third_page.status_code == 200 and fourth_page.status_code == 200
    assert "You are next in line" in third_page.content.decode()
    assert "number 2 in line" in fourth_page.content.decode()
    assert 'data-poll-url="/queue/status?in_place=1"' in fourth_page.content.decode()
    assert '<meta http-equiv="refresh"' in fourth_page.content.decode()  # without JavaScript
    assert Registration.objects.count() == 2  # nothing created at the issuer for them
    assert fourth.get("/queue/status").json() == {
        "state": "waiting", "next": None, "issuer": "ok", "position": 2, "poll_after_ms": throttle.FRONT_POLL_MS,
        "message": "You are number 2 in line. This page moves on by itself.",
    }


def registration_of(client: Client) -> Registration:
    return Registration.objects.get(pk=client.session["registerft"]["registration"])


def connect(client: Client) -> None:
    """The visitor's wallet connected: the agent is done with the invitation."""
    services.registration_mark_connected(registration=registration_of(client))


def test_the_line_moves_on_by_itself_when_a_wallet_connects(clock):
    first = new_visitor()
    started(first), started(new_visitor())
    third, fourth = new_visitor(), new_visitor()
    third.get("/"), fourth.get("/")

    connect(first)

    assert third.get("/queue/status").json()["next"] == "/"
    # The fourth waits for the third, who was told it is their turn and is coming.
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
    gone.get("/"), staying.get("/")
    assert staying.get("/queue/status").json()["position"] == 2

    clock.advance(20)
    staying.get("/queue/status")  # still here; the other one stopped asking
    clock.advance(15)

    assert staying.get("/queue/status").json()["position"] == 1


def test_clients_that_only_poll_the_line_do_not_keep_a_newcomer_from_an_idle_agent(settings, clock):
    settings.REGISTERFT_MAX_IN_PROGRESS = 5
    busy = [new_visitor() for _ in range(5)]
    for visitor in busy:
        started(visitor)
    pollers = [new_visitor() for _ in range(5)]
    for poller in pollers:
        assert not started(poller)
    for visitor in busy:
        connect(visitor)  # nothing is in progress at the agent any more

    # The five keep polling, are told it is their turn, and never come.
    for _ in range(4):
        for poller in pollers:
            assert poller.get("/queue/status").json()["next"] == "/"
        clock.advance(2)

    assert started(new_visitor())
    assert started(new_visitor())


def test_a_visitor_told_it_is_their_turn_keeps_it_for_a_moment_then_hands_it_on(clock):
    first = new_visitor()
    started(first), started(new_visitor())
    called, behind = new_visitor(), new_visitor()
    called.get("/"), behind.get("/")
    connect(first)

    assert called.get("/queue/status").json()["next"] == "/"
    assert behind.get("/queue/status").json()["state"] == "waiting"  # the place is the caller's
    clock.advance(throttle.CALL_GRACE_SECONDS + 1)
    assert behind.get("/queue/status").json()["next"] == "/"
    assert started(behind)
    # The one who did not come keeps their place at the front for the next free place.
    assert called.get("/queue/status").json()["position"] == 1


def test_failed_invitations_hold_no_place_and_the_next_visitor_starts_at_once(settings, client_factory):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    settings.REGISTERFT_MAX_IN_PROGRESS = 5
    settings.AGENT_REST_CONNECTION_URL = settings.AGENT_REST_ISSUER_URL = "http://agent.test"
    with responses.RequestsMock() as agent:
        agent.post("http://agent.test/connection/invitation", status=503)
        failed = [client_factory() for _ in range(6)]
        assert [visitor.get("/").status_code for visitor in failed] == [503] * 6
        assert throttle.places_held() == 0
        agent.replace(
            responses.POST, "http://agent.test/connection/invitation",
            json={"connectionId": "c-7", "invitationUrl": "http://agent.test/?oob=e30"},
        )
        seventh = client_factory().get("/")
    assert seventh.status_code == 200 and "<svg" in seventh.content.decode()


def test_an_admitted_visitor_whose_invitation_failed_keeps_their_place_without_holding_up_others(
    settings, clock
):
    started(new_visitor()), started(new_visitor())
    waiting, behind = new_visitor(), new_visitor()
    waiting.get("/"), behind.get("/")
    token = waiting.session[throttle.SESSION_TICKET_KEY]

    throttle.line_failed(session={throttle.SESSION_TICKET_KEY: token}, holder="nobody")
    Registration.objects.update(state=Registration.State.ISSUED)
    throttle.place_release(holder=str(Registration.objects.first().pk))

    assert behind.get("/queue/status").json()["next"] == "/"  # the failed one is not here now
    assert LineTicket.objects.get(token=token).id < LineTicket.objects.get(
        token=behind.session[throttle.SESSION_TICKET_KEY]
    ).id
    assert started(waiting)  # back, and a place is free: in at once
    assert not LineTicket.objects.filter(token=token).exists()


def test_a_poll_without_a_place_in_line_creates_nothing(client, settings):
    for _ in range(3):
        response = client.get("/queue/status")
        assert response.json()["next"] == "/"
        assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert not LineTicket.objects.exists()


def test_one_address_cannot_fill_the_line(settings, client_factory):
    settings.REGISTERFT_LINE_PER_ADDRESS = 3
    started(new_visitor()), started(new_visitor())
    crowd = [client_factory(REMOTE_ADDR="192.0.2.50").get("/").status_code for _ in range(5)]
    assert crowd == [200, 200, 200, 429, 429]
    assert client_factory(REMOTE_ADDR="192.0.2.51").get("/").status_code == 200
    assert LineTicket.objects.count() == 4


def test_a_poll_of_the_line_costs_the_same_queries_with_a_thousand_waiting(settings, clock):
    started(new_visitor()), started(new_visitor())
    visitor = new_visitor()
    visitor.get("/")
    visitor.get("/queue/status")
    with CaptureQueriesContext(connection) as alone:
        visitor.get("/queue/status")

    now = timezone.now()
    LineTicket.objects.bulk_create(
        LineTicket(token=f"t{n}", address="192.0.2.9", present_until=now + timedelta(seconds=60),
                   expires_at=now + timedelta(seconds=60))
        for n in range(1000)
    )
    clock.advance(0.1)
    with CaptureQueriesContext(connection) as crowded:
        assert visitor.get("/queue/status").json()["position"] == 1
    assert len(crowded) == len(alone)
    assert all("COUNT" not in query["sql"].upper() or "LEASE" in query["sql"].upper() for query in crowded)


def test_far_back_the_waiting_page_asks_less_often(settings):
    settings.REGISTERFT_MAX_IN_PROGRESS = 5
    settings.REGISTERFT_POLL_INTERVAL_MS = 1500
    assert throttle.line_poll_ms(1) <= 500  # a freed place is taken within a fraction of a second
    assert throttle.line_poll_ms(30) > throttle.line_poll_ms(5)
    # Near the front as many as the places that free up at once, half the limit's reach.
    assert throttle.line_poll_ms(12, limit=24) <= 500 < throttle.line_poll_ms(13, limit=24)
    # Far back: half the ticket's lifetime, so that one lost poll does not cost the place.
    assert throttle.line_poll_ms(100_000) == 15_000


def test_zero_turns_the_line_off(settings):
    settings.REGISTERFT_MAX_IN_PROGRESS = 0
    for _ in range(4):
        assert started(new_visitor())


def connect_with_demo_wallet(client: Client) -> None:
    page = client.get("/").content.decode()
    short = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', page).group(1)
    wallet = Client()
    wallet_path = wallet.get(short.replace("http://testserver", ""))["Location"].replace("http://testserver", "")
    wallet.post(wallet_path, {"action": "connect"})
    assert client.get("/check_connection/status").json()["next"] == "/name"


def test_the_bound_counts_offers_in_progress_and_not_visitors_typing(clock):
    first, second = new_visitor(), new_visitor()
    connect_with_demo_wallet(first), connect_with_demo_wallet(second)  # both typing their details
    assert throttle.places_held() == 0
    assert started(new_visitor())
    assert throttle.places_held() == 1
    first.post("/name", {"first_name": "Ada", "last_name": "Lovelace", "institution": "Engines"})
    assert throttle.places_held() == 2  # the offer, until the wallet answers


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
from onboarding.throttle import Admitted, line_admit
assert settings.REGISTERFT_MAX_IN_PROGRESS == {bound}
print(sum(isinstance(line_admit(session={{}}, address='192.0.2.1', holder=str(n)), Admitted) for n in range({visitors})))
"""


@pytest.mark.timeout(180)
def test_worker_processes_share_one_line_and_admit_exactly_the_bound(tmp_path):
    """Four processes (as gunicorn workers, or instances, would) let 40 new visitors in at once
    against one database file: exactly the bound get a slot, the rest wait."""
    env = shared_database(tmp_path, REGISTERFT_MAX_IN_PROGRESS="5")
    outputs = run_at_once(ADMITTING_WORKER.format(bound=5, visitors=10), env)
    assert sum(int(out) for out in outputs) == 5


@pytest.fixture
def client_factory():
    return Client
