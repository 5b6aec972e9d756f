"""Template helpers of the visitor's pages."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from onboarding.models import Registration
from onboarding.rules import registration_stuck_at

register = template.Library()


@register.simple_tag
def stuck_in_ms(registration: Registration | None) -> int:
    """Milliseconds until a waiting page offers "start again" prominently; 0 once it should."""
    if registration is None:
        return 0
    return ms_until(registration_stuck_at(registration))


@register.simple_tag
def ms_until(moment: datetime | None) -> int:
    """Milliseconds from now until ``moment`` (0 when it has passed), for a page's timers."""
    if moment is None:
        return 0
    return max(0, int((moment - timezone.now()).total_seconds() * 1000))


MOBILE_AGENT_WORDS = ("Mobi", "Android", "iPhone", "iPad", "iPod")


@register.simple_tag(takes_context=True)
def on_mobile(context: template.Context) -> bool:
    """Whether the page was asked for by a phone or tablet's browser: there the wallet button
    comes first even on a wide screen (CSS alone knows only the width)."""
    request = context.get("request")
    agent = request.headers.get("User-Agent", "") if request is not None else ""
    return any(word in agent for word in MOBILE_AGENT_WORDS)
