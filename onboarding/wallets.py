"""The visitor's kind of wallet, where the portal runs several issuer backends (``REGISTERFT_ISSUERS``).

Each backend serves one kind of wallet (ACA-Py: DIDComm wallets; swiyu: OpenID4VCI wallets), and
each runs its own order of steps. The visitor chooses on the start page; the choice is kept in the
session until a registration records its backend. A visitor may choose the other kind as long as
nothing was created at the issuer: no registration yet, or details saved whose offer is not made.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from onboarding import throttle
from onboarding.issuers import issuer_names
from onboarding.models import Registration
from onboarding.selectors import CHOICE_SESSION_KEY, SESSION_KEY, registration_for_session

logger = logging.getLogger("onboarding.flow")

DIDCOMM = {
    "name": _("DIDComm wallet"),
    "description": _("For example BC Wallet or Lissi Wallet: you connect the wallet to the event first, then it receives your credential."),
    "icon": "onboarding/img/wallet-didcomm.svg",
}
OPENID = {
    "name": _("swiyu or another OpenID wallet"),
    "description": _("For example swiyu, the Swiss e-ID wallet: you enter your details first, then scan one QR code that brings your credential."),
    "icon": "onboarding/img/wallet-openid.svg",
}
DEMO = {
    "name": _("Demo wallet"),
    "description": _("No app needed: a demo wallet opens in your browser."),
    "icon": "onboarding/img/wallet-didcomm.svg",
}
# What the choice shows for each backend unless REGISTERFT_WALLET_CHOICES says otherwise.
DEFAULT_CHOICES: dict[str, dict[str, Any]] = {"acapy": DIDCOMM, "agent-rest": DIDCOMM, "swiyu": OPENID, "demo": DEMO}


@dataclass(frozen=True)
class WalletChoice:
    """One kind of wallet as the visitor sees it: its name, a line about it, an icon (a URL of the
    portal's own origin) and where to read which apps are of this kind."""

    backend: str
    name: str
    description: str
    icon: str
    help_url: str
    apps: list[dict[str, Any]] = field(default_factory=list)


def _in_language(value: Any) -> str:
    """A setting's text in the page's language: a string, or {"de": ..., "fr": ..., ...}."""
    if not isinstance(value, Mapping):
        return str(value)
    language = (get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return str(value.get(language) or value.get(settings.LANGUAGE_CODE) or next(iter(value.values()), ""))


def _apps_for(backend: str) -> list[dict[str, Any]]:
    """The wallet apps of this kind (``REGISTERFT_WALLET_APPS``; an app that names no backend
    under "wallets" counts for every kind)."""
    return [app for app in settings.REGISTERFT_WALLET_APPS if backend in app.get("wallets", [backend])]


def wallet_choices() -> list[WalletChoice]:
    """The kinds of wallet the visitor chooses from, in the order of ``REGISTERFT_ISSUERS``."""
    choices = []
    for backend in issuer_names():
        own = {**DEFAULT_CHOICES[backend], **settings.REGISTERFT_WALLET_CHOICES.get(backend, {})}
        icon = own.get("icon", "")
        choices.append(WalletChoice(
            backend=backend,
            name=_in_language(own["name"]),
            description=_in_language(own.get("description", "")),
            icon=icon if not icon or icon.startswith("/") else static(icon),
            help_url=own.get("help") or f"{reverse('onboarding:help')}#wallet-{backend}",
            apps=_apps_for(backend),
        ))
    return choices


def wallet_choose(*, session: MutableMapping[str, Any], backend: str) -> bool:
    """The visitor's choice; False for a backend the portal does not run, or when the visitor's
    registration already has its backend (nothing changes then)."""
    if backend not in issuer_names() or registration_for_session(session) is not None:
        return False
    session[CHOICE_SESSION_KEY] = backend
    return True


def wallet_change(*, session: MutableMapping[str, Any]) -> bool:
    """Back to the choice, while nothing was created at the issuer: details saved whose offer is
    not made are deleted (they are the visitor's, and nothing else holds them). False when the
    visitor's registration has gone further: "start again" is what remains then."""
    registration = registration_for_session(session)
    if registration is not None:
        deleted, _ = Registration.objects.filter(pk=registration.pk, state=Registration.State.SAVED).delete()
        if not deleted:
            return False
        throttle.place_release(holder=str(registration.pk))
        logger.info("registration id=%s given up for another kind of wallet", registration.pk)
    # The place in line (one line for every kind, docs/admission.md) stays the visitor's.
    session.pop(SESSION_KEY, None)
    session.pop(CHOICE_SESSION_KEY, None)
    return True


def wallet_change_possible(registration: Registration | None) -> bool:
    """Whether the pages offer "choose another kind of wallet"."""
    return len(issuer_names()) > 1 and (registration is None or registration.state == Registration.State.SAVED)
