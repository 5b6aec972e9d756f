"""Verifier backends behind one interface; ``get_verifier()`` returns the one for the issuer."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from onboarding.verifiers.base import NoVerifier, Verifier


@cache
def get_verifier() -> Verifier:
    """The door verifies with the agent that issues: ACA-Py and the demo issuer can; the original
    agent REST API has no verification we know of (manual check only)."""
    backend = settings.REGISTERFT_ISSUERS[0]
    if backend == "acapy":
        from onboarding.verifiers.acapy import AcaPyVerifier

        return AcaPyVerifier.from_settings()
    if backend == "demo":
        from onboarding.verifiers.demo import DemoVerifier

        return DemoVerifier()
    return NoVerifier(name=backend)
