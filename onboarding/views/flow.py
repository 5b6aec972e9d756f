"""The visitor's five steps, their status endpoints, and "start again".

Each view reads the request, calls one service and picks a response. The step guard lives in
``FlowStepMixin``: a visitor who is not where the flow says they are is sent there.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic import FormView, TemplateView

from onboarding import offers, selectors, services, throttle, wallets
from onboarding.forms import DetailsForm
from onboarding.issuers.base import IssuerError
from onboarding.links import absolute_url, wallet_link
from onboarding.models import Registration
from onboarding.qr import qr_svg
from onboarding.selectors import Step
from onboarding.views.outcomes import failure_message, failure_reason, issuer_error_message, issuer_error_response
from onboarding.views.queue import queue_response
from onboarding.views.limits import limited_message, rate_limited_response, visitor_address, with_retry_after
from onboarding.views.wallets import wallet_choice_response
from onboarding.views.window import registration_closed
from onboarding.window import registration_window

logger = logging.getLogger("onboarding.views")

State = Registration.State
# The details form's field that its script sets (static/onboarding/js/submit-once.js): the answer may
# be the next page itself rather than a redirect to it.
ANSWER_IN_PLACE = "in_place"
# The start page's scripts: its page loads them, and the line's page runs them when it shows the
# start page in place (onboarding/views/line.py).
START_SCRIPTS = ("onboarding/js/poll.js", "onboarding/js/copy.js", "onboarding/js/submit-once.js")


STEP_MESSAGES = {
    Step.START: N_("Please start by scanning the QR code with your wallet."),
    Step.CHECK_CONNECTION: N_("Please connect your wallet first."),
    Step.NAME: N_("Please enter your details first."),
    Step.LOADING: N_("Your credential has already been offered."),
    Step.OFFER: N_("Your details are saved. Please scan the QR code with your wallet."),
    Step.SUCCESS: N_("Your credential has already been issued."),
}


class FlowStepMixin:
    """Loads the visitor's registration and sends them to their step if this is not it."""

    steps: tuple[str, ...] = ()
    request: HttpRequest
    registration: Registration | None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.registration = selectors.registration_for_session(request.session)
        if self.registration is not None:
            # A step that ran out of time is a failure before anything else: details sent after
            # their deadline must not reach the issuer.
            self.registration = services.registration_expire(registration=self.registration)
        step = selectors.visitor_step(request.session, self.registration)
        if step not in self.steps:
            if self.registration is None or self.registration.state != State.FAILED:
                # A failure explains itself on the page it is sent to.
                messages.info(request, _(STEP_MESSAGES[step]))
            return redirect(f"onboarding:{step}")
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


def step_context(step: str, *, backend: str = "") -> dict[str, Any]:
    """What every step's page needs; the step indicator shows the order of the visitor's backend."""
    waits_for_wallet = step in (Step.START, Step.CHECK_CONNECTION)
    return {
        "step": step, "poll_interval_ms": settings.REGISTERFT_POLL_INTERVAL_MS,
        "first_poll_ms": selectors.first_connection_poll_ms() if waits_for_wallet else None,
        "offer_first": selectors.offer_first(backend),
    }


@method_decorator(never_cache, name="dispatch")
class StartView(TemplateView):
    """Step 1: the invitation as a QR code and as a link."""

    template_name = "onboarding/start.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            outcome = start_outcome(request)
        except IssuerError as err:
            return issuer_error_response(request, err)
        if isinstance(outcome, HttpResponse):
            return outcome
        return self.render_to_response(self.get_context_data(registration=outcome))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        registration: Registration = kwargs["registration"]
        short_url = absolute_url(self.request, reverse("onboarding:invitation", args=[registration.short_code]))
        context.update(step_context(Step.START, backend=registration.backend))
        context.update(
            qr_svg=qr_svg(short_url),
            short_url=short_url,
            wallet_url=wallet_link(self.request, registration.invitation_url),
            expires_at=selectors.registration_invitation_expires_at(registration),
            status_url=reverse("onboarding:connection_status"),
            # The details form, shown in place once the wallet connects (templates/onboarding/start.html).
            details_form=DetailsForm(),
            can_change_wallet=wallets.wallet_change_possible(registration),
            start_scripts=START_SCRIPTS,
        )
        return context


