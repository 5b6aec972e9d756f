"""The throttle's rate limits on new invitations and credential offers: per session, per client
address, shared through the database."""

import re
import sqlite3
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.cache import cache
from django.db import connection
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory

from onboarding import leases, throttle
from onboarding.models import DemoConnection, DemoCredential, Lease, Registration
from onboarding.views.limits import visitor_address
from registerft.env import envrate
from tests.processes import run_at_once, shared_database

pytestmark = pytest.mark.django_db

# Windows in the view tests are a week long, so that a test never straddles two of them.
WEEK = 7 * 24 * 3600
NOON = datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt_timezone.utc)


def connect_with_demo_wallet(client) -> None:
    """Open the start page and let the demo wallet (another browser) accept the invitation."""
    page = client.get("/").content.decode()
    short = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', page).group(1)
    wallet = type(client)()
    wallet_path = wallet.get(short.replace("http://testserver", ""))["Location"].replace("http://testserver", "")
    wallet.post(wallet_path, {"action": "connect"})
    assert client.get("/check_connection/status").json()["next"] == "/name"


DETAILS = {"first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical Engines"}


# --- Counting ---------------------------------------------------------------------------------


def test_it_refuses_attempts_over_the_rate_until_the_window_ends():
    rate = (2, 60)
    assert throttle.rate_hit(key="k", rate=rate, now=NOON) is None
    assert throttle.rate_hit(key="k", rate=rate, now=NOON + timedelta(seconds=10)) is None
    refused = throttle.rate_hit(key="k", rate=rate, now=NOON + timedelta(seconds=15))
    assert refused == throttle.Limited(retry_after=45)
    assert throttle.rate_hit(key="k", rate=rate, now=NOON + timedelta(seconds=60)) is None


@pytest.mark.parametrize("upsert", [True, False], ids=["upsert-returning", "update-then-select"])
def test_it_counts_the_same_with_and_without_an_upsert_returning_the_count(upsert, monkeypatch):
    monkeypatch.setattr(type(connection.features), "can_return_rows_from_bulk_insert", upsert)
    counts = [leases.lease_count("rate:k:1", until=NOON + timedelta(seconds=60), now=NOON) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert Lease.objects.get(key="rate:k:1").count == 3


def test_opening_a_window_and_counting_in_it_are_one_statement_each(django_assert_num_queries, monkeypatch):
    """SQLite here has both the upsert and RETURNING: no transaction, no read back."""
    monkeypatch.setattr(leases, "_cleaned_at", [NOON])  # finished windows were just dropped
    for expected in (1, 2):
        with django_assert_num_queries(1):
            assert leases.lease_count("rate:one:1", until=NOON + timedelta(seconds=60), now=NOON) == expected


def test_it_counts_each_key_on_its_own():
    rate = (1, 60)
    assert throttle.rate_hit(key="a", rate=rate, now=NOON) is None
    assert throttle.rate_hit(key="b", rate=rate, now=NOON) is None
    assert throttle.rate_hit(key="a", rate=rate, now=NOON) is not None


def test_it_keeps_the_counters_in_the_database_not_in_the_process_cache():
    rate = (2, 60)
    for _ in range(2):
        throttle.rate_hit(key="shared", rate=rate, now=NOON)
        cache.clear()  # what another worker's LocMem cache would look like
    assert Lease.objects.get(key__startswith="rate:shared:").count == 2
    assert throttle.rate_hit(key="shared", rate=rate, now=NOON) is not None


def test_it_drops_finished_windows_when_a_new_one_opens():
    throttle.rate_hit(key="old", rate=(5, 60), now=NOON)
    throttle.rate_hit(key="new", rate=(5, 60), now=NOON + timedelta(minutes=5))
    assert [key.rsplit(":", 1)[0] for key in Lease.objects.values_list("key", flat=True)] == ["rate:new"]


def test_it_counts_nothing_when_a_rate_is_off():
    assert throttle.rate_hit(key="k", rate=None, now=NOON) is None
    assert not Lease.objects.exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("10/10m", (10, 600)), ("300/1m", (300, 60)), ("5/600", (5, 600)), ("2/1h", (2, 3600)), ("OFF", None)],
)
def test_it_reads_rates_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("REGISTERFT_RATE_TEST", value)
    assert envrate("REGISTERFT_RATE_TEST", "1/1s") == expected


