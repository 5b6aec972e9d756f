"""Small pure rules of the flow that the services and the pages must agree on, each defined once.

Only settings, the clock's type and the models: the services build on these, and a page's
template tag may read them without reaching into the services.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from onboarding.models import Registration


def _last_progress(registration: Registration) -> datetime:
    """When the registration last moved forward: created, connected or offered."""
    moments = [registration.created_at, registration.connected_at, registration.offered_at]
    return max(moment for moment in moments if moment is not None)


def registration_stuck_at(registration: Registration) -> datetime:
    """From when a visitor has waited too long at the current step (``REGISTERFT_STUCK_AFTER``
    past the last progress): the waiting page then offers "start again", and a credential offer
    may be sent again."""
    return _last_progress(registration) + timedelta(seconds=settings.REGISTERFT_STUCK_AFTER)
