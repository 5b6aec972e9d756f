"""The ways the fake agent can misbehave on one operation, for the fault tests.

An operation is what the portal asks for, whichever API it speaks: ``create_invitation``,
``connection_status``, ``offer_credential``, ``credential_status``, ``create_did``,
``forget_credential`` and ``health``.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass


class Fault(enum.StrEnum):
    REFUSE = "refuse"
    TIMEOUT = "timeout"
    SLOW = "slow"
    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    HTTP_401 = "http_401"
    BAD_JSON = "bad_json"
    WRONG_SHAPE = "wrong_shape"
    UNKNOWN_STATE = "unknown_state"


HTML_ERROR = "<html><body><h1>{status}</h1><p>upstream trouble</p></body></html>"


@dataclass(frozen=True)
class BrokenAnswer:
    """What the agent sends instead of its healthy answer."""

    status: int
    body: str
    content_type: str = "application/json"


def broken_answer(fault: Fault | None) -> BrokenAnswer | None:
    """The answer that replaces the healthy one under ``fault``; None when the healthy one goes
    out (perhaps late, perhaps with a state nobody knows)."""
    if fault in (Fault.HTTP_500, Fault.HTTP_502, Fault.HTTP_503, Fault.HTTP_401):
        status = int(fault.value.removeprefix("http_"))
        # A gateway's or a framework's HTML page, not the agent's JSON.
        return BrokenAnswer(status, HTML_ERROR.format(status=status), "text/html")
    if fault == Fault.BAD_JSON:
        return BrokenAnswer(200, '{"state": "active", ')
    if fault == Fault.WRONG_SHAPE:
        return BrokenAnswer(200, json.dumps([{"unexpected": True}]))
    return None


@dataclass(frozen=True)
class Delays:
    """How late a TIMEOUT and a SLOW answer come, from the timeout the portal gives the agent:
    a "timeout" answer well after the portal gave up, a "slow" one well before."""

    hang: float
    slow: float

    @classmethod
    def for_client_timeout(cls, timeout: float) -> Delays:
        return cls(hang=timeout * 3, slow=timeout * 0.4)

    def of(self, fault: Fault | None) -> float:
        if fault == Fault.TIMEOUT:
            return self.hang
        if fault == Fault.SLOW:
            return self.slow
        return 0.0
