"""Issuer backends behind one interface; ``get_issuer(name)`` returns the one of that name.

A portal runs one or several backends (``REGISTERFT_ISSUERS``). A registration records its
backend, and everything that asks an issuer about it asks that one (``get_issuer(registration.backend)``).
"""

from __future__ import annotations

from functools import cache

from django.conf import settings

from onboarding.issuers.base import Issuer


class UnknownBackend(LookupError):
    """A backend the portal does not run (not in ``REGISTERFT_ISSUERS``), for example one removed
    from the settings while registrations of it remain."""


def issuer_names() -> tuple[str, ...]:
    """The backends the portal runs, in the order the visitor's choice shows them."""
    return tuple(settings.REGISTERFT_ISSUERS)


def is_configured(name: str) -> bool:
    return name in issuer_names()


@cache
def get_issuer(name: str = "") -> Issuer:
    """The backend of this name, built once from its own settings; without a name the first the
    portal runs (the only one, where it runs one). Raises ``UnknownBackend``."""
    if not name:
        return get_issuer(issuer_names()[0])
    if name not in issuer_names():
        raise UnknownBackend(f"The issuer backend {name!r} is not in REGISTERFT_ISSUERS")
    if name == "agent-rest":
        from onboarding.issuers.agent_rest import AgentRestIssuer

        return AgentRestIssuer.from_settings()
    if name == "acapy":
        from onboarding.issuers.acapy import AcaPyIssuer

        return AcaPyIssuer.from_settings()
    if name == "swiyu":
        from onboarding.issuers.swiyu import SwiyuIssuer

        return SwiyuIssuer.from_settings()
    from onboarding.issuers.demo import DemoIssuer

    return DemoIssuer.from_settings()
