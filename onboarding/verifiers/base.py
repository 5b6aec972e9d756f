"""The interface every verifier backend implements, its typed results and its exceptions.

A verifier asks a wallet for a presentation of the event's credential and says what came back.
It speaks to the same agent as the issuer, so its errors are of the issuer's family
(``IssuerError``): the door's services catch one family, and the throttle's "no call slot free"
(``IssuerUnavailable``) is one of them. The verifier judges only what the agent says about the
signatures; the door's rules (the type, the issuer, the id, the expiry, the holder) are the
services' (onboarding/checkin.py).
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from onboarding.issuers.base import IssuerError, IssuerRejected, IssuerTimeout, IssuerUnavailable


class VerifierError(IssuerError):
    """The verifier could not do what was asked."""


class VerifierUnavailable(VerifierError, IssuerUnavailable):
    """The verifier could not be reached, or said it is temporarily unable to answer."""


class VerifierTimeout(VerifierUnavailable, IssuerTimeout):
    """The verifier did not answer in time."""


class VerifierRejected(VerifierError, IssuerRejected):
    """The verifier answered, but not with what its API promises."""


class CannotVerify(VerifierError):
    """This backend has no way to verify a presentation: the door checks by hand only."""


class Answer(enum.StrEnum):
    PENDING = "pending"
    PRESENTED = "presented"
    DECLINED = "declined"


@dataclass(frozen=True)
class ProofRequest:
    """A fresh request the door shows: ``url`` carries it (an out-of-band invitation for
    ACA-Py); ``thread_id`` is the thread a wallet's refusal names."""

    request_id: str
    url: str
    thread_id: str = ""


@dataclass(frozen=True)
class PresentedCredential:
    """The parts of a presented credential the door's rules read."""

    id: str
    types: tuple[str, ...]
    issuer: str
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    # credentialSubject.id: the holder's DID where the credential is bound to one, else "".
    subject_id: str = ""
    subject: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Presentation:
    """What the wallet answered. ``verified`` is the agent's word on every signature; ``holder``
    is the DID that signed the presentation ("" where nothing signed it)."""

    answer: Answer
    verified: bool = False
    credential: PresentedCredential | None = None
    holder: str = ""
    detail: str = ""


class Verifier(abc.ABC):
    """One verifier, as the door's services see it."""

    name: str = ""
    # False where the backend cannot verify at all: the door offers the check by hand only.
    can_verify: bool = True
    # The credential type the door admits.
    credential_type: str = ""
    # Seconds between two questions about one request; None: the door's poll interval.
    check_interval: float | None = None

    @abc.abstractmethod
    def trusted_issuers(self) -> frozenset[str]:
        """The issuers whose credentials the door admits (the portal's own)."""

    @abc.abstractmethod
    def create_request(self, *, label: str) -> ProofRequest: ...

    @abc.abstractmethod
    def presentation(self, *, request_id: str) -> Presentation: ...


class NoVerifier(Verifier):
    """A backend without verification (the original agent REST API): manual check-in only."""

    can_verify = False

    def __init__(self, *, name: str):
        self.name = name

    def trusted_issuers(self) -> frozenset[str]:
        return frozenset()

    def create_request(self, *, label: str) -> ProofRequest:
        raise CannotVerify(f"The {self.name} backend cannot verify a credential")

    def presentation(self, *, request_id: str) -> Presentation:
        raise CannotVerify(f"The {self.name} backend cannot verify a credential")


def parse_moment(value: Any) -> datetime | None:
    """An ISO date-time of a credential ("2026-05-04T09:00:00Z"), or None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
