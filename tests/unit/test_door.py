"""The door with the demo verifier, through Django's test client: staff login, a fresh request,
the demo wallet presenting, the green, amber and red results, the check by hand."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from onboarding.models import CheckIn, DemoConnection, DemoCredential, DoorRequest, Registration

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_class():
    """Another browser: the visitor's phone with its demo wallet."""
    return Client


def staff_user(username: str = "door1", *, allowed: bool = True) -> User:
    user = User.objects.create_user(username, password="a long door password")
    if allowed:
        user.user_permissions.add(Permission.objects.get(codename="check_in"))
    return user


@pytest.fixture
def staff(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the reasons are read in English below
    staff_user()
    response = client.post("/door/login/", {"username": "door1", "password": "a long door password"})
    assert response.status_code == 302 and response["Location"] == "/door/"
    return client


def issued_registration(wallet, *, first_name: str = "Ada", last_name: str = "Lovelace") -> Registration:
    """A registration issued with the demo issuer, its credential held by ``wallet`` (a browser)."""
    connection = DemoConnection.objects.create(label="event", state=DemoConnection.State.ACTIVE)
    registration = Registration.objects.create(
        backend="demo", invitation_id=str(connection.pk), invitation_url="/x", connection_id=str(connection.pk),
        state=Registration.State.ISSUED, attributes={"first_name": first_name, "last_name": last_name},
    )
    credential = DemoCredential.objects.create(
        connection=connection, attributes=registration.attributes, credential_id=registration.credential_id
    )
    wallet_path = f"/demo/wallet/{connection.token}/"
    assert wallet.post(wallet_path, {"action": "accept", "credential": str(credential.pk)}).status_code == 302
    return registration


def door_request_page(staff) -> tuple[DoorRequest, str]:
    response = staff.get("/door/")
    assert response.status_code == 302
    page = staff.get(response["Location"])
    assert page.status_code == 200
    return DoorRequest.objects.latest("created_at"), page.content.decode()


def present(wallet, door_page: str, *, decline: bool = False) -> None:
    """The visitor's wallet follows the QR's short link and shows its credential."""
    short = re.search(r'class="invitation-link"><a href="([^"]+)"', door_page).group(1).replace("http://testserver", "")
    proof_path = wallet.get(short)["Location"]
    page = wallet.get(proof_path).content.decode()
    if decline:
        wallet.post(proof_path, {"action": "decline"})
        return
    credential = re.search(r'name="credential" value="([^"]+)"', page).group(1)
    assert wallet.post(proof_path, {"action": "present", "credential": credential}).status_code == 302


def result_of(staff, door_request: DoorRequest) -> str:
    status = staff.get(f"/door/r/{door_request.pk}/status").json()
    assert status["state"] == "moved", status
    return staff.get(status["next"]).content.decode()


def test_a_visitor_is_welcomed_by_first_name_once_the_wallet_presents(staff, client_class, settings):
    settings.REGISTERFT_EVENT_NAME = "Open Day"
    wallet = client_class()
    issued_registration(wallet)
    door_request, page = door_request_page(staff)
    assert "<svg" in page and f'data-poll-url="/door/r/{door_request.pk}/status"' in page
    assert staff.get(f"/door/r/{door_request.pk}/status").json()["state"] == "waiting"
    present(wallet, page)
    result = result_of(staff, door_request)
    assert 'data-result="green"' in result and "Ada" in result and "Open Day" in result
    check_in = CheckIn.objects.get()
    assert (check_in.outcome, check_in.staff_name, check_in.door, check_in.method) == ("admitted", "door1", "door1", "scan")


def test_a_second_presentation_of_the_same_credential_is_amber_and_staff_can_admit_again(staff, client_class):
    wallet = client_class()
    issued_registration(wallet)
    for _ in range(2):
        door_request, page = door_request_page(staff)
        present(wallet, page)
        result = result_of(staff, door_request)
    assert 'data-result="amber"' in result
    already = CheckIn.objects.get(reason="already")
    again = staff.post(f"/door/checkins/{already.pk}/again/")
    assert 'data-result="green"' in staff.get(again["Location"]).content.decode()
    assert list(CheckIn.objects.order_by("pk").values_list("outcome", flat=True)) == ["admitted", "refused", "readmitted"]


def test_a_withdrawn_registration_is_refused_with_the_reason(staff, client_class):
    wallet = client_class()
    registration = issued_registration(wallet)
    Registration.objects.filter(pk=registration.pk).update(withdrawn_at=timezone.now())
    door_request, page = door_request_page(staff)
    present(wallet, page)
    result = result_of(staff, door_request)
    assert 'data-result="red"' in result and "withdrawn" in result
    assert CheckIn.objects.get().reason == "withdrawn"


def test_an_expired_credential_is_refused(staff, client_class):
    wallet = client_class()
    registration = issued_registration(wallet)
    DemoCredential.objects.filter(credential_id=registration.credential_id).update(
        valid_until=timezone.now() - timedelta(minutes=1)
    )
    door_request, page = door_request_page(staff)
    present(wallet, page)
    assert "expired" in result_of(staff, door_request)


def test_a_wallet_that_declines_is_red_without_a_check_in(staff, client_class):
    wallet = client_class()
    issued_registration(wallet)
    door_request, page = door_request_page(staff)
    present(wallet, page, decline=True)
    assert "declined" in result_of(staff, door_request)
    assert not CheckIn.objects.exists()


def test_a_request_nobody_answers_ends_red_after_its_time(staff, settings):
    door_request, _page = door_request_page(staff)
    DoorRequest.objects.filter(pk=door_request.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.REGISTERFT_DOOR_REQUEST_TTL + 1)
    )
    assert "No answer in time" in result_of(staff, door_request)
    assert DoorRequest.objects.get().state == "no_answer"


