from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from onboarding.views import health, language

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    # REGISTERFT_ADMIN_PATH: the admin at another path, or none ("off"; the commands do its work).
    *([path(settings.REGISTERFT_ADMIN_PATH, admin.site.urls)] if settings.REGISTERFT_ADMIN_PATH else []),
    path("i18n/", include("django.conf.urls.i18n")),
    re_path(r"^(?P<language>de|fr|it|en)/?$", language.choose_language, name="choose_language"),
    path("", include("onboarding.urls")),
]

handler400 = "onboarding.views.errors.bad_request"
handler403 = "onboarding.views.errors.permission_denied"
handler404 = "onboarding.views.errors.page_not_found"
handler500 = "onboarding.views.errors.server_error"
