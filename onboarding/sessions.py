"""File-based sessions that clean up after themselves.

Django's file backend never removes an expired session file by itself. This store counts the
files at most once per ``REGISTERFT_SESSION_CLEANUP_INTERVAL`` seconds per process and, once there
are more than ``REGISTERFT_SESSION_CLEANUP_THRESHOLD``, removes the expired ones in a background
thread, so that no visitor's request waits for it. Only expired sessions are removed: a visitor in
the middle of the flow never loses theirs.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.contrib.sessions.backends.file import SessionStore as FileSessionStore

logger = logging.getLogger("onboarding.sessions")

_lock = threading.Lock()
_last_check = 0.0
_cleaning = False


class SessionStore(FileSessionStore):
    def save(self, must_create: bool = False) -> None:
        super().save(must_create=must_create)
        maybe_clean_up()


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
