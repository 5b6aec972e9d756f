"""Small helpers that read settings from the environment.

Each helper names the variable in its error, so a bad value stops start-up with a message an
operator can act on. They need nothing of Django but its exception, so that gunicorn.conf.py reads
its own variables with them before Django is set up.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlsplit

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


def envurlpath(name: str, default: str) -> str:
    """A URL path such as ``staff/admin/`` (letters, digits, ``-``, ``_`` and ``/``; ends with
    ``/``), or ``""`` for ``off``."""
    value = (os.environ.get(name) or default).strip()
    if value.lower() == "off":
        return ""
    path = value.strip("/")
    if not re.fullmatch(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*", path):
        raise ImproperlyConfigured(f"{name} must be a path such as staff/admin/ or off, not {value!r}.")
    return path + "/"


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


def envjson(name: str) -> Any:
    """The variable's value parsed as JSON, or None when it is unset or empty."""
    raw = envstr(name)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise ImproperlyConfigured(f"{name} is not valid JSON: {err}") from None


ISSUER_BACKENDS = ("demo", "agent-rest", "acapy", "swiyu")


def envissuers() -> tuple[tuple[str, ...], bool, bool]:
    """The issuer backends: ``REGISTERFT_ISSUERS``, comma-separated, in the order the visitor's
    choice shows them; its old name ``REGISTERFT_ISSUER`` (one backend) still works, and the checks
    warn about it (onboarding.W002). Returns the names, whether the operator named them (the demo
    issuer is the default), and whether the old name did."""
    new, old = os.environ.get("REGISTERFT_ISSUERS"), os.environ.get("REGISTERFT_ISSUER")
    if new is not None and old is not None:
        raise ImproperlyConfigured("REGISTERFT_ISSUER is the old name of REGISTERFT_ISSUERS: set only REGISTERFT_ISSUERS.")
    name, value = ("REGISTERFT_ISSUERS", new) if old is None else ("REGISTERFT_ISSUER", old)
    if value is None or not value.strip():
        return ("demo",), False, False
    names = tuple(item.strip() for item in value.split(",") if item.strip())
    for item in names:
        if item not in ISSUER_BACKENDS:
            raise ImproperlyConfigured(f"{name} must name backends of {', '.join(ISSUER_BACKENDS)}, not {item!r}.")
    if len(set(names)) != len(names):
        raise ImproperlyConfigured(f"{name} names a backend twice: {value!r}.")
    if old is not None and len(names) > 1:
        raise ImproperlyConfigured("REGISTERFT_ISSUER names one backend: set REGISTERFT_ISSUERS for several.")
    return names, True, old is not None


def require(values: Mapping[str, object], *, when: str) -> None:
    """Stop start-up at the first of ``values`` (variable name: its setting) that is empty."""
    for name, value in values.items():
        if not value:
            raise ImproperlyConfigured(f"{name} must be set when {when}.")


# --- Read alike by the settings and gunicorn.conf.py ---------------------------------------------


def issuer_timeout() -> float:
    """Seconds after which every call to the issuer gives up; gunicorn's worker timeout must outlast
    two of them."""
    return envfloat("REGISTERFT_ISSUER_TIMEOUT", 10.0, minimum=0.1)


def log_format() -> str:
    """text: one line per event; json: one object per line, for the portal's lines and gunicorn's."""
    return envchoice("REGISTERFT_LOG_FORMAT", "text", ("text", "json"))
