"""The door with real ACA-Py agents: the portal's issuer agent verifies, holder agents present.

Door staff are a requests.Session logged in to the live portal; the wallet is a holder agent that
takes the door's invitation from the QR code's short link and answers it. Credentials come from
the portal's own registration flow (tests/integration/test_acapy_flow.py), unbound (the holder
answers the offer by itself) or bound to a did:key of the holder (``send-request`` with
``holder_did``, as issue 12 measured).
"""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from onboarding.models import CheckIn, DoorRequest, Registration
from tests.integration.agents import Agent
from tests.integration.test_acapy_flow import Visitor, details, stored_credential, wait_for, wallet_receives

pytestmark = pytest.mark.integration

PASSWORD = "a long door password"
DESCRIPTOR = "registerft"  # the input descriptor's id in the door's request


class Door:
    """A member of staff's browser at one door."""

    def __init__(self, portal: str, username: str, door: str):
        if not User.objects.filter(username=username).exists():
            user = User.objects.create_user(username, password=PASSWORD)
            user.user_permissions.add(Permission.objects.get(codename="check_in"))
        self.portal = portal
        self.browser = requests.Session()
        self.browser.cookies.set(settings.LANGUAGE_COOKIE_NAME, "en")
        login = self.browser.get(portal + "/door/login/", timeout=20)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        answer = self.browser.post(
            portal + "/door/login/", data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": portal + "/door/login/"}, allow_redirects=False, timeout=20,
        )
        assert answer.status_code == 302, answer.text[:500]
        self.door = door

    def get(self, path: str) -> requests.Response:
        return self.browser.get(self.portal + path, timeout=20)

    def new_request(self) -> tuple[DoorRequest, str]:
        """A fresh request's page, and the short link its QR code holds."""
        page = self.browser.get(self.portal + "/door/", params={"door": self.door}, timeout=20)
        assert page.status_code == 200 and "/door/r/" in page.url, page.text[:500]
        link = re.search(r'class="invitation-link"><a href="([^"]+)"', page.text).group(1)
        pk = re.search(r"/door/r/([0-9a-f-]+)/", page.url).group(1)
        return DoorRequest.objects.get(pk=pk), link

    def result(self, door_request: DoorRequest, *, deadline: float = 20.0) -> tuple[str, str]:
        """The colour and the text of the result, polled as the page does."""
        def moved() -> str | None:
            return self.get(f"/door/r/{door_request.pk}/status").json()["next"]

        page = self.get(wait_for("the door's result", moved, deadline=deadline, pause=0.1))
        assert page.status_code == 200, page.text[:500]
        colour = re.search(r'data-result="(\w+)"', page.text).group(1)
        return colour, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))


def holder_request(holder: Agent, link: str) -> str:
    """The wallet reads the door's QR link and receives the request: its own record's id."""
    invitation = wallet_receives(link, holder)
    thread = invitation["invitation"]["requests~attach"][0]["data"]["json"]["@id"]

    def received() -> str | None:
        found = holder.get("/present-proof-2.0/records", thread_id=thread)["results"]
        return found[0]["pres_ex_id"] if found and found[0]["state"] == "request-received" else None

    return wait_for("the request in the wallet", received)


def present(holder: Agent, link: str, record_id: str, *, signer: str = "") -> None:
    """Show the credential ``record_id``; ``signer``: the did:key that signs the presentation
    (an unbound credential names none, so the wallet must choose one)."""
    pres_ex_id = holder_request(holder, link)
    dif: dict = {"record_ids": {DESCRIPTOR: [record_id]}}
    if signer:
        dif["issuer_id"] = signer
    holder.post(f"/present-proof-2.0/records/{pres_ex_id}/send-presentation", {"dif": dif})


def delete(agent: Agent, path: str) -> None:
    requests.delete(agent.admin_url + path, headers=agent.headers, timeout=15).raise_for_status()


def did_key(agent: Agent) -> str:
    return agent.post("/wallet/did/create", {"method": "key", "options": {"key_type": "ed25519"}})["result"]["did"]


