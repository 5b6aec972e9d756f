"""Probes for load balancers and orchestrators, and the metrics: cheap, never rate-limited,
without cookies.

No view here touches the session, so no session is loaded or saved and no cookie is set. The two
probes are exempt from the HTTPS redirect (SECURE_REDIRECT_EXEMPT), as probes usually speak plain
HTTP; the metrics are not, since their bearer token must not cross a network in clear.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from onboarding.health import metrics_exposition, readiness


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
    state = readiness()
    body = {
        "status": "ok" if state.ready else "unavailable",
        "database": "ok" if state.database else "unreachable",
        "cache": "ok" if state.cache else "unreachable",
        "issuer": state.issuer,
        "issuers": state.issuers,
    }
    return JsonResponse(body, status=200 if state.ready else 503)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics: absent unless REGISTERFT_METRICS is on; with REGISTERFT_METRICS_TOKEN set,
    only for ``Authorization: Bearer <token>``."""
    if not settings.REGISTERFT_METRICS:
        raise Http404
    token = settings.REGISTERFT_METRICS_TOKEN
    if token:
        offered = request.headers.get("Authorization", "")
        if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
            response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)
