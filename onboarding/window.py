"""The registration window: whether visitors may start registering now.

A rule of the visitor's flow, read from settings alone (REGISTERFT_OPEN_FROM and
REGISTERFT_OPEN_UNTIL); the start page asks it before it creates anything at the issuer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone


class WindowState(enum.StrEnum):
    OPEN = "open"
    NOT_YET_OPEN = "not_yet_open"
    CLOSED = "closed"


@dataclass(frozen=True)
class RegistrationWindow:
    state: WindowState
    opens_at: datetime | None
    closes_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.state == WindowState.OPEN


def registration_window(*, now: datetime | None = None) -> RegistrationWindow:
    """Whether visitors may start registering now (REGISTERFT_OPEN_FROM/REGISTERFT_OPEN_UNTIL)."""
    now = now or timezone.now()
    opens_at, closes_at = settings.REGISTERFT_OPEN_FROM, settings.REGISTERFT_OPEN_UNTIL
    if opens_at is not None and now < opens_at:
        state = WindowState.NOT_YET_OPEN
    elif closes_at is not None and now >= closes_at:
        state = WindowState.CLOSED
    else:
        state = WindowState.OPEN
    return RegistrationWindow(state, opens_at, closes_at)