def record_of(holder: Agent, credential_id: str) -> dict:
    for item in holder.post("/credentials/w3c", {}).get("results", []):
        if item["cred_value"].get("id") == credential_id:
            return item
    raise AssertionError(f"{credential_id} is not in the wallet")


def register(portal: str, holder: Agent) -> Registration:
    """An unbound credential, through the portal's flow: the holder answers the offer by itself."""
    visitor = Visitor(portal)
    wallet_receives(visitor.invitation_link(), holder)
    visitor.wait_until_moved("/check_connection/status", "/name")
    submitted = details()
    assert visitor.submit_details(submitted).status_code == 302
    visitor.wait_until_moved("/loading/status", "/success")
    wait_for("the credential in the wallet", lambda: stored_credential(holder, submitted))
    return Registration.objects.get(attributes=submitted)


def register_bound(portal: str, holder: Agent) -> tuple[Registration, str]:
    """A credential bound to a did:key of the holder: it requests the offer with ``holder_did``."""
    holder_did = did_key(holder)
    visitor = Visitor(portal)
    wallet_receives(visitor.invitation_link(), holder)
    visitor.wait_until_moved("/check_connection/status", "/name")
    submitted = details()
    assert visitor.submit_details(submitted).status_code == 302

    def offer() -> str | None:
        records = holder.get("/issue-credential-2.0/records", state="offer-received")["results"]
        return records[0]["cred_ex_record"]["cred_ex_id"] if records else None

    holder.post(f"/issue-credential-2.0/records/{wait_for('the offer', offer)}/send-request", {"holder_did": holder_did})
    visitor.wait_until_moved("/loading/status", "/success")
    credential = wait_for("the credential in the wallet", lambda: stored_credential(holder, submitted))
    assert credential["credentialSubject"]["id"] == holder_did
    return Registration.objects.get(attributes=submitted), holder_did


@pytest.fixture
def door(portal) -> Door:
    return Door(portal, "door1", "North")