def start_outcome(request: HttpRequest) -> Registration | HttpResponse:
    """What the start page shows: the visitor's registration waiting for the wallet (its
    invitation), or the response for anything else (the choice of wallet, the line, a limit, the
    window closed, another step). Raises ``IssuerError`` when the invitation failed (the place went
    back, the visitor keeps their place in line). Also the line's status, when it shows the start
    page in place (onboarding/views/line.py)."""
    registration = selectors.registration_for_session(request.session)
    backend = selectors.visitor_backend(request.session, registration)
    if not backend:
        # Several backends and nothing chosen yet: the visitor says which wallet they have.
        return wallet_choice_response(request)
    if selectors.offer_first(backend):
        # The details come first: the offer-first order starts at the form, or where the
        # visitor's registration already is.
        return redirect(f"onboarding:{selectors.visitor_step(request.session, registration)}")
    try:
        outcome = services.visitor_start(
            session=request.session, address=visitor_address(request), label=settings.REGISTERFT_EVENT_NAME,
            backend=backend,
        )
    except IssuerError as err:
        logger.warning("invitation failed: %s", err)
        raise
    if isinstance(outcome, services.Closed):
        return registration_closed(request, outcome.window)
    if isinstance(outcome, throttle.Waiting):
        return queue_response(request, outcome)
    if isinstance(outcome, throttle.Limited):
        return rate_limited_response(request, outcome)
    # Without JavaScript nothing polls: the page's own refresh must notice a connected wallet.
    # The issuer is still asked at most once per check interval.
    registration = services.registration_progress(registration=outcome.registration).registration
    step = selectors.visitor_step(request.session, registration)
    if step != Step.CHECK_CONNECTION:
        return redirect(f"onboarding:{step}")
    return registration


class WaitingView(FlowStepMixin, TemplateView):
    """A page that waits for the wallet; it polls its status endpoint and falls back to refresh."""

    template_name = "onboarding/waiting.html"
    page_step = ""
    status_url_name = ""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        assert self.registration is not None
        progress = services.registration_progress(registration=self.registration)
        step = selectors.registration_step(progress.registration)
        if step != self.page_step:
            return redirect(f"onboarding:{step}")
        context = self.get_context_data(progress=progress)
        status = progress.error.status if progress.error else 200
        return self.render_to_response(context, status=status)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        progress: services.Progress = kwargs["progress"]
        registration = progress.registration
        context.update(step_context(self.page_step, backend=registration.backend))
        context.update(
            registration=registration,
            failed=registration.state == State.FAILED,
            failure_message=failure_message(registration) if registration.state == State.FAILED else "",
            failure_reason=failure_reason(registration),
            issuer_message=issuer_error_message(progress.error) if progress.error else "",
            status_url=reverse(self.status_url_name),
            page_url=reverse(f"onboarding:{self.page_step}"),
            can_resend=self.page_step == Step.LOADING and registration.state == State.OFFERED,
        )
        return context


@method_decorator(never_cache, name="dispatch")
class CheckConnectionView(WaitingView):
    """Step 2: waits until the wallet accepted the invitation."""

    steps = (Step.CHECK_CONNECTION,)
    page_step = Step.CHECK_CONNECTION
    status_url_name = "onboarding:connection_status"


@method_decorator(never_cache, name="dispatch")
class LoadingView(WaitingView):
    """Step 4: waits until the wallet accepted the credential."""

    steps = (Step.LOADING,)
    page_step = Step.LOADING
    status_url_name = "onboarding:credential_status"


@method_decorator(never_cache, name="dispatch")
@method_decorator(sensitive_post_parameters(), name="dispatch")
class NameView(FlowStepMixin, FormView):
    """Step 3: the visitor's details; the issuer is asked to offer the credential with them."""

    steps = (Step.NAME,)
    template_name = "onboarding/name.html"
    form_class = DetailsForm

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        window = registration_window()
        if self.registration is None and not window.is_open:
            return registration_closed(request, window)  # offer-first: the form is the first page
        return super().get(request, *args, **kwargs)

    def get_initial(self) -> dict[str, Any]:
        # What the visitor typed before a failed attempt is still there.
        return dict(self.registration.attributes or {}) if self.registration is not None else {}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(step_context(Step.NAME, backend=self.backend()))
        context["can_change_wallet"] = wallets.wallet_change_possible(self.registration)
        return context

    def backend(self) -> str:
        return selectors.visitor_backend(self.request.session, self.registration)

    def form_valid(self, form: DetailsForm) -> HttpResponse:
        if selectors.offer_first(self.backend()):
            return self.details_saved(form)
        assert self.registration is not None
        try:
            offers.credential_offer(
                registration=self.registration, attributes=form.attributes(),
                session=self.request.session, address=visitor_address(self.request),
            )
        except throttle.RateLimited as err:
            form.add_error(None, limited_message(err.limited))
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            return with_retry_after(response, err.limited)
        except offers.OfferInProgress:
            return redirect("onboarding:loading")
        except IssuerError as err:
            # Not str(err): it quotes the agent's answer, which may echo the visitor's details.
            logger.warning(
                "credential offer failed registration=%s error=%s http_status=%s",
                self.registration.pk, err.message, err.http_status,
            )
            form.add_error(None, issuer_error_message(err))
            return self.render_to_response(self.get_context_data(form=form), status=err.status)
        # A committed step gets a fresh session key; polls never change it.
        self.request.session.cycle_key()
        if self.request.POST.get(ANSWER_IN_PLACE) == "1":
            return self.loading_page()
        return redirect("onboarding:loading")

    def loading_page(self) -> HttpResponse:
        """The loading page as the answer itself, for a form sent by a page that runs script: the
        loading page's script sets the address to /loading/ at once (a reload asks for that page, not
        for this POST). One request less than post/redirect/get, which a browser without script gets."""
        page = LoadingView()
        page.setup(self.request)
        page.registration = self.registration
        return page.get(self.request)

    def details_saved(self, form: DetailsForm) -> HttpResponse:
        """The offer-first order: the details are kept; the offer's page makes the offer when the
        visitor's turn comes, or shows their place in line."""
        outcome = offers.visitor_details(
            session=self.request.session, attributes=form.attributes(), backend=self.backend()
        )
        if isinstance(outcome, services.Closed):
            return registration_closed(self.request, outcome.window)
        self.request.session.cycle_key()
        return redirect("onboarding:offer")

    def form_invalid(self, form: DetailsForm) -> HttpResponse:
        return self.render_to_response(self.get_context_data(form=form), status=400)


