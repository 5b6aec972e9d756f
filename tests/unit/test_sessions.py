"""File sessions that clean up after themselves, without slowing requests down."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.base import CreateError
from django.core.management import call_command
from django.utils import timezone

from onboarding import sessions
from onboarding.sessions import SessionStore

HOUR = 60 * 60
LATER = 10_000_000.0  # a monotonic "now" far from the real one


@pytest.fixture(autouse=True)
def quiet_cleanup(monkeypatch, settings):
    """No clean-up starts by itself while a test writes its sessions; the test starts it."""
    settings.SESSION_COOKIE_AGE = 2 * HOUR
    settings.REGISTERFT_SESSION_CLEANUP_INTERVAL = 300
    monkeypatch.setattr(sessions, "_last_check", float("inf"))
    monkeypatch.setattr(sessions, "_cleaning", False)


def allow_cleanup(monkeypatch) -> None:
    # Minus infinity: the interval has passed whatever the monotonic clock reads (on a machine
    # booted a minute ago it may read less than the interval).
    monkeypatch.setattr(sessions, "_last_check", float("-inf"))


def folder() -> Path:
    return Path(django_settings.SESSION_FILE_PATH)


def session_file(key: str) -> Path:
    return folder() / f"{django_settings.SESSION_COOKIE_NAME}{key}"


def write_session(*, written_ago: float, expires_in: float | None = None) -> str:
    """A session file last written ``written_ago`` seconds ago; with ``expires_in``, the session
    carries its own expiry (as a date: Django's file store counts an age in seconds from now)."""
    store = SessionStore()
    store["registerft"] = {"registration": "x"}
    if expires_in is not None:
        store.set_expiry(timezone.now() + timedelta(seconds=expires_in))
    store.save(must_create=True)
    then = time.time() - written_ago
    os.utime(session_file(store.session_key), (then, then))
    return store.session_key


def expired_sessions(count: int) -> list[str]:
    return [write_session(written_ago=3 * HOUR) for _ in range(count)]


def live_sessions(count: int) -> list[str]:
    return [write_session(written_ago=60) for _ in range(count)]


def remaining() -> set[str]:
    prefix = django_settings.SESSION_COOKIE_NAME
    return {name[len(prefix):] for name in os.listdir(folder()) if name.startswith(prefix)}


def test_expired_sessions_are_removed_once_there_are_more_than_the_threshold(monkeypatch, settings):
    settings.REGISTERFT_SESSION_CLEANUP_THRESHOLD = 3
    expired = expired_sessions(3)
    live = live_sessions(2)
    allow_cleanup(monkeypatch)
    assert sessions.maybe_clean_up(now=LATER, background=False)
    assert remaining() == set(live)
    assert not set(expired) & remaining()


def test_a_live_session_is_never_removed(monkeypatch, settings):
    settings.REGISTERFT_SESSION_CLEANUP_THRESHOLD = 1
    live = live_sessions(3)
    # Written long ago, but it asked for a week: still live.
    long_lived = write_session(written_ago=3 * HOUR, expires_in=7 * 24 * HOUR)
    allow_cleanup(monkeypatch)
    assert sessions.maybe_clean_up(now=LATER, background=False)
    assert remaining() == {*live, long_lived}
    assert SessionStore(long_lived).load()["registerft"] == {"registration": "x"}


def test_a_session_past_its_own_expiry_is_removed(monkeypatch, settings):
    settings.REGISTERFT_SESSION_CLEANUP_THRESHOLD = 1
    short = write_session(written_ago=3 * HOUR, expires_in=-60)
    live = live_sessions(1)
    allow_cleanup(monkeypatch)
    sessions.maybe_clean_up(now=LATER, background=False)
    assert remaining() == set(live)
    assert short not in remaining()


def test_nothing_is_removed_below_the_threshold(monkeypatch, settings):
    settings.REGISTERFT_SESSION_CLEANUP_THRESHOLD = 5
    expired = expired_sessions(5)
    allow_cleanup(monkeypatch)
    assert not sessions.maybe_clean_up(now=LATER, background=False)
    assert remaining() == set(expired)


def test_the_files_are_counted_at_most_once_per_interval(monkeypatch, settings):
    settings.REGISTERFT_SESSION_CLEANUP_THRESHOLD = 1000
    counted = []
    real_count = sessions.count_session_files
    monkeypatch.setattr(sessions, "count_session_files", lambda: counted.append(1) or real_count())
    allow_cleanup(monkeypatch)

    sessions.maybe_clean_up(now=LATER, background=False)
    for offset in (1, 100, 299):
        sessions.maybe_clean_up(now=LATER + offset, background=False)
    assert len(counted) == 1
    sessions.maybe_clean_up(now=LATER + 300, background=False)
    assert len(counted) == 2


def test_requests_do_not_count_the_files_each_time(client, monkeypatch, settings, db):
    counted = []
    monkeypatch.setattr(sessions, "count_session_files", lambda: counted.append(1) or 0)
    allow_cleanup(monkeypatch)
    for _ in range(5):
        client.get("/")
    assert len(counted) == 1


def test_only_one_clean_up_runs_at_a_time(monkeypatch, settings):
    settings.REGISTERFT_SESSION_CLEANUP_THRESHOLD = 1
    expired = expired_sessions(2)
    allow_cleanup(monkeypatch)
    monkeypatch.setattr(sessions, "_cleaning", True)  # another thread is at it
    assert not sessions.maybe_clean_up(now=LATER, background=False)
    assert remaining() == set(expired)


def test_the_clean_up_runs_beside_the_request_that_started_it(client, monkeypatch, settings, db):
    settings.REGISTERFT_SESSION_CLEANUP_THRESHOLD = 2
    expired = expired_sessions(3)
    allow_cleanup(monkeypatch)
    started = threading.Event()
    release = threading.Event()
    real_remove = sessions.remove_expired_sessions

    def slow_remove() -> int:
        started.set()
        release.wait(10)
        return real_remove()

    monkeypatch.setattr(sessions, "remove_expired_sessions", slow_remove)
    response = client.get("/")  # saves the visitor's new session, which triggers the check
    assert response.status_code == 200
    assert started.wait(10), "no clean-up started"
    # The response came back while the clean-up was still waiting.
    assert set(expired) <= remaining()
    release.set()
    cleaner = next(t for t in threading.enumerate() if t.name == "session-cleanup")
    cleaner.join(10)
    assert not cleaner.is_alive()
    assert remaining() == {client.session.session_key}
    assert not sessions._cleaning


def test_files_that_are_not_sessions_are_left_alone(monkeypatch, settings):
    settings.REGISTERFT_SESSION_CLEANUP_THRESHOLD = 1
    expired_sessions(2)
    other = folder() / "README"
    other.write_text("not a session")
    then = time.time() - 10 * HOUR
    os.utime(other, (then, then))
    allow_cleanup(monkeypatch)
    sessions.maybe_clean_up(now=LATER, background=False)
    assert other.exists()
    assert remaining() == set()


def test_clearsessions_works_with_this_store(settings):
    assert settings.SESSION_ENGINE == "onboarding.sessions"
    expired = expired_sessions(2)
    live = live_sessions(2)
    call_command("clearsessions")
    assert remaining() == set(live)
    assert not set(expired) & remaining()


# --- A new key leaves a forward under the old one ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("store", [SessionStore, sessions.SharedSessionStore], ids=["file", "cached-db"])
def test_a_rotated_key_leads_to_the_new_session_for_a_short_while(store, monkeypatch):
    session = store()
    session["flow"] = {"registration": "r-1"}
    session.save()
    old_key = session.session_key
    session.cycle_key()
    session.save()

    late = store(old_key)
    assert late["flow"] == {"registration": "r-1"}
    assert late.session_key == session.session_key
    assert late.modified  # the answer sets the new key's cookie

    # After the grace the old key leads nowhere, and its forward is gone.
    monkeypatch.setattr(sessions, "ROTATION_GRACE_SECONDS", -1)
    old_key = session.session_key
    session.cycle_key()
    session.save()
    stale = store(old_key)
    assert stale.load() == {}
    if store is SessionStore:  # an expired database row waits for clearsessions, as any other
        assert not store().exists(old_key)
    assert store(session.session_key)["flow"] == {"registration": "r-1"}


# --- Fewer writes ------------------------------------------------------------------------------


def test_a_new_session_is_written_once_private_and_whole():
    session = SessionStore()
    session["flow"] = {"registration": "r-1"}
    session.save()
    path = session_file(session.session_key)
    assert path.stat().st_mode & 0o777 == 0o600
    assert not [name for name in os.listdir(folder()) if "_out_" in name]  # no temporary file left
    assert SessionStore(session.session_key)["flow"] == {"registration": "r-1"}


def test_a_new_session_never_takes_over_an_existing_file():
    taken = SessionStore()
    taken["flow"] = {"registration": "r-1"}
    taken.save()
    intruder = SessionStore(taken.session_key)
    intruder["flow"] = {"registration": "r-2"}
    with pytest.raises(CreateError):
        intruder.save(must_create=True)
    assert SessionStore(taken.session_key)["flow"] == {"registration": "r-1"}


def test_the_save_after_a_new_key_writes_only_what_changed_since():
    session = SessionStore()
    session["flow"] = {"registration": "r-1"}
    session.save()
    session.cycle_key()
    written = session_file(session.session_key).stat().st_ino
    session.save()  # the response's save, nothing changed since the key did
    assert session_file(session.session_key).stat().st_ino == written

    session["flow"] = {"registration": "r-1", "offered": True}
    session.save()
    assert session_file(session.session_key).stat().st_ino != written  # rewritten (and renamed)
    assert SessionStore(session.session_key)["flow"] == {"registration": "r-1", "offered": True}
