"""Verifier backends behind one interface; ``get_verifier(name)`` returns the one of an issuer
backend the portal runs.

The door verifies with the agent that issues: ACA-Py and the demo issuer can; the original agent
REST API has no verification we know of, and swiyu's credentials need an OpenID4VP verifier the
portal does not have yet (manual check only, docs/door.md).
"""

from __future__ import annotations

from functools import cache

from django.conf import settings

from onboarding.verifiers.base import NoVerifier, Verifier

VERIFYING_BACKENDS = ("acapy", "demo")


def verifying_backends() -> tuple[str, ...]:
    """The backends the portal runs whose credentials the door can check, in the settings' order."""
    return tuple(name for name in settings.REGISTERFT_ISSUERS if name in VERIFYING_BACKENDS)


def manual_backends() -> tuple[str, ...]:
    """The backends the portal runs whose credentials the door checks by name only."""
    return tuple(name for name in settings.REGISTERFT_ISSUERS if name not in VERIFYING_BACKENDS)


@cache
def get_verifier(name: str = "") -> Verifier:
    """The verifier of backend ``name``; without a name the first backend's that can verify (or
    the first backend's, which cannot, where none can)."""
    if not name:
        return get_verifier((verifying_backends() or tuple(settings.REGISTERFT_ISSUERS))[0])
    if name == "acapy":
        from onboarding.verifiers.acapy import AcaPyVerifier

        return AcaPyVerifier.from_settings()
    if name == "demo":
        from onboarding.verifiers.demo import DemoVerifier

        return DemoVerifier()
    return NoVerifier(name=name)
