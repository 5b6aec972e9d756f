"""Rate limits on what costs the issuer work: new invitations and credential offers.

Each action is limited per visitor's session and, more generously, per client address (a venue's
network can put hundreds of visitors behind one address). The counters are rows in the database,
counted in fixed windows with an atomic UPDATE, so every gunicorn worker and every instance sees
the same numbers; the default cache is per process and would not.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from enum import Enum

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import ngettext

from onboarding import services
from onboarding.models import RateCounter, Registration

logger = logging.getLogger("onboarding.limits")

# A random name for the visitor's session that survives a session key change (cycle_key keeps
# the data): "start again" or a committed form must not reset the visitor's counters.
SESSION_IDENTITY_KEY = "registerft_limits"


class Action(str, Enum):
    INVITATION = "invitation"
    OFFER = "offer"


# The settings holding each action's (count, seconds) rate, per session and per address.
RATE_SETTINGS: dict[Action, tuple[str, str]] = {
    Action.INVITATION: ("REGISTERFT_RATE_INVITATIONS_PER_SESSION", "REGISTERFT_RATE_INVITATIONS_PER_ADDRESS"),
    Action.OFFER: ("REGISTERFT_RATE_OFFERS_PER_SESSION", "REGISTERFT_RATE_OFFERS_PER_ADDRESS"),
}


@dataclass(frozen=True)
class Limited:
    """A refused attempt, and how many seconds until its window ends."""

    retry_after: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


# --- Counting ---------------------------------------------------------------------------------


def _window(seconds: int, now: datetime) -> tuple[datetime, datetime]:
    epoch = int(now.timestamp())
    start = datetime.fromtimestamp(epoch - epoch % seconds, tz=dt_timezone.utc)
    return start, start + timedelta(seconds=seconds)


def _increment(key: str, window_start: datetime, expires_at: datetime, now: datetime) -> int:
    counter = RateCounter.objects.filter(key=key, window_start=window_start)
    if counter.update(count=F("count") + 1):
        return counter.values_list("count", flat=True).get()
    try:
        with transaction.atomic():
            RateCounter.objects.create(key=key, window_start=window_start, expires_at=expires_at, count=1)
    except IntegrityError:
        # Another worker opened the window between our UPDATE and INSERT: count on its row.
        counter.update(count=F("count") + 1)
        return counter.values_list("count", flat=True).get()
    # A new window is a good moment to drop finished ones; it happens once per key and window.
    RateCounter.objects.filter(expires_at__lte=now).delete()
    return 1


def rate_hit(*, key: str, rate: tuple[int, int] | None, now: datetime | None = None) -> Limited | None:
    """Count one attempt for ``key``; a ``Limited`` when it goes over ``rate`` (count, seconds)."""
    if rate is None:
        return None
    limit, seconds = rate
    now = now or timezone.now()
    window_start, expires_at = _window(seconds, now)
    with transaction.atomic():
        count = _increment(key, window_start, expires_at, now)
    if count <= limit:
        return None
    return Limited(retry_after=max(1, math.ceil((expires_at - now).total_seconds())))


# --- Who is asking ------------------------------------------------------------------------------


def _parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("["):  # [v6]:port
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    """The address the limits count the request against.

    REMOTE_ADDR, unless trusted proxies are configured: then the address the outermost of them
    saw, counted from the right of their header (what a client writes further left is ignored).
    An IPv6 client counts as its /64, which one device can otherwise rotate through at will.
    """
    raw = request.META.get("REMOTE_ADDR", "")
    header = settings.REGISTERFT_CLIENT_IP_HEADER
    if header:
        hops = [hop.strip() for hop in request.headers.get(header, "").split(",") if hop.strip()]
        if len(hops) >= settings.REGISTERFT_TRUSTED_PROXY_COUNT:
            raw = hops[-settings.REGISTERFT_TRUSTED_PROXY_COUNT]
    address = _parse_address(raw)
    if address is None:
        return "unknown"
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def session_identity(session: SessionBase) -> str:
    identity = session.get(SESSION_IDENTITY_KEY)
    if not isinstance(identity, str) or not identity:
        identity = secrets.token_urlsafe(16)
        session[SESSION_IDENTITY_KEY] = identity
    return identity


# --- What the views call ------------------------------------------------------------------------


def request_limited(*, request: HttpRequest, action: Action) -> Limited | None:
    """Count one attempt at ``action`` for the visitor's session, then for their address.

    A session over its limit is refused without touching the address's counter, so one noisy
    visitor does not use up the allowance of everyone behind the same address.
    """
    session_setting, address_setting = RATE_SETTINGS[action]
    limited = rate_hit(
        key=f"{action.value}:session:{session_identity(request.session)}",
        rate=getattr(settings, session_setting),
    )
    scope = "session"
    if limited is None:
        limited = rate_hit(
            key=f"{action.value}:address:{client_address(request)}", rate=getattr(settings, address_setting)
        )
        scope = "address"
    if limited is not None:
        # The address is left out of the log on purpose: it is the visitor's, and the scope and
        # the action say enough to tune the rates.
        logger.warning(
            "rate limit reached action=%s scope=%s retry_after=%ss", action.value, scope, limited.retry_after
        )
    return limited


def invitation_limited(*, request: HttpRequest) -> Limited | None:
    """Count a visit to the start page only when it will create a new invitation: a reload that
    reuses the session's valid invitation is free (the same rule as ``registration_start``)."""
    registration = services.registration_for_session(request.session)
    if registration is not None:
        registration = services.registration_expire(registration=registration)
        if registration.state != Registration.State.FAILED:
            return None
    return request_limited(request=request, action=Action.INVITATION)


def limited_message(limited: Limited) -> str:
    return ngettext(
        "There have been too many attempts. Please wait about a minute and try again.",
        "There have been too many attempts. Please wait about %(minutes)d minutes and try again.",
        limited.minutes,
    ) % {"minutes": limited.minutes}


def with_retry_after(response: HttpResponse, limited: Limited) -> HttpResponse:
    response["Retry-After"] = str(limited.retry_after)
    return response


def rate_limited_response(request: HttpRequest, limited: Limited) -> HttpResponse:
    response = TemplateResponse(
        request, "onboarding/rate_limited.html", {"message": limited_message(limited)}, status=429
    )
    return with_retry_after(response, limited)
