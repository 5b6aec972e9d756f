"""The offer-first order's own pages (OpenID4VCI): the QR code with the offer and its PIN, the
JSON that page polls, and the offer's short link that a wallet fetches (offer by reference).

The details form and "send the offer again" are the connection-first order's own views, which
ask ``selectors.offer_first()`` where the two orders differ.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from onboarding import offers, selectors, services, throttle
from onboarding.issuers.base import IssuerError
from onboarding.links import absolute_url, offer_link
from onboarding.models import Registration
from onboarding.qr import qr_svg
from onboarding.selectors import Step
from onboarding.views.flow import FlowStepMixin, step_context
from onboarding.views.status import StatusView
from onboarding.views.limits import rate_limited_response, visitor_address
from onboarding.views.outcomes import failure_message, failure_reason, issuer_error_message, issuer_error_response
from onboarding.views.queue import queue_response

logger = logging.getLogger("onboarding.views")

State = Registration.State


@method_decorator(never_cache, name="dispatch")
class OfferView(FlowStepMixin, TemplateView):
    """The QR code with the offer, its PIN, and the wait for the wallet. Saved details whose
    offer is not made yet get it here when their turn comes, else the visitor's place in line."""

    steps = (Step.OFFER,)
    template_name = "onboarding/offer.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        assert self.registration is not None
        if self.registration.state == State.SAVED:
            try:
                outcome = offers.visitor_offer(
                    session=request.session, address=visitor_address(request), registration=self.registration
                )
            except offers.OfferInProgress:
                outcome = throttle.Waiting(position=1, poll_ms=throttle.line_poll_ms(1))
            except IssuerError as err:
                logger.warning("offer failed: %s", err)
                return issuer_error_response(request, err)
            if isinstance(outcome, throttle.Waiting):
                return queue_response(request, outcome, details_saved=True)
            if isinstance(outcome, throttle.Limited):
                return rate_limited_response(request, outcome)
            self.registration = outcome.registration
        # Without JavaScript nothing polls: the page's own refresh notices the wallet's answer.
        progress = services.registration_progress(registration=self.registration)
        step = selectors.registration_step(progress.registration)
        if step != Step.OFFER:
            return redirect(f"onboarding:{step}")
        status = progress.error.status if progress.error else 200
        return self.render_to_response(self.get_context_data(progress=progress), status=status)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        progress: services.Progress = kwargs["progress"]
        registration = progress.registration
        failed = registration.state == State.FAILED
        context.update(step_context(Step.OFFER, backend=registration.backend))
        context.update(
            registration=registration,
            failed=failed,
            failure_message=failure_message(registration) if failed else "",
            failure_reason=failure_reason(registration),
            issuer_message=issuer_error_message(progress.error) if progress.error else "",
            status_url=reverse("onboarding:offer_status"),
            can_resend=registration.state == State.OFFERED,
        )
        if not failed:
            link = offer_link(self.request, offer_url=registration.invitation_url, short_path=reverse(
                "onboarding:offer_link", args=[registration.short_code]))
            context.update(
                qr_svg=qr_svg(link), offer_url=link, pin=registration.offer_pin,
                expires_at=selectors.registration_offer_expires_at(registration),
            )
        return context


class OfferStatusView(StatusView):
    page_step = Step.OFFER
    page_url_name = "onboarding:offer"


@method_decorator(never_cache, name="dispatch")
class OfferLinkView(TemplateView):
    """The offer's short link in the QR code: the credential offer's JSON for a wallet (OpenID4VCI
    ``credential_offer_uri``), or a redirect to the offer's page (the demo wallet). It expires with
    the offer."""

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        registration = selectors.registration_by_short_code(code)
        if registration is None:
            raise Http404
        expires_at = selectors.registration_offer_expires_at(registration)
        if registration.state != State.OFFERED or expires_at is None or timezone.now() > expires_at:
            return TemplateResponse(request, "onboarding/invitation_gone.html", status=410)
        payload = selectors.offer_payload(registration=registration)
        if payload is not None:
            return JsonResponse(payload)
        return HttpResponseRedirect(absolute_url(request, registration.invitation_url))
