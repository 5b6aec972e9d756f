"""DATABASE_URL and REDIS_URL: the PostgreSQL and Redis that several instances share.

The URLs are parsed by the libraries that use them: dj-database-url turns DATABASE_URL into a
DATABASES entry, and redis-py's own parser (the one Django's Redis cache runs on its first call)
reads REDIS_URL once at start-up. What remains here are the checks those parsers leave out (a
missing host, a database path they would ignore, a misspelt connection option), each stopping
start-up with a message that names the variable. The values carry passwords: the messages never
quote them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from redis.connection import parse_url as parse_redis_url

from registerft.env import envstr

POSTGRES_ENGINE = "django.db.backends.postgresql"
# libpq parameters that may follow "?" in DATABASE_URL; anything else is more likely a typo than
# a wish, and libpq would only reject it at the first request.
POSTGRES_QUERY_OPTIONS = frozenset({
    "application_name", "channel_binding", "connect_timeout", "options", "sslcert", "sslcrl",
    "sslkey", "sslmode", "sslrootcert", "target_session_attrs",
})
# Every outbound call has a timeout: a database that does not answer stops a request after a few
# seconds instead of holding a worker until gunicorn kills it.
POSTGRES_CONNECT_TIMEOUT = 5
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _check_postgres_query(name: str, url: str) -> None:
    """dj-database-url drops an option without a value and passes any name on; we refuse both."""
    query = urlsplit(url).query
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a malformed query string after '?'.") from None
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ImproperlyConfigured(f"{name} names a connection option twice after '?'.")
    unknown = sorted(set(keys) - POSTGRES_QUERY_OPTIONS)
    if unknown:
        raise ImproperlyConfigured(
            f"{name} names unknown connection options {', '.join(unknown)}; "
            f"allowed are {', '.join(sorted(POSTGRES_QUERY_OPTIONS))}."
        )


def _socket_folder(url: str) -> str:
    """The host as written, percent-decoded: urllib lowercases host names, and dj-database-url
    with it, but a Unix socket folder (``%2Frun%2FPostgreSQL``) keeps its case."""
    return unquote(urlsplit(url).netloc.rpartition("@")[2])


def parse_database_url(name: str, url: str, **options: Any) -> dict[str, Any]:
    """A Django DATABASES entry for ``postgres://user:password@host:5432/name?sslmode=require``.

    User, password, host and name may be percent-encoded (a password with "@" or "/" in it, or a
    Unix socket folder as the host: ``postgres://portal@%2Frun%2Fpostgresql/registerft``).
    ``options`` go to dj_database_url.parse (conn_max_age, conn_health_checks).
    """
    url = url.strip()
    try:
        entry = dict(dj_database_url.parse(url, **options))
    except dj_database_url.UnknownSchemeError:
        entry = {"ENGINE": None}
    except ValueError:  # dj-database-url's ParseError: its message names no part of the URL
        raise ImproperlyConfigured(
            f"{name} is not a valid URL: check that its port is a number from 1 to 65535, that an [IPv6] "
            "host is closed, and that '@', '/' or ':' in the password are percent-encoded."
        ) from None
    if entry["ENGINE"] != POSTGRES_ENGINE:
        raise ImproperlyConfigured(
            f"{name} must start with postgres:// or postgresql:// (only PostgreSQL is supported)."
        )
    if not entry["HOST"]:
        raise ImproperlyConfigured(f"{name} must name a host, as in postgres://user:password@host:5432/name.")
    if entry["HOST"].startswith("/"):
        entry["HOST"] = _socket_folder(url)
    if not entry["NAME"] or "/" in entry["NAME"]:
        raise ImproperlyConfigured(
            f"{name} must end with one database name, as in postgres://user:password@host:5432/name."
        )
    _check_postgres_query(name, url)
    entry["OPTIONS"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT, **entry.get("OPTIONS", {})}
    return entry


def envdatabaseurl(name: str, **options: Any) -> dict[str, Any] | None:
    """The DATABASES entry described by the variable ``name``, or None when it is unset."""
    value = envstr(name)
    return None if value is None else parse_database_url(name, value, **options)


def check_redis_url(name: str, url: str) -> str:
    """``url`` itself if redis-py can connect with it: redis://[:password@]host[:port][/db],
    rediss:// for TLS, or unix:///path/to/redis.sock[?db=0]."""
    url = url.strip()
    if not url.startswith(REDIS_SCHEMES):
        raise ImproperlyConfigured(f"{name} must start with redis://, rediss:// or unix://.")
    try:
        connection = parse_redis_url(url)
    except ValueError:  # a port that is no number, an unclosed [IPv6] host, a bad option value
        raise ImproperlyConfigured(
            f"{name} is not a valid Redis URL: check that its port is a number from 1 to 65535, that an "
            "[IPv6] host is closed, and the values of its options."
        ) from None
    # redis-py would connect to localhost without a host and ignore a path that is not a number.
    if url.startswith("unix://"):
        if not connection.get("path"):
            raise ImproperlyConfigured(f"{name} must name the socket's path, as in unix:///run/redis/redis.sock.")
        return url
    if not connection.get("host"):
        raise ImproperlyConfigured(f"{name} must name a host, as in redis://host:6379/0.")
    if "db" not in connection and urlsplit(url).path.strip("/"):
        raise ImproperlyConfigured(f"{name} may end only with a database number, as in redis://host:6379/0.")
    return url


def envredisurl(name: str) -> str | None:
    """The variable's Redis URL, checked; None when it is unset."""
    value = envstr(name)
    return None if value is None else check_redis_url(name, value)
