"""The door: a staff page for a tablet at the entrance. A fresh proof request per visitor as a QR
code, its status polled, a big result; a search by name for a visitor without their phone.

Staff log in with Django's own LoginView (so the login lockout covers it) and need the
permission ``onboarding.check_in``; their session lasts ``REGISTERFT_STAFF_SESSION_AGE``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_
from django.views import View
from django.views.decorators.cache import never_cache

from onboarding import checkin, selectors
from onboarding.wallets import wallet_choices
from onboarding.issuers.base import IssuerError
from onboarding.links import absolute_url
from onboarding.models import CheckIn, DoorRequest, Registration
from onboarding.qr import qr_svg
from onboarding.verifiers import manual_backends, verifying_backends
from onboarding.verifiers.base import CannotVerify

logger = logging.getLogger("onboarding.door")

DOOR_SESSION_KEY = "registerft_door"
DOOR_WALLET_KEY = "registerft_door_wallet"
# Seconds a result stays on the screen before the door shows a fresh request.
RESULT_SECONDS = 6

REASONS = {
    CheckIn.Reason.WRONG_CREDENTIAL: N_("Not this event's credential (another type or issuer)."),
    CheckIn.Reason.INVALID_SIGNATURE: N_("Invalid signature: the credential has been changed."),
    CheckIn.Reason.OTHER_HOLDER: N_("Presented by somebody else than its holder."),
    CheckIn.Reason.WITHDRAWN: N_("This registration has been withdrawn."),
    CheckIn.Reason.EXPIRED: N_("The credential has expired."),
    DoorRequest.State.NO_ANSWER: N_("No answer in time."),
    DoorRequest.State.DECLINED: N_("The wallet declined to show the credential."),
}


class DoorLoginView(auth_views.LoginView):
    """Django's LoginView with the door's template; staff stay logged in for the event."""

    template_name = "door/login.html"
    next_page = reverse_lazy("onboarding:door")

    def form_valid(self, form):
        response = super().form_valid(form)
        self.request.session.set_expiry(settings.REGISTERFT_STAFF_SESSION_AGE)
        return response


class DoorLogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("onboarding:door_login")


class StaffMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """Logged in, with ``onboarding.check_in``; logged in without it: 403, not the login again."""

    permission_required = "onboarding.check_in"
    login_url = reverse_lazy("onboarding:door_login")
    request: HttpRequest

    def handle_no_permission(self):
        if self.request.user.is_authenticated:
            raise PermissionDenied("Door staff only.")
        return super().handle_no_permission()

    def staff(self) -> checkin.Staff:
        user = self.request.user
        return checkin.Staff(user=user, name=user.get_username(), door=door_name(self.request))


def door_name(request: HttpRequest) -> str:
    return str(request.session.get(DOOR_SESSION_KEY) or request.user.get_username())[:60]


def door_wallet(request: HttpRequest) -> str:
    """The backend whose wallets this door checks now (``?wallet=``, remembered), of those that
    can verify; the first of them unless staff chose another."""
    verifying = verifying_backends()
    chosen = request.session.get(DOOR_WALLET_KEY)
    return chosen if chosen in verifying else (verifying[0] if verifying else "")


def door_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    """What every door page shows. Where the portal runs several backends: a request for each kind
    of wallet that can be checked (staff switch between them), and which kinds need the manual
    check (a swiyu credential until the portal has an OpenID4VP verifier, docs/door.md)."""
    several = len(settings.REGISTERFT_ISSUERS) > 1
    names = {choice.backend: choice.name for choice in wallet_choices()} if several else {}
    current = door_wallet(request)
    context = {
        "door": door_name(request), "counts": checkin.door_counts(), "can_verify": bool(verifying_backends()),
        "door_page": True,
        "door_wallet": names.get(current, ""),
        "other_wallets": [(backend, names[backend]) for backend in verifying_backends() if backend != current] if several else [],
        "manual_wallets": [names[backend] for backend in manual_backends()] if several else [],
    }
    context.update(extra)
    return context


@method_decorator(never_cache, name="dispatch")
class DoorView(StaffMixin, View):
    """The door's start: a fresh request, then its page. ``?door=`` names this door."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if request.GET.get("door", "").strip():
            request.session[DOOR_SESSION_KEY] = request.GET["door"].strip()[:60]
        if request.GET.get("wallet", "") in verifying_backends():
            request.session[DOOR_WALLET_KEY] = request.GET["wallet"]
        if not verifying_backends():
            return TemplateResponse(request, "door/door.html", door_context(request))
        try:
            door_request = checkin.checkin_request_new(door=door_name(request), backend=door_wallet(request))
        except (IssuerError, CannotVerify) as err:
            logger.warning("door request failed: %s", err)
            context = door_context(request, error=_("The verifier cannot be reached right now: check visitors in by name."))
            return TemplateResponse(request, "door/door.html", context, status=err.status)
        return redirect("onboarding:door_request", pk=door_request.pk)


def _request_or_404(pk: Any) -> DoorRequest:
    return get_object_or_404(DoorRequest, pk=pk)


def _next_url(door_request: DoorRequest) -> str | None:
    if door_request.state == DoorRequest.State.PENDING:
        return None
    if door_request.check_in_id:
        return reverse("onboarding:door_check_in", args=[door_request.check_in_id])
    return reverse("onboarding:door_result", args=[door_request.pk])


