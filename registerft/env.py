"""Small helpers that read settings from the environment.

Each helper names the variable in its error, so a bad value stops start-up with a message an
operator can act on.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def envstr(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"The environment variable {name} must be set.")
        return default
    return value


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), not {value!r}.")


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    return number


def envfloat(name: str, default: float, *, minimum: float | None = None) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None
    if not math.isfinite(number):
        raise ImproperlyConfigured(f"{name} must be a finite number, not {value!r}.")
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    return number


def envlist(name: str, default: Iterable[str] = ()) -> list[str]:
    """A comma-separated list; blanks around items are dropped, as are empty items."""
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def envurl(name: str) -> str:
    """An http(s) URL with a host, without its trailing slash; empty when unset."""
    value = (os.environ.get(name) or "").strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL such as https://host.example.org, not {value!r}.")
    return value


def envorigins(name: str) -> list[str]:
    """A comma-separated list of origins (scheme, host and port, no path); no wildcard."""
    origins = envlist(name)
    for origin in origins:
        parts = urlsplit(origin)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or "*" in origin
            or parts.path not in ("", "/")
            or parts.query
        ):
            raise ImproperlyConfigured(
                f"{name} must list origins such as https://events.example.org (no '*', no path), not {origin!r}."
            )
    return [origin.rstrip("/") for origin in origins]


def envmapping(name: str) -> dict[str, str]:
    """A comma-separated list of ``key=value`` pairs."""
    mapping = {}
    for item in envlist(name):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ImproperlyConfigured(f"{name} must be a list of name=value pairs, not {item!r}.")
        mapping[key.strip()] = value.strip()
    return mapping


def contrast_with_white(colour: str) -> float:
    """WCAG 2.1 contrast ratio of white against ``#rrggbb``."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(colour[index:index + 2], 16) for index in (1, 3, 5))
    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return 1.05 / (luminance + 0.05)


def envcolour(name: str, default: str) -> str:
    """A colour ``#rrggbb`` that white text is readable on (WCAG AA for normal text, 4.5:1)."""
    value = (os.environ.get(name) or "").strip() or default
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ImproperlyConfigured(f"{name} must be a colour written #rrggbb, not {value!r}.")
    ratio = contrast_with_white(value)
    if ratio < 4.5:
        raise ImproperlyConfigured(
            f"{name}: white text on {value} has a contrast of {ratio:.2f}:1; WCAG AA needs 4.5:1. Choose a darker colour."
        )
    return value


def envchoice(name: str, default: str, choices: Iterable[str]) -> str:
    allowed = tuple(choices)
    value = (os.environ.get(name) or default).strip()
    if value not in allowed:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


RATE_UNITS = {"s": 1, "m": 60, "h": 3600}


def envrate(name: str, default: str) -> tuple[int, int] | None:
    """A rate such as ``10/10m`` (10 per 10 minutes), ``300/1m`` or ``5/600`` (seconds), as
    (count, seconds); ``off`` turns the limit off (None)."""
    raw = (os.environ.get(name) or default).strip().lower()
    if raw == "off":
        return None
    count, _, period = raw.partition("/")
    unit = RATE_UNITS.get(period[-1:], None)
    digits = period[:-1] if unit else period
    try:
        number, seconds = int(count), int(digits or "1") * (unit or 1)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must look like 10/10m, 300/1m or off, not {raw!r}.") from None
    if number < 1 or seconds < 1 or not period:
        raise ImproperlyConfigured(f"{name} needs a count and a period of at least 1, not {raw!r}.")
    return number, seconds


