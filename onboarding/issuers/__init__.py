"""Issuer backends behind one interface; ``get_issuer()`` returns the configured one."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from onboarding.issuers.base import Issuer


@cache
def get_issuer() -> Issuer:
    backend = settings.REGISTERFT_ISSUER
    if backend == "agent-rest":
        from onboarding.issuers.agent_rest import AgentRestIssuer

        return AgentRestIssuer(
            connection_url=settings.AGENT_REST_CONNECTION_URL,
            issuer_url=settings.AGENT_REST_ISSUER_URL,
            credential_definition_id=settings.AGENT_REST_CREDENTIAL_DEFINITION_ID,
            attribute_names=settings.AGENT_REST_ATTRIBUTE_NAMES,
            accepted_states=settings.AGENT_REST_ACCEPTED_STATES,
            failed_states=settings.AGENT_REST_FAILED_STATES,
            timeout=settings.REGISTERFT_ISSUER_TIMEOUT,
            api_key_header=settings.AGENT_REST_API_KEY_HEADER,
            api_key=settings.AGENT_REST_API_KEY,
        )
    if backend == "acapy":
        from onboarding.issuers.acapy import AcaPyIssuer

        return AcaPyIssuer.from_settings()
    from onboarding.issuers.demo import DemoIssuer

    return DemoIssuer()
