from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    return {
        "event_name": settings.REGISTERFT_EVENT_NAME,
        "demo_mode": settings.REGISTERFT_ISSUER == "demo",
    }
