"""The JSON the waiting pages poll (the start page and /check_connection/ for the connection,
/loading/ for the credential): where the flow stands, and how soon to ask again."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from onboarding import selectors, services
from onboarding.models import Registration
from onboarding.selectors import Step
from onboarding.views.outcomes import failure_message, issuer_error_message

State = Registration.State


@method_decorator(never_cache, name="dispatch")
class StatusView(View):
    """The JSON a waiting page polls. It reads the portal's own record; the services decide when
    the issuer itself is asked."""

    page_step = ""
    page_url_name = ""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        registration = selectors.registration_for_session(request.session)
        if registration is None:
            return JsonResponse({"state": "moved", "next": reverse("onboarding:start"), "message": "", "issuer": "ok"})
        progress = services.registration_progress(registration=registration)
        registration = progress.registration
        step = selectors.registration_step(registration)
        payload: dict[str, Any] = {"state": "waiting", "next": None, "message": "", "issuer": "ok"}
        if registration.state == State.FAILED:
            payload.update(state="failed", next=reverse(self.page_url_name), message=failure_message(registration))
        elif step != self.page_step:
            payload.update(state="moved", next=reverse(f"onboarding:{step}"), **self.moved(request, registration, step))
        elif not progress.error:
            payload.update(self.pace(registration))
        if progress.error:
            # The page keeps polling (with back-off) and says why nothing moves.
            payload.update(issuer="unavailable", message=issuer_error_message(progress.error))
        return JsonResponse(payload)

    def pace(self, registration: Registration) -> dict[str, Any]:
        """What a page still waiting hears besides "waiting": by default nothing."""
        return {}

    def moved(self, request: HttpRequest, registration: Registration, step: str) -> dict[str, Any]:
        """What a page hears besides where to go once the flow moved on: by default nothing.
        ``in_place``: a page that carries the next step shows it itself (poll.js)."""
        return {}


class ConnectionStatusView(StatusView):
    """Once the wallet connected, the start page shows the details form it carries in place of
    loading /name; the check-connection page, and the refresh without script, load it."""

    page_step = Step.CHECK_CONNECTION
    page_url_name = "onboarding:check_connection"

    def moved(self, request: HttpRequest, registration: Registration, step: str) -> dict[str, Any]:
        return {"in_place": True} if step == Step.NAME else {}

    def pace(self, registration: Registration) -> dict[str, Any]:
        """Once the wallet opened the link, how soon to ask again (sooner while it connects)."""
        if registration.link_opened_at is None:
            return {}
        base = settings.REGISTERFT_POLL_INTERVAL_MS
        if selectors.wallet_connecting(registration, timezone.now()):
            return {"poll_after_ms": min(base, selectors.CONNECTING_POLL_MS),
                    "message": _("Your wallet opened the invitation. Connecting…")}
        # Gone quiet: the page says again what it said before the wallet opened the link.
        return {"poll_after_ms": base, "message": _("Waiting for your wallet to connect…")}


class CredentialStatusView(StatusView):
    """Once the credential is in the wallet the flow is complete here already: the loading page
    shows its own "done" section in place instead of loading /success, which a reload, a page
    without script and the no-script refresh still reach."""

    page_step = Step.LOADING
    page_url_name = "onboarding:loading"

    def moved(self, request: HttpRequest, registration: Registration, step: str) -> dict[str, Any]:
        if registration.state != State.ISSUED:
            return {}
        services.registration_complete(session=request.session, registration=registration)
        return {"in_place": True}
