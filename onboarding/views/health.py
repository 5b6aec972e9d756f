"""Probes for load balancers and orchestrators: cheap, never rate-limited, without cookies.

Neither view touches the session, so no session is loaded or saved and no cookie is set; both are
exempt from the HTTPS redirect (SECURE_REDIRECT_EXEMPT), as probes usually speak plain HTTP.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from onboarding import admin_services


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers requests."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """The instance can serve visitors: 200 when its database and cache answer, else 503.

    The issuer's state is reported in the body from a recent background check, but does not
    decide readiness.
    """
    state = admin_services.readiness()
    body = {
        "status": "ok" if state.ready else "unavailable",
        "database": "ok" if state.database else "unreachable",
        "cache": "ok" if state.cache else "unreachable",
        "issuer": state.issuer,
    }
    return JsonResponse(body, status=200 if state.ready else 503)
