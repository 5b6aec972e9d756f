"""The portal's URLs plus a minimal Django view, measured as the ceiling in the same run.

Only the benchmark's settings (``bench.settings``) use this URLconf: the product never serves it.
"""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from registerft.urls import handler400, handler403, handler404, handler500, urlpatterns as portal_urls  # noqa: F401


def minimal(request: HttpRequest) -> HttpResponse:
    """The least a Django view can do: every middleware of the portal runs, nothing else."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/minimal", minimal), *portal_urls]
