"""The interface every issuer backend implements, its typed results and its exceptions.

A backend translates one agent's API into these types. Unknown or malformed answers are errors,
never success.
"""

from __future__ import annotations

import abc
import enum
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from onboarding import metrics



class ConnectionState(enum.StrEnum):
    PENDING = "pending"
    CONNECTED = "connected"
    FAILED = "failed"


class Flow(enum.StrEnum):
    """The order of the visitor's steps, which the backend's protocol decides.

    connection-first (DIDComm): a QR code to connect, then the details, then the offer over the
    connection. offer-first (OpenID4VCI): the details, then one QR code carrying the offer itself.
    """

    CONNECTION_FIRST = "connection-first"
    OFFER_FIRST = "offer-first"


class CredentialState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    FAILED = "failed"


@dataclass(frozen=True)
class Invitation:
    """An invitation the wallet can accept.

    ``invitation_id`` is the issuer's handle for the invitation; ``connection_id`` is known at
    once for some agents and only after the wallet answered for others (ACA-Py). ``oob`` is the
    encoded invitation message the URL carries (``invitation_oob``), "" when it carries none.
    """

    invitation_id: str
    url: str
    connection_id: str = ""
    oob: str = ""


def invitation_oob(url: str) -> str:
    """The encoded out-of-band invitation an invitation URL carries in its ``oob`` parameter (or
    ``c_i``, the older connection invitation's); "" when it carries none or is no URL at all.

    The one place that reads an invitation URL: the backends fill ``Invitation.oob`` with it, the
    wallet link and the short link's JSON answer read the stored URL with it."""
    try:
        query = parse_qs(urlsplit(url).query)
    except ValueError:  # an unbalanced "[" in the host, say: nothing a wallet could use
        return ""
    return (query.get("oob") or query.get("c_i") or [""])[0]


@dataclass(frozen=True)
class ConnectionStatus:
    state: ConnectionState
    connection_id: str = ""
    detail: str = ""


@dataclass(frozen=True)
class CredentialOffer:
    """An offer made at the issuer. In the offer-first order ``url`` is the link a wallet opens to
    take the credential (an OpenID4VCI offer, or a page of the portal for the demo) and ``pin`` the
    transaction code the visitor types into the wallet ("" where the issuer uses none); the PIN is
    shown on the page, never put into the QR code."""

    process_id: str
    url: str = ""
    pin: str = ""


def credential_offer_json(url: str) -> dict[str, Any] | None:
    """The OpenID4VCI credential offer a link carries by value (``credential_offer=<JSON>``); None
    when it carries none. The one place that reads an offer link."""
    try:
        values = parse_qs(urlsplit(url).query).get("credential_offer")
    except ValueError:
        return None
    if not values:
        return None
    return json_object(values[0])


def json_object(text: str | bytes) -> dict[str, Any] | None:
    """The JSON object ``text`` holds; None when it holds something else or no JSON at all."""
    try:
        found = json.loads(text)
    except (ValueError, RecursionError):
        # RecursionError: nesting deep enough to exhaust the parser fits in a small text, and is
        # not a ValueError.
        return None
    return found if isinstance(found, dict) else None


@dataclass(frozen=True)
class CredentialStatus:
    state: CredentialState
    detail: str = ""


@dataclass(frozen=True)
class IssuerHealth:
    backend: str
    reachable: bool
    version: str = ""
    seconds: float = 0.0
    detail: str = ""
    settings: dict[str, str] = field(default_factory=dict)


class IssuerError(Exception):
    """The issuer could not do what was asked. ``status`` is what the visitor's page answers."""

    status = 502

    def __init__(self, message: str, *, http_status: int | None = None, body: str = ""):
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.body = body[:200]

    def __str__(self) -> str:
        # What goes into log lines: never the body, which may echo a visitor's details (an
        # exchange record holds the credential's attributes).
        if self.http_status is None:
            return self.message
        return f"{self.message} (HTTP {self.http_status})"

    def detail(self) -> str:
        """``str(self)`` with a snippet of the issuer's answer, for an admin's health check only."""
        return f"{self} body: {self.body!r}" if self.body else str(self)


class IssuerUnavailable(IssuerError):
    """The issuer could not be reached, or said it is temporarily unable to answer."""

    status = 503


class IssuerTimeout(IssuerUnavailable):
    """The issuer did not answer in time."""

    status = 504


class IssuerRejected(IssuerError):
    """The issuer answered, but not with what the API promises (4xx, bad JSON, wrong shape)."""

    status = 502


