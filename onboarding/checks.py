"""``manage.py check --deploy``: the door needs a backend that can verify, or it checks by hand only."""

from __future__ import annotations

from django.core.checks import Tags, Warning, register

from onboarding.verifiers import get_verifier


@register(Tags.compatibility, deploy=True)
def door_can_verify(app_configs, **kwargs):
    verifier = get_verifier()
    if verifier.can_verify:
        return []
    return [Warning(
        f"The issuer backend {verifier.name!r} cannot verify credentials: the door checks visitors in by name only.",
        hint="Use REGISTERFT_ISSUER=acapy (or demo) for check-in with the wallet; see docs/door.md.",
        id="registerft.W010",
    )]
