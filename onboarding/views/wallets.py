"""The visitor's choice of wallet, where the portal runs several issuer backends: the choice page
(the start page before a choice), choosing, and going back to choose the other kind."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from onboarding import wallets
from onboarding.views.window import registration_closed
from onboarding.window import registration_window


def wallet_choice_response(request: HttpRequest) -> HttpResponse:
    """The start page while the visitor has not chosen: which wallet do they have? Outside the
    registration window it says so instead."""
    window = registration_window()
    if not window.is_open:
        return registration_closed(request, window)
    return TemplateResponse(request, "onboarding/choose.html", {"choices": wallets.wallet_choices()})


@method_decorator(never_cache, name="dispatch")
class ChooseWalletView(View):
    """The choice (a plain form: no JavaScript needed); the start page then runs that kind's order."""

    def post(self, request: HttpRequest) -> HttpResponse:
        if not wallets.wallet_choose(session=request.session, backend=request.POST.get("wallet", "")):
            messages.info(request, _("Please choose one of the wallets shown."))
        return redirect("onboarding:start")


@method_decorator(never_cache, name="dispatch")
class ChangeWalletView(View):
    """Back to the choice, while nothing was created at the issuer."""

    def post(self, request: HttpRequest) -> HttpResponse:
        if not wallets.wallet_change(session=request.session):
            messages.info(request, _("Your registration has already begun at the issuer. Use “Start again” to choose another wallet."))
        return redirect("onboarding:start")
