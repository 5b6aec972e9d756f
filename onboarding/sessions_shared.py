"""SESSION_ENGINE with REDIS_URL: Django's cached_db sessions (read from Redis, written to Redis and
the database) that forward an old key to the new one for a while, as the file sessions do
(onboarding/sessions.py)."""

from onboarding.sessions import SharedSessionStore as SessionStore

__all__ = ["SessionStore"]
