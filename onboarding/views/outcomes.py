"""What a visitor is told when the issuer fails or their registration did: the messages and the
error page, shared by the flow's steps (connection-first and offer-first)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from onboarding.issuers.base import IssuerError, IssuerTimeout, IssuerUnavailable
from onboarding.models import Registration
from onboarding.text import foreign_text

State = Registration.State


def issuer_error_message(error: IssuerError) -> str:
    if isinstance(error, IssuerTimeout):
        return _("The credential issuer is taking too long to answer. Please try again in a moment.")
    if isinstance(error, IssuerUnavailable):
        return _("The credential issuer cannot be reached right now. Please try again in a moment.")
    return _("The credential issuer gave an answer we did not expect. Please try again in a moment.")


FAILURE_MESSAGES = {
    Registration.Failure.CONNECTION_FAILED: N_("The wallet could not connect to the issuer."),
    Registration.Failure.INVITATION_EXPIRED: N_("The QR code has expired before a wallet connected."),
    Registration.Failure.DETAILS_EXPIRED: N_("Your details were not sent in time."),
    Registration.Failure.OFFER_DECLINED: N_("The credential was declined or could not be issued."),
    Registration.Failure.OFFER_EXPIRED: N_("The credential was not accepted in time."),
}


def failure_message(registration: Registration) -> str:
    return _(FAILURE_MESSAGES.get(registration.failure, N_("Something went wrong with your registration.")))


# Failures the wallet or the issuer agent explained: their own words (a problem report's text, or
# the state the agent ended in) help the visitor and the help desk more than our summary alone.
REASONED_FAILURES = (Registration.Failure.CONNECTION_FAILED, Registration.Failure.OFFER_DECLINED)


def failure_reason(registration: Registration) -> str:
    if registration.state != State.FAILED or registration.failure not in REASONED_FAILURES:
        return ""
    # The wallet's or the agent's own words: no direction overrides or controls, one short line.
    return foreign_text(registration.failure_detail)


# The start page tries again by itself after an issuer failure, waiting twice as long each time
# (10 s, 20 s, ... 5 minutes), so that a crowd does not hammer an issuer that is coming back and a
# visitor stays within the rate limit on new invitations.
RETRY_FIRST_SECONDS = 10
RETRY_MAX_SECONDS = 300


def retry_after_seconds(attempt: int) -> int:
    return min(RETRY_FIRST_SECONDS * 2 ** min(attempt, 10), RETRY_MAX_SECONDS)


def issuer_error_response(request: HttpRequest, error: IssuerError, *, retry_path: str = "") -> HttpResponse:
    """The issuer failed: a clear page with the status that says why.

    A GET page tries again by itself (``?retry=N`` counts the attempts); after a form was sent,
    the page offers ``retry_path`` instead, since sending the form again is the visitor's choice.
    """
    context: dict[str, Any] = {"message": issuer_error_message(error), "retry_url": retry_path or request.path}
    if request.method == "GET" and not retry_path:
        attempt = request.GET.get("retry", "")
        attempt_number = int(attempt) if attempt.isdigit() and len(attempt) < 3 else 0
        seconds = retry_after_seconds(attempt_number)
        context.update(retry_url=f"{request.path}?retry={attempt_number + 1}", retry_seconds=seconds)
    response = TemplateResponse(request, "onboarding/issuer_error.html", context, status=error.status)
    if "retry_seconds" in context:
        response["Retry-After"] = str(context["retry_seconds"])
    return response
