"""System checks of the portal's own settings, run by ``manage.py check`` (``--deploy`` for those
that matter only in production)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from onboarding.verifiers import get_verifier

DEMO_ISSUER = "onboarding.W001"
NO_VERIFIER = "onboarding.W010"


@register(Tags.security, deploy=True)
def demo_issuer_in_production(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The demo issuer is the default so that development needs no agent; in production it issues
    nothing real, so it runs there only when the operator names it."""
    if settings.DEBUG or settings.REGISTERFT_ISSUER != "demo" or settings.REGISTERFT_ISSUER_CHOSEN:
        return []
    return [
        Warning(
            "The portal runs the demo issuer with DJANGO_DEBUG off: visitors get nothing real, only "
            "the portal's own stand-in wallet page.",
            hint="Set REGISTERFT_ISSUER to agent-rest or acapy, or to demo if a demo is what you mean.",
            id=DEMO_ISSUER,
        )
    ]


@register(Tags.compatibility, deploy=True)
def door_can_verify(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The door needs a backend that can verify, or it checks visitors in by name only."""
    verifier = get_verifier()
    if verifier.can_verify:
        return []
    return [
        Warning(
            f"The issuer backend {verifier.name!r} cannot verify credentials: the door checks visitors in by name only.",
            hint="Use REGISTERFT_ISSUER=acapy (or demo) for check-in with the wallet; see docs/door.md.",
            id=NO_VERIFIER,
        )
    ]
