"""swiyu's generic issuer (swiyu-admin-ch/swiyu-issuer), driven through its management API.

OpenID4VCI has no connection: the offer carries the visitor's details, so this backend runs the
offer-first order. ``POST /management/api/credentials`` makes the offer (its management id, the
``offer_deeplink`` a wallet opens and, where asked for, the ``tx_code``), ``GET .../{id}/status``
says how far it got, and ``PATCH .../{id}/status?credentialStatus=...`` cancels an offer or
revokes an issued credential. The issuer posts status changes to the portal's webhook; the
portal asks it itself only as a fallback. The management API sits behind the operator's gateway:
a fixed bearer token, or one fetched with OAuth2 client credentials (docs/swiyu.md).

The field and status names are those of swiyu's published OpenAPI description; the tests list
them (tests/unit/test_swiyu_names.py).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from django.conf import settings

from onboarding.issuers.base import (
    ConnectionStatus,
    CredentialOffer,
    CredentialState,
    CredentialStatus,
    Flow,
    HttpIssuer,
    IssuerError,
    IssuerHealth,
    IssuerRejected,
    IssuerTimeout,
    IssuerUnavailable,
    Invitation,
    require,
)

logger = logging.getLogger("onboarding.issuer")

# CredentialStatusType: what each status means for the visitor's flow. An offer that expired or
# was cancelled never counts as success; a credential revoked or suspended is no success either.
STATUSES: dict[str, CredentialState] = {
    "INIT": CredentialState.PENDING,
    "OFFERED": CredentialState.PENDING,
    "IN_PROGRESS": CredentialState.PENDING,
    "DEFERRED": CredentialState.PENDING,
    "READY": CredentialState.PENDING,
    "REQUESTED": CredentialState.PENDING,
    "ISSUED": CredentialState.ACCEPTED,
    "CANCELLED": CredentialState.FAILED,
    "EXPIRED": CredentialState.FAILED,
    "SUSPENDED": CredentialState.FAILED,
    "REVOKED": CredentialState.FAILED,
}
# Withdrawing a registration: an issued credential is revoked, an offer not yet taken cancelled.
REVOKE_WHEN_ISSUED = ("ISSUED", "SUSPENDED")
FINAL = ("CANCELLED", "EXPIRED", "REVOKED")


def credential_state(status: Any) -> CredentialState:
    """The flow's reading of a swiyu status; an unknown one is an error, never success."""
    if not isinstance(status, str) or status not in STATUSES:
        raise IssuerRejected("The issuer answered with an unknown credential status", body=str(status)[:50])
    return STATUSES[status]


@dataclass
class _Token:
    value: str
    until: float


class ClientCredentials:
    """An OAuth2 access token by the client-credentials grant, kept until shortly before it
    expires (per process: each worker fetches its own)."""

    MARGIN_SECONDS = 30

    def __init__(self, *, token_url: str, client_id: str, client_secret: str, scope: str, timeout: float):
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.scope, self.timeout = scope, timeout
        self._token: _Token | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._token.until:
                self._token = self._fetch()
            return self._token.value

    def forget(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self) -> _Token:
        form = {"grant_type": "client_credentials"} | ({"scope": self.scope} if self.scope else {})
        try:
            response = requests.post(
                self.token_url, data=form, auth=(self.client_id, self.client_secret), timeout=self.timeout,
                headers={"Accept": "application/json"},
            )
        except requests.Timeout as err:
            raise IssuerTimeout("The issuer's token endpoint did not answer in time") from err
        except requests.RequestException as err:
            raise IssuerUnavailable("The issuer's token endpoint could not be reached") from err
        if response.status_code != 200:
            error = IssuerUnavailable if response.status_code >= 500 else IssuerRejected
            raise error("The issuer's token endpoint refused the portal", http_status=response.status_code)
        try:
            data = response.json()
        except ValueError as err:
            raise IssuerRejected("The issuer's token endpoint did not answer JSON") from err
        value = require(data, "access_token", "token")
        lifetime = data.get("expires_in") if isinstance(data.get("expires_in"), int) else 300
        return _Token(value, time.monotonic() + max(lifetime - self.MARGIN_SECONDS, 1))


