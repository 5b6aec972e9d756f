"""The Django admin: registrations are listed, searched and filtered, never edited there."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from onboarding.models import Registration

pytestmark = pytest.mark.django_db

LIST = "/admin/onboarding/registration/"


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.org", "a-long-test-password")
    client.force_login(user)
    return client


def registration(state: str = "issued", **attributes: str) -> Registration:
    return Registration.objects.create(backend="demo", state=state, invitation_id="i", invitation_url="/x",
                                       attributes=attributes)


def listed(response) -> set[str]:
    return {str(item.pk) for item in response.context["cl"].result_list}


def test_the_list_shows_each_registrations_details(admin_client):
    registration(first_name="Ada", last_name="Lovelace")
    page = admin_client.get(LIST)
    assert page.status_code == 200
    assert "Ada, Lovelace" in page.content.decode()


def test_the_list_filters_by_state(admin_client):
    issued = registration(state="issued")
    registration(state="failed")
    assert listed(admin_client.get(LIST, {"state__exact": "issued"})) == {str(issued.pk)}


@pytest.mark.parametrize("term", ["Lovelace", "lovelace", "Jürg", "Müller", "Jürg Müller"])
def test_the_search_finds_names_with_and_without_accents(admin_client, term):
    ada = registration(first_name="Ada", last_name="Lovelace")
    jurg = registration(first_name="Jürg", last_name="Müller")
    registration(first_name="Grace", last_name="Hopper")
    expected = {str(ada.pk)} if term.lower() == "lovelace" else {str(jurg.pk)}
    assert listed(admin_client.get(LIST, {"q": term})) == expected


def test_registrations_cannot_be_added_changed_or_deleted_in_the_admin(admin_client):
    record = registration(first_name="Ada")
    assert admin_client.get(f"{LIST}add/").status_code == 403
    change = admin_client.post(f"{LIST}{record.pk}/change/", {"state": "failed"})
    assert change.status_code == 403
    assert admin_client.post(f"{LIST}{record.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = admin_client.post(LIST, {"action": "delete_selected", "_selected_action": [str(record.pk)], "post": "yes"})
    assert bulk.status_code in (200, 302)
    assert Registration.objects.get().state == "issued"
    assert "delete_selected" not in admin_client.get(LIST).content.decode()