@method_decorator(never_cache, name="dispatch")
class SuccessView(TemplateView):
    """Step 5: done. The flow's state leaves the session; a reload still shows this page."""

    template_name = "onboarding/success.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        registration = selectors.registration_for_session(request.session)
        if registration is not None and registration.state == State.ISSUED:
            services.registration_complete(session=request.session, registration=registration)
        elif not selectors.registration_completed_in(request.session):
            step = selectors.visitor_step(request.session, registration)
            messages.info(request, _(STEP_MESSAGES[step]))
            return redirect(f"onboarding:{step}")
        context = self.get_context_data(**kwargs)
        done = registration or selectors.registration_by_pk(request.session.get(selectors.DONE_SESSION_KEY))
        context.update(step_context(Step.SUCCESS, backend=done.backend if done else ""))
        return self.render_to_response(context)


@method_decorator(never_cache, name="dispatch")
class ResendOfferView(FlowStepMixin, View):
    """"Send the offer again" on the loading page, once the wallet has been silent for a while."""

    steps = (Step.LOADING, Step.OFFER)

    def post(self, request: HttpRequest) -> HttpResponse:
        assert self.registration is not None
        page = f"onboarding:{selectors.visitor_step(request.session, self.registration)}"
        if not offers.credential_offer_due_again(self.registration):
            return redirect(page)
        try:
            offers.credential_reoffer(
                registration=self.registration, session=request.session, address=visitor_address(request)
            )
        except throttle.RateLimited as err:
            return rate_limited_response(request, err.limited)
        except offers.OfferInProgress:
            pass  # another request of this visitor is sending it right now
        except IssuerError as err:
            logger.warning(
                "credential offer again failed registration=%s error=%s http_status=%s",
                self.registration.pk, err.message, err.http_status,
            )
            return issuer_error_response(request, err, retry_path=reverse(page))
        else:
            if selectors.offer_first(self.registration.backend):
                messages.info(request, _("A new offer has been made. Please scan the QR code again."))
            else:
                messages.info(request, _("The offer has been sent to your wallet again."))
        return redirect(page)


class RestartView(View):
    """"Start again": forget the visitor's registration and go back to a fresh QR code."""

    def post(self, request: HttpRequest) -> HttpResponse:
        services.registration_forget(session=request.session)
        return redirect("onboarding:start")


@method_decorator(never_cache, name="dispatch")
class InvitationLinkView(View):
    """The short link in the QR code: redirects a wallet to the full invitation, or hands it the
    invitation as JSON when it asks for JSON. It expires with the invitation."""

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        registration = selectors.registration_by_short_code(code)
        if registration is None:
            raise Http404
        expired = timezone.now() > selectors.registration_invitation_expires_at(registration)
        if registration.state != State.INVITED or expired:
            return TemplateResponse(request, "onboarding/invitation_gone.html", status=410)
        services.registration_link_opened(registration=registration)
        target = absolute_url(request, registration.invitation_url)
        if "application/json" in request.headers.get("Accept", ""):
            payload = selectors.invitation_payload(registration=registration)
            if payload is not None:
                return JsonResponse(payload)
        return HttpResponseRedirect(target)