class SwiyuIssuer(HttpIssuer):
    name = "swiyu"
    flow = Flow.OFFER_FIRST
    pushes_state = True
    user_agent = "registerft (swiyu)"

    def __init__(
        self, *, management_url: str, credential_configuration_id: str, timeout: float, offer_seconds: int,
        bearer_token: str = "", oauth: ClientCredentials | None = None, status_lists: list[str] | None = None,
        use_pin: bool = False, valid_until: datetime | None = None,
    ):
        super().__init__(timeout=timeout)
        self.base = management_url.rstrip("/")
        self.configuration_id = credential_configuration_id
        self.offer_seconds = offer_seconds
        self.bearer_token, self.oauth = bearer_token, oauth
        self.status_lists = list(status_lists or [])
        self.use_pin, self.valid_until = use_pin, valid_until

    @classmethod
    def from_settings(cls) -> SwiyuIssuer:
        oauth = None
        if settings.SWIYU_OAUTH_TOKEN_URL:
            oauth = ClientCredentials(
                token_url=settings.SWIYU_OAUTH_TOKEN_URL, client_id=settings.SWIYU_OAUTH_CLIENT_ID,
                client_secret=settings.SWIYU_OAUTH_CLIENT_SECRET, scope=settings.SWIYU_OAUTH_SCOPE,
                timeout=settings.REGISTERFT_ISSUER_TIMEOUT,
            )
        return cls(
            management_url=settings.SWIYU_MANAGEMENT_URL,
            credential_configuration_id=settings.SWIYU_CREDENTIAL_CONFIGURATION_ID,
            timeout=settings.REGISTERFT_ISSUER_TIMEOUT, offer_seconds=settings.REGISTERFT_OFFER_TTL,
            bearer_token=settings.SWIYU_BEARER_TOKEN, oauth=oauth, status_lists=settings.SWIYU_STATUS_LISTS,
            use_pin=settings.SWIYU_USE_PIN, valid_until=settings.REGISTERFT_CREDENTIAL_VALID_UNTIL,
        )

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        """Every call carries the gateway's bearer token; a token the gateway no longer takes
        (401) is fetched again once."""
        self._authorise()
        try:
            return super().request(method, url, **kwargs)
        except IssuerRejected as err:
            if err.http_status != 401 or self.oauth is None:
                raise
            self.oauth.forget()
            self._authorise()
            return super().request(method, url, **kwargs)

    def _authorise(self) -> None:
        token = self.oauth.token() if self.oauth is not None else self.bearer_token
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _credentials(self, path: str = "") -> str:
        return f"{self.base}/management/api/credentials{path}"

    # --- No connection in OpenID4VCI ------------------------------------------------------------

    def create_invitation(self, *, label: str) -> Invitation:
        raise IssuerRejected("OpenID4VCI has no connection step: swiyu's issuer runs the offer-first order")

    def connection_status(self, *, invitation_id: str, connection_id: str) -> ConnectionStatus:
        raise IssuerRejected("OpenID4VCI has no connection step: swiyu's issuer runs the offer-first order")

    # --- The offer --------------------------------------------------------------------------------

    def offer_payload(self, attributes: dict[str, str]) -> dict[str, Any]:
        """CreateCredentialOfferRequest: the subject's data, how long the offer may be taken and
        how long the credential is valid."""
        payload: dict[str, Any] = {
            "metadata_credential_supported_id": [self.configuration_id],
            "credential_subject_data": dict(attributes),
            "offer_validity_seconds": self.offer_seconds,
        }
        if self.valid_until is not None:
            payload["credential_valid_until"] = self.valid_until.isoformat()
        if self.status_lists:
            payload["status_lists"] = self.status_lists
        if self.use_pin:
            payload["tx_code_config"] = {"use_tx_code": True}
        return payload

    def offer_credential(self, *, connection_id: str, attributes: dict[str, str], reference: str) -> CredentialOffer:
        data = self.request("POST", self._credentials(), operation="offer_credential", json=self.offer_payload(attributes))
        management_id = require(data, "management_id", "offer_credential")
        deeplink = require(data, "offer_deeplink", "offer_credential")
        pin = data.get("tx_code") or ""
        if not isinstance(pin, str) or (self.use_pin and not pin):
            raise IssuerRejected("The issuer's offer has no usable tx_code", body=str(data.keys()))
        return CredentialOffer(process_id=management_id, url=deeplink, pin=pin)

    def status(self, process_id: str) -> str:
        data = self.request("GET", self._credentials(f"/{process_id}/status"), operation="credential_status")
        status = data.get("status") if isinstance(data, dict) else None
        credential_state(status)
        return str(status)

    def credential_status(self, *, process_id: str) -> CredentialStatus:
        status = self.status(process_id)
        return CredentialStatus(credential_state(status), detail=status)

    def revoke_credential(self, *, process_id: str) -> bool:
        """Withdrawn: revoke the credential if it was issued, cancel the offer if not yet."""
        status = self.status(process_id)
        if status in FINAL:
            return False
        target = "REVOKED" if status in REVOKE_WHEN_ISSUED else "CANCELLED"
        self.request(
            "PATCH", self._credentials(f"/{process_id}/status"), operation="revoke_credential",
            params={"credentialStatus": target},
        )
        return True

    def health(self) -> IssuerHealth:
        started = time.monotonic()
        shown = {"SWIYU_MANAGEMENT_URL": self.base, "SWIYU_CREDENTIAL_CONFIGURATION_ID": self.configuration_id}
        try:
            self.request("GET", f"{self.base}/actuator/health", operation="health")
        except IssuerError as err:
            return IssuerHealth(self.name, False, seconds=time.monotonic() - started, detail=err.detail(), settings=shown)
        return IssuerHealth(self.name, True, seconds=time.monotonic() - started, settings=shown)
