"""File-based sessions that clean up after themselves.

Django's file backend never removes an expired session file by itself. This store counts the
files at most once per ``REGISTERFT_SESSION_CLEANUP_INTERVAL`` seconds per process and, once there
are more than ``REGISTERFT_SESSION_CLEANUP_THRESHOLD``, removes the expired ones in a background
thread, so that no visitor's request waits for it. Only expired sessions are removed: a visitor in
the middle of the flow never loses theirs.

A new session key (``cycle_key``, when the details are committed) leaves a forward under the old
key for ``ROTATION_GRACE_SECONDS`` instead of deleting it at once: a double click's second request,
or one whose browser never saw the new cookie, still finds the visitor's session and is answered
with the new key. The same forward is kept with the shared store (``onboarding.sessions_shared``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, SessionBase, UpdateError
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore
from django.contrib.sessions.backends.file import SessionStore as FileSessionStore
from django.utils import timezone

logger = logging.getLogger("onboarding.sessions")

_lock = threading.Lock()
_last_check = 0.0
_cleaning = False


# How long an old session key still leads to the new one. Long enough for the requests already on
# their way with the old cookie (a double click's, the polls that follow) and short, since whoever
# learnt the old key follows the visitor for as long.
ROTATION_GRACE_SECONDS = 30
MOVED_TO = "_registerft_moved_to"
MAX_FORWARDS = 3  # a forward to a forward (two rotations within the grace) is followed too


class ForwardOnRotation(SessionBase):
    """``cycle_key`` leaves the old key pointing at the new one for a short while."""

    def cycle_key(self) -> None:
        data = self._session
        old_key = self.session_key
        self.create()
        self._session_cache = data
        if old_key:
            self._leave_forward(old_key, to=self.session_key)

    def _leave_forward(self, old_key: str, *, to: str) -> None:
        forward = self.__class__(old_key)
        forward._session_cache = {MOVED_TO: to}
        forward.set_expiry(timezone.now() + timedelta(seconds=ROTATION_GRACE_SECONDS))
        try:
            forward.save()
        except UpdateError:
            pass  # the old session is already gone (expired, or ended elsewhere): nothing to keep

    def load(self) -> dict[str, Any]:
        data = super().load()
        for _ in range(MAX_FORWARDS):
            moved_to = data.get(MOVED_TO)
            if not isinstance(moved_to, str) or not moved_to:
                break
            self._session_key = moved_to
            data = super().load()
            # The answer carries the new key's cookie, so the browser moves to it.
            self.modified = True
        if MOVED_TO in data:  # a chain longer than a visitor can make: start afresh
            self._session_key = None
            return {}
        return data


class SessionStore(ForwardOnRotation, FileSessionStore):
    """Django's file store with fewer writes: each one creates and renames files in a folder of
    thousands. In a round of make bench's event (60 visitors) with the folder in memory the portal
    took 65 ms of CPU per registration, against 73-77 ms on disk.

    - A new session's file is written as it is created (``O_EXCL``): nobody else knows the new key
      yet, so the placeholder, temporary file and rename that Django's store adds are not needed.
    - A save that would write what this request has just written is skipped: the details' step
      changes the key (which writes the session) just before the response saves it again.
    """

    _written: tuple[str, bytes] | None = None

    def save(self, must_create: bool = False) -> None:
        if must_create and self.session_key is not None:
            self._create_with_data()
        elif self._written is None or self._written != (self.session_key, self._serialized()):
            super().save(must_create=must_create)
        maybe_clean_up()

    def _create_with_data(self) -> None:
        data = self._get_session(no_load=True)
        try:
            fd = os.open(self._key_to_file(), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CreateError from None
        try:
            os.write(fd, self.encode(data).encode())
        finally:
            os.close(fd)
        self._written = (self.session_key, self._serialized())

    def _serialized(self) -> bytes:
        return self.serializer().dumps(self._get_session())


class SharedSessionStore(ForwardOnRotation, CachedDbSessionStore):
    """Sessions in Redis and the database (several instances): the forward on rotation too."""


def maybe_clean_up(*, now: float | None = None, background: bool = True) -> bool:
    """Start a clean-up if the interval has passed and the threshold is exceeded.

    Returns True when a clean-up was started.
    """
    global _last_check, _cleaning
    now = time.monotonic() if now is None else now
    with _lock:
        if _cleaning or now - _last_check < settings.REGISTERFT_SESSION_CLEANUP_INTERVAL:
            return False
        _last_check = now
        _cleaning = True
    try:
        if count_session_files() <= settings.REGISTERFT_SESSION_CLEANUP_THRESHOLD:
            _finish()
            return False
    except OSError:
        _finish()
        raise
    if background:
        threading.Thread(target=_clean_and_finish, name="session-cleanup", daemon=True).start()
    else:
        _clean_and_finish()
    return True


def _finish() -> None:
    global _cleaning
    with _lock:
        _cleaning = False


def _clean_and_finish() -> None:
    try:
        removed = remove_expired_sessions()
        logger.info("session clean-up removed=%d", removed)
    except OSError as err:
        logger.warning("session clean-up failed: %s", err)
    finally:
        _finish()


def count_session_files() -> int:
    prefix = settings.SESSION_COOKIE_NAME
    with os.scandir(SessionStore._get_storage_path()) as entries:
        return sum(1 for entry in entries if entry.name.startswith(prefix))


def remove_expired_sessions() -> int:
    """Remove the session files that have expired; return how many.

    A file last written more than ``SESSION_COOKIE_AGE`` seconds ago may have expired; Django's own
    loader then decides (it honours a session's own expiry) and removes it if so.
    """
    prefix = settings.SESSION_COOKIE_NAME
    cutoff = time.time() - settings.SESSION_COOKIE_AGE
    removed = 0
    with os.scandir(SessionStore._get_storage_path()) as entries:
        candidates = [
            entry.name[len(prefix):]
            for entry in entries
            if entry.name.startswith(prefix) and _mtime(entry) < cutoff
        ]
    for session_key in candidates:
        session = SessionStore(session_key)
        # An expired session's file is removed on load; do not create a new one in its place.
        session.create = lambda: None  # type: ignore[method-assign]
        session.load()
        if not os.path.exists(session._key_to_file()):
            removed += 1
    return removed


def _mtime(entry: os.DirEntry) -> float:
    try:
        return entry.stat().st_mtime
    except FileNotFoundError:  # removed meanwhile by another worker
        return float("inf")