class Issuer(abc.ABC):
    """One issuer agent, as the portal's services see it."""

    name: str = ""
    # True where the agent pushes state changes to the portal (webhooks), so that the portal asks
    # the agent itself only as a fallback.
    pushes_state: bool = False
    # Seconds between two state checks of one registration; None takes the setting.
    check_interval: float | None = None
    # The order of the visitor's steps (``Flow``). An offer-first backend is asked only for
    # ``offer_credential`` (with no connection), ``credential_status`` and ``health``.
    flow: Flow = Flow.CONNECTION_FIRST

    @abc.abstractmethod
    def create_invitation(self, *, label: str) -> Invitation: ...

    @abc.abstractmethod
    def connection_status(self, *, invitation_id: str, connection_id: str) -> ConnectionStatus: ...

    @abc.abstractmethod
    def offer_credential(
        self, *, connection_id: str, attributes: dict[str, str], reference: str
    ) -> CredentialOffer: ...

    @abc.abstractmethod
    def credential_status(self, *, process_id: str) -> CredentialStatus: ...

    @abc.abstractmethod
    def health(self) -> IssuerHealth: ...

    def forget_credential(self, *, process_id: str) -> bool:
        """Delete the agent's record of an offer (it holds the visitor's details), for the
        retention period and a person's request to be forgotten. False where the agent's API has
        no such call; raises ``IssuerError`` when the agent could not do it."""
        return False

    def revoke_credential(self, *, process_id: str) -> bool:
        """Revoke an issued credential (a registration withdrawn). False where the agent's API
        has no such call; raises ``IssuerError`` when the agent could not do it."""
        return False


class HttpTransport:
    """One ``requests`` session, one timeout, one error family: the transport every backend that
    speaks HTTP shares (issuers here, the door's verifiers too). A subclass names its party and
    its exception family; log lines and metrics carry the operation and its outcome only."""

    user_agent = "registerft"
    name = ""
    party = "issuer"
    timeout_error: type[IssuerError] = IssuerTimeout
    unavailable_error: type[IssuerError] = IssuerUnavailable
    rejected_error: type[IssuerError] = IssuerRejected

    def __init__(self, *, timeout: float, headers: dict[str, str] | None = None):
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = self.user_agent
        self.session.headers["Accept"] = "application/json"
        if headers:
            self.session.headers.update(headers)
        # What requests reads from the environment on every call (proxies and NO_PROXY, a CA bundle,
        # ~/.netrc) is read once per agent address instead: a tenth of the start page's CPU time
        # went to it. The agents authenticate with their API keys, never with netrc.
        self.session.trust_env = False
        self._environment: dict[str, dict[str, Any]] = {}

    def environment_for(self, url: str) -> dict[str, Any]:
        """The proxies (none where NO_PROXY says so) and the CA bundle requests takes from the
        environment for ``url``'s address, read once."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        found = self._environment.get(origin)
        if found is None:
            merged = requests.Session().merge_environment_settings(origin, {}, None, None, None)
            found = self._environment[origin] = {"proxies": merged["proxies"], "verify": merged["verify"]}
        return found

    def request(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        json: Any = None,
        params: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> Any:
        """Send one request and return its parsed JSON body, or raise the party's error.

        The bound on calls in flight is the caller's (onboarding/throttle.py): the flow's calls
        hold a call slot, the health check none, so that a busy agent can be told from a dead one."""
        party = self.party
        started = time.monotonic()
        outcome = "error"
        try:
            try:
                response = self.session.request(method, url, json=json, params=params, timeout=self.timeout,
                                                **self.environment_for(url))
            except requests.Timeout as err:
                outcome = "timeout"
                raise self.timeout_error(f"The {party} did not answer {operation} in time") from err
            except requests.RequestException as err:
                outcome = "unreachable"
                raise self.unavailable_error(f"The {party} could not be reached for {operation}") from err
            if response.status_code not in ok:
                outcome = f"http_{response.status_code}"
                error_class = self.unavailable_error if response.status_code in (502, 503, 504) else self.rejected_error
                raise error_class(
                    f"The {party} refused {operation}", http_status=response.status_code, body=response.text
                )
            try:
                data = response.json()
            except ValueError as err:
                outcome = "bad_json"
                raise self.rejected_error(
                    f"The {party}'s answer to {operation} is not JSON",
                    http_status=response.status_code,
                    body=response.text,
                ) from err
            outcome = "ok"
            return data
        finally:
            # Only the operation and its outcome: never a URL's query or a body, which may carry
            # a visitor's details.
            seconds = time.monotonic() - started
            logging.getLogger(f"onboarding.{party}").info(
                "%s call backend=%s operation=%s outcome=%s duration_ms=%.0f",
                party, self.name, operation, outcome, seconds * 1000,
            )
            metrics.issuer_call_observed(backend=self.name, operation=operation, outcome=outcome, seconds=seconds)


class HttpIssuer(HttpTransport, Issuer):
    """Base for issuer backends that speak HTTP."""


def require(data: Any, key: str, operation: str) -> str:
    """A non-empty string field of a JSON object, or ``IssuerRejected``."""
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise IssuerRejected(f"The issuer's answer to {operation} has no {key}", body=str(data))
    return value