@pytest.mark.parametrize("value", ["ten", "0/1m", "5/", "5/0m", "5/x"])
def test_it_refuses_a_bad_rate_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("REGISTERFT_RATE_TEST", value)
    with pytest.raises(ImproperlyConfigured, match="REGISTERFT_RATE_TEST"):
        envrate("REGISTERFT_RATE_TEST", "1/1s")


# --- The client's address -------------------------------------------------------------------


def address_of(settings, header_value=None, remote="10.0.0.9", **setting_values):
    for name, value in setting_values.items():
        setattr(settings, name, value)
    extra = {"HTTP_X_FORWARDED_FOR": header_value} if header_value is not None else {}
    return visitor_address(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_it_takes_remote_addr_and_ignores_forwarding_headers_by_default(settings):
    settings.REGISTERFT_CLIENT_IP_HEADER = ""
    assert address_of(settings, "203.0.113.7") == "10.0.0.9"


def test_it_takes_the_address_the_trusted_proxy_saw(settings):
    settings.REGISTERFT_CLIENT_IP_HEADER = "X-Forwarded-For"
    # What the client wrote itself (left) is ignored; the proxy appended the real address.
    assert address_of(settings, "198.51.100.1, 203.0.113.7") == "203.0.113.7"
    assert address_of(settings, "203.0.113.7, 10.0.0.2", REGISTERFT_TRUSTED_PROXY_COUNT=2) == "203.0.113.7"


def test_it_falls_back_to_remote_addr_when_the_proxy_header_is_missing_or_short(settings):
    settings.REGISTERFT_CLIENT_IP_HEADER = "X-Forwarded-For"
    assert address_of(settings) == "10.0.0.9"
    assert address_of(settings, "203.0.113.7", REGISTERFT_TRUSTED_PROXY_COUNT=2) == "10.0.0.9"


def test_it_normalises_ports_ipv6_and_nonsense(settings):
    settings.REGISTERFT_CLIENT_IP_HEADER = "X-Forwarded-For"
    assert address_of(settings, "203.0.113.7:5123") == "203.0.113.7"
    assert address_of(settings, "[2001:db8:1:2:3::4]:443") == "2001:db8:1:2::/64"
    assert address_of(settings, "2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_of(settings, "::ffff:203.0.113.7") == "203.0.113.7"
    assert address_of(settings, "<script>") == "unknown"


# --- Invitations --------------------------------------------------------------------------------


def test_a_visitor_reloading_the_start_page_is_not_counted(client, settings):
    settings.REGISTERFT_RATE_INVITATIONS_PER_SESSION = (1, WEEK)
    for _ in range(5):
        assert client.get("/").status_code == 200
    assert Registration.objects.count() == 1
    assert Lease.objects.get(key__startswith="rate:invitation:session:").count == 1


def test_a_visitor_starting_again_too_often_gets_a_friendly_429(client, settings):
    settings.REGISTERFT_RATE_INVITATIONS_PER_SESSION = (2, WEEK)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for _ in range(2):
        assert client.get("/").status_code == 200
        client.post("/restart/")
    response = client.get("/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= WEEK
    page = response.content.decode()
    assert "<h1>Please wait a moment</h1>" in page and "too many attempts" in page and "Try again" in page
    # The refused visit cost the issuer nothing.
    assert Registration.objects.count() == DemoConnection.objects.count() == 2


def test_the_429_page_speaks_the_visitors_language_german_by_default(client, settings):
    settings.REGISTERFT_RATE_INVITATIONS_PER_ADDRESS = (1, WEEK)
    type(client)().get("/")  # another visitor at the same address
    page = client.get("/")
    assert page.status_code == 429
    assert "<h1>Bitte warten Sie einen Moment</h1>" in page.content.decode()
    assert page["Content-Language"] == "de"


def test_visitors_behind_one_address_share_a_more_generous_limit(client_factory, settings):
    settings.REGISTERFT_RATE_INVITATIONS_PER_ADDRESS = (3, WEEK)
    venue = [client_factory(REMOTE_ADDR="192.0.2.10") for _ in range(4)]
    assert [c.get("/").status_code for c in venue] == [200, 200, 200, 429]
    assert client_factory(REMOTE_ADDR="192.0.2.11").get("/").status_code == 200


def test_behind_a_trusted_proxy_each_forwarded_address_counts_on_its_own(client_factory, settings):
    settings.REGISTERFT_CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.REGISTERFT_RATE_INVITATIONS_PER_ADDRESS = (1, WEEK)

    def visit(forwarded: str) -> int:
        return client_factory(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded).get("/").status_code

    assert visit("203.0.113.1") == 200
    assert visit("203.0.113.2") == 200
    # Writing another address in front does not get a client round its own limit.
    assert visit("198.51.100.99, 203.0.113.1") == 429


def test_a_session_over_its_limit_does_not_use_up_its_address(client, client_factory, settings):
    settings.REGISTERFT_RATE_INVITATIONS_PER_SESSION = (1, WEEK)
    settings.REGISTERFT_RATE_INVITATIONS_PER_ADDRESS = (2, WEEK)
    client.get("/")
    for _ in range(3):
        client.post("/restart/")
        assert client.get("/").status_code == 429
    assert client_factory().get("/").status_code == 200


# --- Credential offers ------------------------------------------------------------------------


def test_a_visitor_over_the_offer_limit_sees_the_form_again_with_what_they_typed(client, settings):
    settings.REGISTERFT_RATE_OFFERS_PER_SESSION = (1, WEEK)
    connect_with_demo_wallet(client)
    throttle.rate_hit(
        key=f"offer:session:{client.session[throttle.SESSION_IDENTITY_KEY]}", rate=(1, WEEK)
    )  # an earlier offer of this session

    response = client.post("/name", DETAILS)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= WEEK
    page = response.content.decode()
    assert 'value="Lovelace"' in page and 'role="alert"' in page
    assert Registration.objects.get().state == Registration.State.CONNECTED
    assert not DemoCredential.objects.exists()


def test_offers_from_one_address_are_limited_too(client, settings):
    settings.REGISTERFT_RATE_OFFERS_PER_ADDRESS = (1, WEEK)
    connect_with_demo_wallet(client)
    throttle.rate_hit(key="offer:address:127.0.0.1", rate=(1, WEEK))  # another visitor at the venue
    assert client.post("/name", DETAILS).status_code == 429


def test_an_offer_within_the_limits_goes_through(client, settings):
    settings.REGISTERFT_RATE_OFFERS_PER_SESSION = (1, WEEK)
    connect_with_demo_wallet(client)
    response = client.post("/name", DETAILS)
    assert response.status_code == 302 and response["Location"] == "/loading/"
    assert DemoCredential.objects.count() == 1


@pytest.fixture
def client_factory():
    return Client


# --- Shared by processes ------------------------------------------------------------------------

WORKER = """
import django
django.setup()
from onboarding.throttle import rate_hit
allowed = sum(rate_hit(key="venue", rate=({limit}, {week})) is None for _ in range({hits}))
print(allowed)
"""


@pytest.mark.timeout(180)
def test_worker_processes_count_together_and_admit_exactly_the_rate(tmp_path):
    """Four processes (as gunicorn workers would) hammer one key on one database file."""
    env = shared_database(tmp_path)
    outputs = run_at_once(WORKER.format(limit=50, week=WEEK, hits=30), env)
    assert sum(int(out) for out in outputs) == 50
    with sqlite3.connect(tmp_path / "shared.sqlite3") as db:
        assert db.execute("select count from onboarding_lease where key like 'rate:venue:%'").fetchone() == (120,)


def test_a_refused_visit_creates_no_session(client_factory, settings, tmp_path):
    settings.REGISTERFT_RATE_INVITATIONS_PER_ADDRESS = (1, WEEK)
    client_factory().get("/")  # another visitor at the same address
    refused = client_factory()

    responses = [refused.get("/") for _ in range(5)]

    assert {response.status_code for response in responses} == {429}
    assert all(settings.SESSION_COOKIE_NAME not in response.cookies for response in responses)
    assert len(list((tmp_path / "sessions").iterdir())) == 1  # the other visitor's
