"""Issuer backends behind one interface; ``get_issuer()`` returns the configured one."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from onboarding.issuers.base import Issuer


@cache
def get_issuer() -> Issuer:
    """The backend ``REGISTERFT_ISSUER`` names, built once from its own settings."""
    backend = settings.REGISTERFT_ISSUER
    if backend == "agent-rest":
        from onboarding.issuers.agent_rest import AgentRestIssuer

        return AgentRestIssuer.from_settings()
    if backend == "acapy":
        from onboarding.issuers.acapy import AcaPyIssuer

        return AcaPyIssuer.from_settings()
    if backend == "swiyu":
        from onboarding.issuers.swiyu import SwiyuIssuer

        return SwiyuIssuer.from_settings()
    from onboarding.issuers.demo import DemoIssuer

    return DemoIssuer.from_settings()
