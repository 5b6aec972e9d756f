from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

DEFAULT_COLOURS = ("#0b5394", "#083d6e")


def portal(request: HttpRequest) -> dict:
    colours = (settings.REGISTERFT_BRAND_COLOUR.lower(), settings.REGISTERFT_BRAND_DARK_COLOUR.lower())
    return {
        "event_name": settings.REGISTERFT_EVENT_NAME,
        "event_logo": settings.REGISTERFT_EVENT_LOGO,
        # The event's own colours come in a small extra stylesheet, only when they are set.
        "brand_css": colours != DEFAULT_COLOURS,
        "demo_mode": "demo" in settings.REGISTERFT_ISSUERS,
        # How long the pages' chrome is kept once rendered (templates/base.html): for the process's
        # life, or not at all while DEBUG serves templates as they are edited.
        "chrome_seconds": 0 if settings.DEBUG else None,
    }
