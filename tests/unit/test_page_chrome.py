"""The pages' chrome (head links, header, steps, footer) is rendered once per process and language
and kept (templates/base.html); what is the request's own stays live."""

import re

import pytest
from django.conf import settings as django_settings
from django.utils import timezone, translation

from onboarding.models import Registration

pytestmark = pytest.mark.django_db

STEPS = "onboarding/_steps.html"


def rendered(response) -> list[str]:
    return [template.name for template in response.templates]


def current_step(page: str) -> str:
    return re.search(r'<li data-step="\w+" class="current" aria-current="step">([^<]+)</li>', page).group(1)


def test_the_steps_are_rendered_once_per_language_and_step(client):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    assert STEPS in rendered(client.get("/"))
    assert STEPS not in rendered(client.get("/"))
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "de"
    german = client.get("/")
    assert STEPS in rendered(german)
    assert 'lang="de"' in german.content.decode()[:200]


def test_each_page_marks_its_own_step_and_language_after_another_was_kept(client):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    assert current_step(client.get("/").content.decode()) == "Scan"
    registration = Registration.objects.get()
    Registration.objects.filter(pk=registration.pk).update(state=Registration.State.CONNECTED, connected_at=timezone.now())
    assert current_step(client.get("/name").content.decode()) == "Details"
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "fr"
    page = client.get("/name").content.decode()
    with translation.override("fr"):
        assert current_step(page) == translation.gettext("Details") != "Details"
    assert 'aria-current="true" class="current">Français</button>' in page


def test_the_language_form_carries_the_requests_own_token_and_path(client):
    client.get("/help/")
    second = client.get("/privacy/")
    form = re.search(r'<form class="language-switcher".*?</form>', second.content.decode(), re.S).group(0)
    assert '<input type="hidden" name="next" value="/privacy/">' in form
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    assert len(re.findall(r'<button type="submit" name="language"', form)) == len(django_settings.LANGUAGES)
    response = client.post("/i18n/setlang/", {"language": "it", "next": "/privacy/", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/privacy/"


def test_the_event_name_shown_follows_the_setting(client, settings):
    settings.REGISTERFT_EVENT_NAME = "First Conference"
    assert "First Conference" in client.get("/help/").content.decode()
    settings.REGISTERFT_EVENT_NAME = "Second Conference"
    page = client.get("/help/").content.decode()
    assert "Second Conference" in page and "First Conference" not in page


def test_while_debugging_the_chrome_is_rendered_for_every_page(client, settings):
    settings.DEBUG = True
    assert STEPS in rendered(client.get("/"))
    assert STEPS in rendered(client.get("/"))


FIELDS = "onboarding/_details_fields.html"


def test_an_empty_details_form_is_rendered_once_per_language_and_a_filled_one_each_time(client):
    client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    assert FIELDS in rendered(client.get("/"))
    assert FIELDS not in rendered(client.get("/"))
    registration = Registration.objects.get()
    Registration.objects.filter(pk=registration.pk).update(state=Registration.State.CONNECTED, connected_at=timezone.now())
    assert FIELDS not in rendered(client.get("/name"))
    sent = client.post("/name", {"first_name": "Ada", "last_name": "", "institution": "x" * 500})
    assert sent.status_code == 400 and FIELDS in rendered(sent)
    page = sent.content.decode()
    assert 'value="Ada"' in page and 'aria-invalid="true"' in page
    assert FIELDS in rendered(client.post("/name", {"first_name": "Ada", "last_name": "", "institution": "x" * 500}))