def test_a_visitor_is_welcomed_and_two_doors_at_once_admit_a_credential_once(portal, door, holder_agent):
    registration = register(portal, holder_agent)
    record = record_of(holder_agent, registration.credential_id)["record_id"]
    signer = did_key(holder_agent)
    first_name = registration.attributes["first_name"]

    started = time.monotonic()
    door_request, link = door.new_request()
    present(holder_agent, link, record, signer=signer)
    colour, text = door.result(door_request)
    print(f"\ndoor: request to result {time.monotonic() - started:.2f} s")
    assert colour == "green" and f"Welcome, {first_name}" in text

    # A replay: the same credential again is "already checked in", with the first door's name.
    door_request, link = door.new_request()
    present(holder_agent, link, record, signer=signer)
    colour, text = door.result(door_request)
    assert colour == "amber" and "Already checked in" in text and "North" in text

    # Two doors at once with a fresh credential: one admits, the other says "already".
    other = register(portal, holder_agent)
    other_record = record_of(holder_agent, other.credential_id)["record_id"]
    doors = [door, Door(portal, "door2", "South")]
    requests_and_links = [d.new_request() for d in doors]
    for _, link in requests_and_links:
        present(holder_agent, link, other_record, signer=signer)
    results: list[str] = []
    threads = [threading.Thread(target=lambda d=d, r=r: results.append(d.result(r)[0]))
               for d, (r, _) in zip(doors, requests_and_links)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["amber", "green"]
    assert CheckIn.objects.filter(registration=other, outcome="admitted").count() == 1


def test_a_bound_credential_is_admitted_from_its_holder_and_refused_from_another(
    portal, door, refusing_holder_agent, holder_agent
):
    registration, holder_did = register_bound(portal, refusing_holder_agent)
    item = record_of(refusing_holder_agent, registration.credential_id)

    # The holder signs with the key the credential names, without being told which.
    door_request, link = door.new_request()
    present(refusing_holder_agent, link, item["record_id"])
    colour, text = door.result(door_request)
    assert colour == "green", text
    presented = CheckIn.objects.get(registration=registration)
    assert presented.outcome == "admitted"

    # Somebody else holds a copy and signs with their own key.
    holder_agent.post("/vc/credentials/store", {"verifiableCredential": item["cred_value"]})
    copy = record_of(holder_agent, registration.credential_id)["record_id"]
    door_request, link = door.new_request()
    present(holder_agent, link, copy, signer=did_key(holder_agent))
    colour, text = door.result(door_request)
    assert colour == "red" and "somebody else" in text, text


def test_a_tampered_and_a_foreign_credential_are_refused(portal, door, holder_agent):
    registration = register(portal, holder_agent)
    item = record_of(holder_agent, registration.credential_id)
    signer = did_key(holder_agent)

    # The signed credential with another first name: its proof no longer matches.
    tampered = {**item["cred_value"]}
    tampered["credentialSubject"] = {**tampered["credentialSubject"], "first_name": "Mallory"}
    # The wallet stores it under its id as record id (unchecked, as a forger's wallet would).
    holder_agent.post("/vc/credentials/store", {"verifiableCredential": tampered, "options": {"skipVerification": True}})
    door_request, link = door.new_request()
    present(holder_agent, link, registration.credential_id, signer=signer)
    colour, text = door.result(door_request)
    assert colour == "red" and "Invalid signature" in text, text
    delete(holder_agent, f"/credential/w3c/{registration.credential_id}")

    # The same claims, signed by a did:key the portal does not know.
    foreign = {key: value for key, value in item["cred_value"].items() if key != "proof"}
    foreign["issuer"] = signer
    signed = holder_agent.post("/vc/credentials/issue", {"credential": foreign,
                                                         "options": {"proofType": "Ed25519Signature2020"}})
    holder_agent.post("/vc/credentials/store", {"verifiableCredential": signed["verifiableCredential"]})
    door_request, link = door.new_request()
    present(holder_agent, link, registration.credential_id, signer=signer)
    colour, text = door.result(door_request)
    assert colour == "red" and "Not this event" in text, text
    assert not CheckIn.objects.filter(outcome="admitted").exists()


def test_a_withdrawn_registration_is_refused(portal, door, holder_agent):
    registration = register(portal, holder_agent)
    Registration.objects.filter(pk=registration.pk).update(withdrawn_at=timezone.now())
    door_request, link = door.new_request()
    present(holder_agent, link, record_of(holder_agent, registration.credential_id)["record_id"],
            signer=did_key(holder_agent))
    colour, text = door.result(door_request)
    assert colour == "red" and "withdrawn" in text, text


def test_an_unanswered_request_and_a_declining_wallet_end_red(portal, settings, door, holder_agent):
    settings.REGISTERFT_DOOR_REQUEST_TTL = 2
    door_request, link = door.new_request()
    colour, text = door.result(door_request)
    assert colour == "red" and "No answer in time" in text

    settings.REGISTERFT_DOOR_REQUEST_TTL = 60
    door_request, link = door.new_request()
    pres_ex_id = holder_request(holder_agent, link)
    holder_agent.post(f"/present-proof-2.0/records/{pres_ex_id}/problem-report", {"description": "not now"})
    colour, text = door.result(door_request, deadline=10.0)
    assert colour == "red" and "declined" in text, text


def test_an_expired_credential_is_refused_as_expired(portal, settings, door, holder_agent):
    settings.REGISTERFT_CREDENTIAL_VALID_UNTIL = timezone.now() + timedelta(seconds=3)
    registration = register(portal, holder_agent)
    wait_for("the expiry", lambda: timezone.now() > settings.REGISTERFT_CREDENTIAL_VALID_UNTIL)
    door_request, link = door.new_request()
    present(holder_agent, link, record_of(holder_agent, registration.credential_id)["record_id"],
            signer=did_key(holder_agent))
    colour, text = door.result(door_request)
    assert colour == "red" and "expired" in text, text