def test_the_door_page_shows_the_live_count(staff, client_class):
    wallet = client_class()
    issued_registration(wallet)
    door_request, page = door_request_page(staff)
    present(wallet, page)
    result_of(staff, door_request)
    page = staff.get(f"/door/r/{door_request.pk}/").content.decode()  # settled: redirects to the result
    counts = re.findall(r"<dd>(\d+)</dd>", staff.get("/door/manual/").content.decode())
    assert counts == ["1", "1", "0"]


def test_the_door_is_for_logged_in_staff_only(client):
    assert client.get("/door/")["Location"].startswith("/door/login/?next=")
    client.force_login(staff_user("visitor", allowed=False))
    assert client.get("/door/").status_code == 403


def test_staff_stay_logged_in_for_the_event_and_can_log_out(staff, settings):
    assert staff.session.get_expiry_age() == settings.REGISTERFT_STAFF_SESSION_AGE
    assert staff.post("/door/logout/").status_code == 302
    assert staff.get("/door/").status_code == 302


def test_staff_name_their_door_and_the_check_in_records_it(staff, client_class):
    wallet = client_class()
    issued_registration(wallet)
    staff.get("/door/?door=North")
    door_request, page = door_request_page(staff)
    present(wallet, page)
    result_of(staff, door_request)
    assert CheckIn.objects.get().door == "North"


def test_staff_find_a_visitor_by_two_letters_and_check_them_in_by_hand(staff, client_class):
    registration = issued_registration(client_class(), first_name="Grace", last_name="Hopper")
    assert "Grace" not in staff.get("/door/manual/?q=G").content.decode()
    assert "Grace" in staff.get("/door/manual/?q=ho").content.decode()
    response = staff.post("/door/manual/", {"registration": str(registration.pk)})
    assert 'data-result="green"' in staff.get(response["Location"]).content.decode()
    check_in = CheckIn.objects.get()
    assert (check_in.method, check_in.staff_name) == ("manual", "door1")


def test_a_visitor_checked_in_by_hand_is_already_in_when_their_wallet_presents(staff, client_class):
    wallet = client_class()
    registration = issued_registration(wallet)
    staff.post("/door/manual/", {"registration": str(registration.pk)})
    door_request, page = door_request_page(staff)
    present(wallet, page)
    assert 'data-result="amber"' in result_of(staff, door_request)


def test_the_search_shows_a_few_results_not_everybody(staff, client_class):
    for number in range(8):
        issued_registration(client_class(), first_name=f"Ada{number}")
    page = staff.get("/door/manual/?q=Ada").content.decode()
    assert len(re.findall(r'name="registration"', page)) == 5


def test_a_backend_that_cannot_verify_offers_the_check_by_hand_only(staff, settings):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    page = staff.get("/door/")
    assert page.status_code == 200
    assert "by name only" in page.content.decode()
    assert not DoorRequest.objects.exists()


def test_the_door_link_hands_a_wallet_asking_for_json_the_invitation_and_others_a_redirect(client):
    import base64
    import json

    invitation = {"@type": "https://didcomm.org/out-of-band/1.1/invitation", "@id": "inv-1"}
    encoded = base64.urlsafe_b64encode(json.dumps(invitation).encode()).decode().rstrip("=")
    url = f"http://agent.test:8030?oob={encoded}"
    door_request = DoorRequest.objects.create(backend="acapy", door="North", request_id="px-1", invitation_url=url)
    link = f"/d/{door_request.short_code}"
    assert client.get(link, HTTP_ACCEPT="application/json").json() == invitation
    redirected = client.get(link)
    assert redirected.status_code == 302 and redirected["Location"] == url
    DoorRequest.objects.filter(pk=door_request.pk).update(state=DoorRequest.State.DONE)
    assert client.get(link, HTTP_ACCEPT="application/json").status_code == 410