def envdatetime(name: str, *, tz: tzinfo) -> datetime | None:
    """An ISO 8601 date-time such as ``2026-05-04T09:00`` (in ``tz`` unless it names its own zone,
    e.g. ``2026-05-04T09:00+02:00``), or None when unset."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be an ISO date-time such as 2026-05-04T09:00 or 2026-05-04T09:00+02:00, not {value!r}."
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


# --- Shared services for several instances: DATABASE_URL and REDIS_URL -------------------------
# Their values carry passwords, so the errors below name the variable but never quote the value.

POSTGRES_SCHEMES = frozenset({"postgres", "postgresql"})
# libpq parameters that may follow "?" in DATABASE_URL; anything else is more likely a typo than
# a wish, and libpq would only reject it at the first request.
POSTGRES_QUERY_OPTIONS = frozenset({
    "application_name", "channel_binding", "connect_timeout", "options", "sslcert", "sslcrl",
    "sslkey", "sslmode", "sslrootcert", "target_session_attrs",
})
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


def _split_host_port(name: str, hostport: str) -> tuple[str, str]:
    """``host``, ``host:5432`` or ``[::1]:5432`` as (host, port); the port may be empty."""
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ImproperlyConfigured(f"{name} has a malformed [IPv6] host.")
        port = rest[1:]
    else:
        host, _, port = hostport.partition(":")
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ImproperlyConfigured(f"{name} has a port that is not a number from 1 to 65535.")
    return unquote(host), port


def _postgres_options(name: str, query: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a malformed query string after '?'.") from None
    options = dict(pairs)
    unknown = sorted(set(options) - POSTGRES_QUERY_OPTIONS)
    if unknown:
        raise ImproperlyConfigured(
            f"{name} names unknown connection options {', '.join(unknown)}; "
            f"allowed are {', '.join(sorted(POSTGRES_QUERY_OPTIONS))}."
        )
    # Every outbound call has a timeout: a database that does not answer stops a request after
    # a few seconds instead of holding a worker until gunicorn kills it.
    options.setdefault("connect_timeout", "5")
    return options


def _urlsplit(name: str, url: str) -> SplitResult:
    try:
        return urlsplit(url.strip())
    except ValueError:  # an unbalanced "[" in the host, for one
        raise ImproperlyConfigured(f"{name} is not a valid URL.") from None


def parse_database_url(name: str, url: str) -> dict[str, Any]:
    """A Django DATABASES entry for ``postgres://user:password@host:5432/name?sslmode=require``.

    User, password, host and name may be percent-encoded (a password with "@" or "/" in it, or a
    Unix socket folder as the host: ``postgres://portal@%2Frun%2Fpostgresql/registerft``).
    """
    parts = _urlsplit(name, url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must start with postgres:// or postgresql:// (only PostgreSQL is supported)."
        )
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    host, port = _split_host_port(name, hostport)
    database = unquote(parts.path[1:])
    if not host:
        raise ImproperlyConfigured(f"{name} must name a host, as in postgres://user:password@host:5432/name.")
    if not database or "/" in database:
        raise ImproperlyConfigured(
            f"{name} must end with one database name, as in postgres://user:password@host:5432/name."
        )
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": database,
        "USER": unquote(user),
        "PASSWORD": unquote(password),
        "HOST": host,
        "PORT": port,
        "OPTIONS": _postgres_options(name, parts.query),
    }


def envdatabaseurl(name: str) -> dict[str, Any] | None:
    """The DATABASES entry described by the variable ``name``, or None when it is unset."""
    value = envstr(name)
    return None if value is None else parse_database_url(name, value)


def check_redis_url(name: str, url: str) -> str:
    """``url`` itself if redis-py can connect with it: redis://[:password@]host[:port][/db],
    rediss:// for TLS, or unix:///path/to/redis.sock[?db=0]."""
    url = url.strip()
    parts = _urlsplit(name, url)
    if parts.scheme not in REDIS_SCHEMES:
        raise ImproperlyConfigured(f"{name} must start with redis://, rediss:// or unix://.")
    if parts.scheme == "unix":
        if not parts.path:
            raise ImproperlyConfigured(f"{name} must name the socket's path, as in unix:///run/redis/redis.sock.")
        return url
    host, _ = _split_host_port(name, parts.netloc.rpartition("@")[2])
    if not host:
        raise ImproperlyConfigured(f"{name} must name a host, as in redis://host:6379/0.")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ImproperlyConfigured(f"{name} may end only with a database number, as in redis://host:6379/0.")
    return url


def envredisurl(name: str) -> str | None:
    value = envstr(name)
    return None if value is None else check_redis_url(name, value)
