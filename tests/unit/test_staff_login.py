"""Staff logins are throttled and logged (django-axes), and the admin can move or be switched off."""

from __future__ import annotations

import importlib
import io
import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import clear_url_caches
from django.utils import timezone

import registerft.urls

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
LOGIN = "/admin/login/"


@pytest.fixture
def staff():
    return get_user_model().objects.create_superuser("admin", "admin@example.org", PASSWORD)


def log_in(client: Client, password: str, *, username: str = "admin", path: str = LOGIN, **extra):
    return client.post(f"{path}?next=/admin/", {"username": username, "password": password}, **extra)


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_the_right_password_logs_in(staff, client):
    assert logged_in(log_in(client, PASSWORD))


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(staff, client):
    for _ in range(5):
        assert log_in(client, "wrong-guess").status_code in (200, 429)
    refused = log_in(client, PASSWORD)
    assert refused.status_code == 429
    assert not logged_in(refused)
    assert "_auth_user_id" not in client.session


def test_the_user_is_locked_from_every_address(staff):
    for number in range(5):
        log_in(Client(REMOTE_ADDR=f"198.51.100.{number + 1}"), "wrong-guess")
    assert log_in(Client(REMOTE_ADDR="203.0.113.9"), PASSWORD).status_code == 429


def test_the_address_is_locked_for_every_user_name(staff):
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    for number in range(5):
        log_in(attacker, "wrong-guess", username=f"someone-{number}")
    assert log_in(attacker, PASSWORD).status_code == 429
    # The staff member at another address is not locked out by a stranger's guesses.
    assert logged_in(log_in(Client(REMOTE_ADDR="203.0.113.9"), PASSWORD))


def test_the_lock_ends_after_the_cool_off(staff, client, settings):
    for _ in range(5):
        log_in(client, "wrong-guess")
    assert log_in(client, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert logged_in(log_in(client, PASSWORD))


def test_failures_count_against_the_address_the_trusted_proxy_saw(staff, settings):
    settings.REGISTERFT_CLIENT_IP_HEADER = "X-Forwarded-For"
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(5):
        # What the client writes on the left is its own; the proxy appends the address it saw.
        log_in(Client(**proxy), "wrong-guess", username="guess", HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.7")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
    assert log_in(Client(**proxy), PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    assert logged_in(log_in(Client(**proxy), PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.9"))


def test_an_ipv6_client_counts_as_its_64(staff):
    for number in range(5):
        log_in(Client(REMOTE_ADDR=f"2001:db8:1:2::{number + 1}"), "wrong-guess", username=f"guess-{number}")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"2001:db8:1:2::"}
    assert log_in(Client(REMOTE_ADDR="2001:db8:1:2:ffff::1"), PASSWORD).status_code == 429


def test_a_failure_is_logged_without_the_password(staff, client, caplog):
    with caplog.at_level(logging.WARNING):
        log_in(client, "hunter2-secret-guess")
    failures = [record.getMessage() for record in caplog.records if "login failure" in record.getMessage()]
    assert failures and "admin" in failures[0]
    assert "hunter2" not in caplog.text
    assert "hunter2" not in AccessAttempt.objects.get().post_data


def test_every_authenticate_call_is_guarded_as_a_staff_login_form_would_be(staff):
    """The door's staff login (django.contrib.auth's LoginView) authenticates as any form does."""
    request = RequestFactory().post("/door/login/", REMOTE_ADDR="198.51.100.8")
    for _ in range(5):
        assert authenticate(request, username="admin", password="wrong-guess") is None
    assert authenticate(RequestFactory().post("/door/login/"), username="admin", password=PASSWORD) is None


# --- Where the admin lives ----------------------------------------------------------------------


@pytest.fixture
def admin_path(settings):
    """Sets REGISTERFT_ADMIN_PATH's value and loads the URLs again with it."""

    def choose(path: str) -> None:
        settings.REGISTERFT_ADMIN_PATH = path
        importlib.reload(registerft.urls)
        clear_url_caches()

    yield choose
    settings.REGISTERFT_ADMIN_PATH = "admin/"
    importlib.reload(registerft.urls)
    clear_url_caches()


def test_the_admin_moves_to_another_path(staff, client, admin_path):
    admin_path("staff/console/")
    assert client.get("/admin/").status_code == 404
    assert client.get("/staff/console/login/").status_code == 200
    client.force_login(staff)
    assert client.get("/staff/console/onboarding/registration/").status_code == 200


def test_the_admin_switched_off_is_not_found_and_the_commands_still_work(staff, client, admin_path):
    admin_path("")
    assert client.get("/admin/").status_code == 404
    assert client.get("/admin/login/").status_code == 404
    out = io.StringIO()
    call_command("registrations", stdout=out)
    assert "(0 registrations)" in out.getvalue()


@pytest.mark.parametrize("value, expected", [("admin/", "admin/"), ("/staff/console", "staff/console/"),
                                             ("off", ""), ("OFF", "")])
def test_the_admin_path_setting_reads_a_path_or_off(monkeypatch, value, expected):
    from registerft.env import envurlpath

    monkeypatch.setenv("REGISTERFT_ADMIN_PATH", value)
    assert envurlpath("REGISTERFT_ADMIN_PATH", "admin/") == expected


@pytest.mark.parametrize("value", ["../admin", "admin?x", "a dmin/", "ädmin/", "//"])
def test_the_admin_path_setting_refuses_anything_else(monkeypatch, value):
    from django.core.exceptions import ImproperlyConfigured

    from registerft.env import envurlpath

    monkeypatch.setenv("REGISTERFT_ADMIN_PATH", value)
    with pytest.raises(ImproperlyConfigured, match="REGISTERFT_ADMIN_PATH"):
        envurlpath("REGISTERFT_ADMIN_PATH", "admin/")


def test_the_doors_staff_login_is_locked_the_same_way(client):
    door = get_user_model().objects.create_user("door1", password=PASSWORD)
    door.user_permissions.add(Permission.objects.get(codename="check_in"))
    for _ in range(5):
        assert client.post("/door/login/", {"username": "door1", "password": "wrong-guess"}).status_code in (200, 429)
    refused = client.post("/door/login/", {"username": "door1", "password": PASSWORD})
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
