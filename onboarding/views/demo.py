"""The demo wallet: a page of the portal that stands in for a wallet app when the embedded demo
issuer is configured. A person accepts the connection there, then the credential."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from onboarding.issuers import demo
from onboarding.verifiers import demo as demo_verifier
from onboarding.views import errors
from onboarding.models import DemoConnection, DemoCredential, DemoProofRequest, Registration

DEMO_WALLET_SESSION_KEY = "registerft_demo_wallet"


def wallet_closes_at(connection: DemoConnection) -> datetime:
    """The end of the registration this wallet stands in for: the deadline of its latest step
    (the offer's, once made, also after the credential was stored). Without a registration (one
    purged), the longest a registration can run from the connection's start."""
    registration = Registration.objects.filter(backend="demo", invitation_id=str(connection.pk)).first()
    if registration is None:
        longest = settings.REGISTERFT_INVITATION_TTL + settings.REGISTERFT_DETAILS_TTL + settings.REGISTERFT_OFFER_TTL
        return connection.created_at + timedelta(seconds=longest)
    if registration.offered_at:
        return registration.offered_at + timedelta(seconds=settings.REGISTERFT_OFFER_TTL)
    if registration.connected_at:
        return registration.connected_at + timedelta(seconds=settings.REGISTERFT_DETAILS_TTL)
    return registration.created_at + timedelta(seconds=settings.REGISTERFT_INVITATION_TTL)


class DemoWalletMixin:
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if "demo" not in settings.REGISTERFT_ISSUERS:
            raise Http404("The demo wallet exists only with the demo issuer.")
        self.connection = demo.demo_wallet_get(token=kwargs["token"])
        if self.connection is None:
            raise Http404("No such demo invitation.")
        # The page shows the visitor's details: it lives no longer than their registration.
        if timezone.now() > wallet_closes_at(self.connection):
            return self.closed(request, kwargs["token"])
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    def closed(self, request: HttpRequest, token: str) -> HttpResponse:
        return errors.demo_wallet_closed(request)


@method_decorator(never_cache, name="dispatch")
class DemoWalletView(DemoWalletMixin, View):
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        connection = self.connection
        credentials = list(connection.credentials.all())
        pending = [c for c in credentials if c.state == DemoCredential.State.OFFERED]
        context = {
            "connection": connection,
            "connected": connection.state == DemoConnection.State.ACTIVE,
            "pending": pending,
            "stored": [c for c in credentials if c.state == DemoCredential.State.ACCEPTED],
            "declined": [c for c in credentials if c.state == DemoCredential.State.DECLINED],
            "status_url": reverse("onboarding:demo_wallet_status", args=[token]),
            "poll_interval_ms": settings.REGISTERFT_POLL_INTERVAL_MS,
            "wallet_page": True,
        }
        return TemplateResponse(request, "onboarding/demo_wallet.html", context)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        action = request.POST.get("action", "")
        if action == "connect":
            demo.demo_wallet_accept_connection(connection=self.connection)
        elif action in ("accept", "decline"):
            accepted = demo.demo_wallet_answer_offer(
                connection=self.connection,
                credential_id=request.POST.get("credential", ""),
                accept=action == "accept",
            )
            if accepted and action == "accept":
                # The demo wallet's store is this browser: the demo door asks it for the credential.
                held = list(request.session.get(DEMO_WALLET_SESSION_KEY, []))[-9:]
                request.session[DEMO_WALLET_SESSION_KEY] = [*held, token]
        else:
            return errors.bad_request(request)
        return redirect("onboarding:demo_wallet", token=token)


@method_decorator(never_cache, name="dispatch")
class DemoWalletStatusView(DemoWalletMixin, View):
    """Polled by the demo wallet page: it reloads when an offer waits for an answer."""

    def closed(self, request: HttpRequest, token: str) -> HttpResponse:
        # The wallet page reloads, and says that it is closed.
        page = reverse("onboarding:demo_wallet", args=[token])
        return JsonResponse({"state": "moved", "next": page, "message": "", "issuer": "ok"})

    def get(self, request: HttpRequest, token: str) -> JsonResponse:
        offered = self.connection.credentials.filter(state=DemoCredential.State.OFFERED).exists()
        waiting = self.connection.state == DemoConnection.State.ACTIVE and not offered
        # The same keys as the visitor's status: poll.js backs off unless the issuer is "ok".
        payload = {"state": "waiting" if waiting else "moved", "next": None, "message": "", "issuer": "ok"}
        if not waiting:
            payload["next"] = reverse("onboarding:demo_wallet", args=[token])
        return JsonResponse(payload)


@method_decorator(never_cache, name="dispatch")
class DemoProofView(View):
    """The demo door's request, opened from its QR code: the demo wallet (this browser) shows the
    credentials it holds and presents one, or declines."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if "demo" not in settings.REGISTERFT_ISSUERS:
            raise Http404("The demo wallet exists only with the demo issuer.")
        self.proof = demo_verifier.demo_proof_get(token=kwargs["token"])
        if self.proof is None:
            raise Http404("No such demo request.")
        return super().dispatch(request, *args, **kwargs)

    def held(self, request: HttpRequest) -> list[DemoCredential]:
        tokens = request.session.get(DEMO_WALLET_SESSION_KEY, [])
        return list(DemoCredential.objects.filter(
            connection__token__in=tokens if isinstance(tokens, list) else [], state=DemoCredential.State.ACCEPTED
        ))

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        context = {"proof": self.proof, "held": self.held(request), "wallet_page": True,
                   "answered": self.proof.state != DemoProofRequest.State.REQUESTED}
        return TemplateResponse(request, "onboarding/demo_proof.html", context)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        action = request.POST.get("action", "")
        if action == "present":
            chosen = [c for c in self.held(request) if str(c.pk) == request.POST.get("credential", "")]
            if not chosen:
                return errors.bad_request(request)
            demo_verifier.demo_proof_answer(request=self.proof, credential=chosen[0])
        elif action == "decline":
            demo_verifier.demo_proof_answer(request=self.proof, credential=None)
        else:
            return errors.bad_request(request)
        return redirect("onboarding:demo_proof", token=token)