@method_decorator(never_cache, name="dispatch")
class DoorRequestView(StaffMixin, View):
    """The QR code of one request; without JavaScript the page refreshes itself."""

    def get(self, request: HttpRequest, pk: Any) -> HttpResponse:
        door_request = _request_or_404(pk)
        error = ""
        try:
            door_request = checkin.checkin_request_progress(door_request=door_request, staff=self.staff())
        except IssuerError as err:
            error = _("The verifier cannot be reached right now. Trying again…")
            logger.warning("door check failed request=%s: %s", door_request.pk, err)
        next_url = _next_url(door_request)
        if next_url:
            return redirect(next_url)
        short_url = absolute_url(request, reverse("onboarding:door_link", args=[door_request.short_code]))
        expires_in = (checkin.door_request_expires_at(door_request) - timezone.now()).total_seconds()
        context = door_context(
            request, door_request=door_request, qr_svg=qr_svg(short_url), short_url=short_url, error=error,
            status_url=reverse("onboarding:door_status", args=[door_request.pk]),
            poll_interval_ms=settings.REGISTERFT_DOOR_POLL_INTERVAL_MS, expires_in_ms=max(0, int(expires_in * 1000)),
        )
        return TemplateResponse(request, "door/door.html", context)


@method_decorator(never_cache, name="dispatch")
class DoorStatusView(StaffMixin, View):
    """What the door page polls (about every half second): the result's page once there is one."""

    def get(self, request: HttpRequest, pk: Any) -> JsonResponse:
        door_request = _request_or_404(pk)
        payload: dict[str, Any] = {"state": "waiting", "next": None, "message": "", "issuer": "ok"}
        try:
            door_request = checkin.checkin_request_progress(door_request=door_request, staff=self.staff())
        except IssuerError:
            payload.update(issuer="unavailable", message=_("The verifier cannot be reached right now. Trying again…"))
        payload["next"] = _next_url(door_request)
        if payload["next"]:
            payload["state"] = "moved"
        return JsonResponse(payload)


def result_context(request: HttpRequest, check_in: CheckIn | None, reason: str) -> dict[str, Any]:
    if check_in is not None and check_in.outcome in (CheckIn.Outcome.ADMITTED, CheckIn.Outcome.READMITTED):
        colour = "green"
    elif check_in is not None and check_in.reason == CheckIn.Reason.ALREADY:
        colour = "amber"
    else:
        colour = "red"
    return door_context(
        request, colour=colour, check_in=check_in, reason=_(REASONS[reason]) if reason in REASONS else "",
        first_name=checkin.first_name(check_in.registration if check_in else None),
        first_admission=checkin.checkin_first_admission(check_in) if colour == "amber" else None,
        result_seconds=RESULT_SECONDS, event_name=settings.REGISTERFT_EVENT_NAME,
    )


@method_decorator(never_cache, name="dispatch")
class DoorResultView(StaffMixin, View):
    """A request that ended without a credential: no answer in time, or the wallet declined."""

    def get(self, request: HttpRequest, pk: Any) -> HttpResponse:
        door_request = _request_or_404(pk)
        next_url = _next_url(door_request)
        if door_request.check_in_id or next_url is None:
            return redirect(next_url or reverse("onboarding:door_request", args=[door_request.pk]))
        return TemplateResponse(request, "door/result.html", result_context(request, None, door_request.state))


@method_decorator(never_cache, name="dispatch")
class CheckInView(StaffMixin, View):
    """The big result of one check-in: green, amber (with "admit again") or red with the reason."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        check_in = get_object_or_404(CheckIn.objects.select_related("registration"), pk=pk)
        return TemplateResponse(request, "door/result.html", result_context(request, check_in, check_in.reason))


class AdmitAgainView(StaffMixin, View):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        check_in = get_object_or_404(CheckIn, pk=pk, reason=CheckIn.Reason.ALREADY)
        again = checkin.checkin_admit_again(check_in=check_in, staff=self.staff())
        return redirect("onboarding:door_check_in", pk=again.pk)


@method_decorator(never_cache, name="dispatch")
class ManualView(StaffMixin, View):
    """A visitor without their phone: search by name (two letters at least, a few answers)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        text = request.GET.get("q", "").strip()[:100]
        results = checkin.checkin_search(text=text)
        context = door_context(request, query=text, results=results,
                               too_short=bool(text) and len("".join(text.split())) < checkin.SEARCH_MIN_LETTERS)
        return TemplateResponse(request, "door/manual.html", context)

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            pk = uuid.UUID(request.POST.get("registration", ""))
        except ValueError:
            return redirect("onboarding:door_manual")
        registration = get_object_or_404(Registration, pk=pk, state=Registration.State.ISSUED)
        check_in = checkin.checkin_manual(registration=registration, staff=self.staff())
        return redirect("onboarding:door_check_in", pk=check_in.pk)


@method_decorator(never_cache, name="dispatch")
class DoorLinkView(View):
    """The short link in the door's QR code (the full invitation is too long for a QR code a
    phone reads): a redirect to the request, or the invitation as JSON for a wallet that asks."""

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        door_request = get_object_or_404(DoorRequest, short_code=code)
        if door_request.state != DoorRequest.State.PENDING or timezone.now() > checkin.door_request_expires_at(door_request):
            return TemplateResponse(request, "onboarding/invitation_gone.html", status=410)
        if "application/json" in request.headers.get("Accept", ""):
            # As the visitors' short link: a wallet that asks for JSON gets the invitation itself
            # (ACA-Py's own endpoint answers a browser's GET of the ?oob= URL with no invitation).
            message = selectors.invitation_message(door_request.invitation_url)
            if message is not None:
                return JsonResponse(message)
        return HttpResponseRedirect(absolute_url(request, door_request.invitation_url))
