"""System checks of the portal's own settings, run by ``manage.py check`` (``--deploy`` for those
that matter only in production)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

from onboarding.verifiers import get_verifier, verifying_backends

DEMO_ISSUER = "onboarding.W001"
OLD_ISSUER_SETTING = "onboarding.W002"
NO_VERIFIER = "onboarding.W010"


@register(Tags.security, deploy=True)
def demo_issuer_in_production(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The demo issuer is the default so that development needs no agent; in production it issues
    nothing real, so it runs there only when the operator names it, and alone: beside a real
    backend it would be a choice that gives visitors nothing (a leftover, most likely)."""
    issuers = tuple(settings.REGISTERFT_ISSUERS)
    if settings.DEBUG or "demo" not in issuers or (settings.REGISTERFT_ISSUER_CHOSEN and len(issuers) == 1):
        return []
    return [
        Warning(
            "The portal runs the demo issuer with DJANGO_DEBUG off: visitors get nothing real, only "
            "the portal's own stand-in wallet page.",
            hint="Set REGISTERFT_ISSUERS to the real backends (agent-rest, acapy, swiyu), or to demo alone if a "
            "demo is what you mean.",
            id=DEMO_ISSUER,
        )
    ]


@register(Tags.compatibility)
def old_issuer_setting(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``REGISTERFT_ISSUER`` still works, and says what to change."""
    if not settings.REGISTERFT_ISSUER_OLD_NAME:
        return []
    return [
        Warning(
            "REGISTERFT_ISSUER is deprecated: it is the old name of REGISTERFT_ISSUERS.",
            hint=f"Set REGISTERFT_ISSUERS={','.join(settings.REGISTERFT_ISSUERS)} instead of REGISTERFT_ISSUER.",
            id=OLD_ISSUER_SETTING,
        )
    ]


@register(Tags.compatibility, deploy=True)
def door_can_verify(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The door needs a backend that can verify, or it checks visitors in by name only."""
    if verifying_backends():
        return []
    verifier = get_verifier()
    return [
        Warning(
            f"The issuer backend {verifier.name!r} cannot verify credentials: the door checks visitors in by name only.",
            hint="Add acapy (or demo) to REGISTERFT_ISSUERS for check-in with the wallet; see docs/door.md.",
            id=NO_VERIFIER,
        )
    ]
