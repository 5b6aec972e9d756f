"""The visitor's side pages: help for visitors without a wallet, the privacy notice, and the
stylesheet with the event's colours."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from django.views.generic import TemplateView

from onboarding.selectors import wallet_choice_needed
from onboarding.wallets import wallet_choices


class HelpView(TemplateView):
    """Which wallet apps work, with their store links (``REGISTERFT_WALLET_APPS``), per kind of
    wallet where the visitor chooses one."""

    template_name = "onboarding/help.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["wallet_apps"] = settings.REGISTERFT_WALLET_APPS
        # Several backends: the apps listed per kind of wallet the start page offers.
        context["wallet_choices"] = wallet_choices() if wallet_choice_needed() else []
        return context


class PrivacyView(TemplateView):
    """What the form collects, why, who receives it and how long it is kept."""

    template_name = "onboarding/privacy.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            fields=[spec["label"] for spec in settings.REGISTERFT_FORM_FIELDS],
            controller=settings.REGISTERFT_PRIVACY_CONTROLLER or settings.REGISTERFT_EVENT_NAME,
            contact=settings.REGISTERFT_PRIVACY_CONTACT,
            retention_days=settings.REGISTERFT_PRIVACY_RETENTION_DAYS,
            extra_text=settings.REGISTERFT_PRIVACY_TEXT,
        )
        return context


@require_GET
@cache_control(public=True, max_age=300)
def brand_css(request: HttpRequest) -> HttpResponse:
    """The event's colours as CSS variables. A stylesheet of our own origin, because the CSP
    allows no inline styles; the settings check that both values are #rrggbb."""
    css = (
        ":root {\n"
        f"  --brand: {settings.REGISTERFT_BRAND_COLOUR};\n"
        f"  --brand-dark: {settings.REGISTERFT_BRAND_DARK_COLOUR};\n"
        "}\n"
    )
    return HttpResponse(css, content_type="text/css; charset=utf-8")
