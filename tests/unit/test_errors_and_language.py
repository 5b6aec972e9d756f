"""The portal's own error pages, and the visitor's language (German unless they choose another)."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.test import Client
from django.urls import path
from django.utils import translation

from registerft import urls as portal_urls

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

LANGUAGES = ["de", "fr", "it", "en"]


def _raise(error: Exception):
    def view(request):
        raise error

    return view


# The portal's URLs, plus views that fail in each way an error page answers for.
urlpatterns = [
    path("test-errors/crash/", _raise(RuntimeError("boom"))),
    path("test-errors/forbidden/", _raise(PermissionDenied())),
    path("test-errors/suspicious/", _raise(SuspiciousOperation("odd"))),
    *portal_urls.urlpatterns,
]
handler400 = portal_urls.handler400
handler403 = portal_urls.handler403
handler404 = portal_urls.handler404
handler500 = portal_urls.handler500


def in_language(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def assert_portal_error_page(response, status: int, title: str, language: str = "de") -> None:
    assert response.status_code == status
    page = response.content.decode()
    assert html_lang(response) == language
    assert in_language(language, title) in page
    assert 'href="/"' in page  # the way back to the start
    assert in_language(language, "Back to the start") in page


# --- Error pages ------------------------------------------------------------------------------


def test_an_unknown_page_is_the_portals_own_404(client):
    assert_portal_error_page(client.get("/no-such-page"), 404, "Page not found")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_404_page_speaks_the_visitors_language(client, language):
    client.cookies["django_language"] = language
    response = client.get("/no-such-page")
    assert_portal_error_page(response, 404, "Page not found", language)
    assert response["Content-Language"] == language


def test_a_request_for_another_host_is_the_portals_own_400(client, settings):
    settings.ALLOWED_HOSTS = ["portal.example.org"]
    response = client.get("/", HTTP_HOST="attacker.example")
    assert_portal_error_page(response, 400, "Bad request")


def test_a_suspicious_request_is_the_portals_own_400(client):
    assert_portal_error_page(client.get("/test-errors/suspicious/"), 400, "Bad request")


def test_a_forbidden_page_is_the_portals_own_403(client):
    assert_portal_error_page(client.get("/test-errors/forbidden/"), 403, "Not allowed")


@pytest.mark.parametrize("form_path", ["/name", "/restart/", "/i18n/setlang/"])
def test_a_form_post_without_its_csrf_token_is_the_portals_own_403(form_path):
    browser = Client(enforce_csrf_checks=True)
    browser.get("/")  # a session and a CSRF cookie, as a real visitor has
    response = browser.post(form_path, {"first_name": "Ada", "language": "en"})
    assert_portal_error_page(response, 403, "Your session has expired")


def test_a_form_post_with_a_wrong_csrf_token_is_the_portals_own_403():
    browser = Client(enforce_csrf_checks=True)
    browser.get("/")
    response = browser.post("/restart/", {"csrfmiddlewaretoken": "x" * 64})
    assert_portal_error_page(response, 403, "Your session has expired")


def test_a_crash_is_the_portals_own_500_page():
    browser = Client(raise_request_exception=False)
    response = browser.get("/test-errors/crash/")
    assert_portal_error_page(response, 500, "Something went wrong")
    assert "Traceback" not in response.content.decode()
    # Even this page, drawn without the usual context, offers every language and, in demo mode,
    # says that the demo issuer issues nothing real.
    for code in ("de", "fr", "it", "en"):
        assert f'href="/{code}" lang="{code}"' in response.content.decode()
    assert 'class="demo-banner"' in response.content.decode()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_500_page_declares_the_language_it_is_written_in(language):
    browser = Client(raise_request_exception=False)
    browser.cookies["django_language"] = language
    assert_portal_error_page(browser.get("/test-errors/crash/"), 500, "Something went wrong", language)


# --- The original's language links ------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("suffix", ["", "/"])
def test_a_language_link_sets_the_language_and_goes_to_the_start(client, language, suffix):
    response = client.get(f"/{language}{suffix}")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert response.cookies["django_language"].value == language

    start = client.get("/")
    assert html_lang(start) == language
    assert start["Content-Language"] == language
    assert in_language(language, "Back to the start") in start.content.decode()


def test_an_unknown_language_link_is_not_found(client):
    assert client.get("/es").status_code == 404


# --- The default ------------------------------------------------------------------------------


def test_german_is_the_default(client):
    response = client.get("/")
    assert html_lang(response) == "de"
    assert response["Content-Language"] == "de"
    assert in_language("de", "Back to the start") != "Back to the start"
    assert in_language("de", "Back to the start") in response.content.decode()


def test_the_browsers_language_does_not_override_the_default(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fr-CH,fr;q=0.9,en;q=0.5")
    assert html_lang(response) == "de"


def test_the_browsers_language_is_followed_when_the_setting_says_so(client, settings):
    settings.REGISTERFT_USE_BROWSER_LANGUAGE = True
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fr-CH,fr;q=0.9,en;q=0.5")
    assert html_lang(response) == "fr"


def test_a_language_cookie_with_an_unknown_value_falls_back_to_german(client):
    client.cookies["django_language"] = "xx"
    assert html_lang(client.get("/")) == "de"


# --- The switcher ------------------------------------------------------------------------------


def test_every_page_offers_the_language_switcher(client):
    for path_ in ("/", "/no-such-page"):
        page = client.get(path_).content.decode()
        form = re.search(r'<form[^>]*class="language-switcher"[^>]*>(.*?)</form>', page, re.S)
        assert form, path_
        assert 'action="/i18n/setlang/"' in form.group(0)
        for language in LANGUAGES:
            assert f'name="language" value="{language}"' in form.group(1)


def test_the_switcher_changes_the_language_and_stays_on_the_page():
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert re.search(r'name="next" value="/"', page)
    response = browser.post(
        "/i18n/setlang/", {"csrfmiddlewaretoken": token, "language": "it", "next": "/check_connection/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/check_connection/"
    assert response.cookies["django_language"].value == "it"
    assert html_lang(browser.get("/")) == "it"


def test_the_switcher_does_not_redirect_to_another_site(client):
    response = client.post("/i18n/setlang/", {"language": "fr", "next": "https://attacker.example/"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert response.cookies["django_language"].value == "fr"


def test_the_switcher_ignores_an_unknown_language(client):
    response = client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert "django_language" not in response.cookies
    assert html_lang(client.get("/")) == "de"
