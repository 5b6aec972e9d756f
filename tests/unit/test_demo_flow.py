"""The whole flow with the embedded demo issuer, through Django's test client."""

import re

import pytest
from django.urls import reverse

from onboarding.models import DemoConnection, Registration

pytestmark = pytest.mark.django_db


def wallet_path_from(start_page: str, client) -> str:
    """Follow the QR's short link the way a phone's camera would."""
    short = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', start_page).group(1)
    response = client.get(short.replace("http://testserver", ""))
    assert response.status_code == 302
    return response["Location"].replace("http://testserver", "")


def test_a_visitor_completes_the_flow_with_the_demo_wallet(client):
    wallet = type(client)()  # the phone is another browser
    start = client.get("/")
    assert start.status_code == 200
    assert "<svg" in start.content.decode()
    wallet_path = wallet_path_from(start.content.decode(), wallet)

    assert client.get("/check_connection/status").json()["state"] == "waiting"
    assert wallet.post(wallet_path, {"action": "connect"}).status_code == 302
    status = client.get("/check_connection/status").json()
    assert status == {"state": "moved", "next": "/name", "message": "", "issuer": "ok", "in_place": True}

    response = client.post("/name", {"first_name": " Ada ", "last_name": "Lovelace", "institution": "Analytical"})
    assert response.status_code == 302 and response["Location"] == "/loading/"
    assert client.get("/loading/status").json()["state"] == "waiting"

    offer_page = wallet.get(wallet_path).content.decode()
    assert "Lovelace" in offer_page
    credential = re.search(r'name="credential" value="([^"]+)"', offer_page).group(1)
    wallet.post(wallet_path, {"action": "accept", "credential": credential})

    assert client.get("/loading/status").json()["next"] == "/success"
    success = client.get("/success")
    assert success.status_code == 200
    registration = Registration.objects.get()
    assert registration.state == Registration.State.ISSUED
    assert registration.attributes == {"first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical"}
    # The flow's state left the session; a reload still thanks the visitor.
    assert client.get("/success").status_code == 200
    assert client.get("/loading/").status_code == 302


def test_reloading_the_start_page_reuses_the_invitation(client):
    client.get("/")
    client.get("/")
    assert Registration.objects.count() == 1
    assert DemoConnection.objects.count() == 1


def test_a_declined_credential_is_a_failure_with_start_again(client):
    wallet = type(client)()
    wallet_path = wallet_path_from(client.get("/").content.decode(), wallet)
    wallet.post(wallet_path, {"action": "connect"})
    assert client.get("/check_connection/").status_code == 302  # moves on to the form
    client.post("/name", {"first_name": "Ada", "last_name": "Lovelace", "institution": "X"})
    credential = re.search(r'name="credential" value="([^"]+)"', wallet.get(wallet_path).content.decode()).group(1)
    wallet.post(wallet_path, {"action": "decline", "credential": credential})

    status = client.get("/loading/status").json()
    assert status["state"] == "failed"
    page = client.get("/loading/")
    assert page.status_code == 200
    assert reverse("onboarding:restart") in page.content.decode()
    assert client.get("/success").status_code == 302
    client.post("/restart/")
    assert client.get("/").status_code == 200
    assert Registration.objects.count() == 2


def headings_through_the_flow(language: str, client, wallet) -> dict[str, str]:
    """Each step's page in ``language``: its h1, as the visitor reads it, and its own wallet too."""
    client.cookies["django_language"] = language
    wallet.cookies["django_language"] = language
    seen = {}

    def read(step: str, response) -> None:
        assert response.status_code == 200, (language, step)
        assert response["Content-Language"] == language, (language, step)
        seen[step] = re.search(r"<h1>(.*?)</h1>", response.content.decode(), re.S).group(1).strip()

    start = client.get("/")
    read("start", start)
    wallet_path = wallet_path_from(start.content.decode(), wallet)
    read("demo wallet", wallet.get(wallet_path))
    read("check_connection", client.get("/check_connection/"))
    wallet.post(wallet_path, {"action": "connect"})
    assert client.get("/check_connection/status").json()["next"] == "/name"
    read("name", client.get("/name"))
    assert client.post("/name", {"first_name": "Ada", "last_name": "Lovelace", "institution": "AE"}).status_code == 302
    read("loading", client.get("/loading/"))
    credential = re.search(r'name="credential" value="([^"]+)"', wallet.get(wallet_path).content.decode()).group(1)
    wallet.post(wallet_path, {"action": "accept", "credential": credential})
    assert client.get("/loading/status").json()["next"] == "/success"
    read("success", client.get("/success"))
    return seen


@pytest.mark.parametrize("language", ["de", "fr", "it"])
def test_a_visitor_completes_the_flow_in_each_language_with_every_page_translated(client, language):
    english = headings_through_the_flow("en", type(client)(), type(client)())
    translated = headings_through_the_flow(language, client, type(client)())
    assert translated.keys() == english.keys()
    untranslated = [step for step in english if translated[step] == english[step]]
    assert not untranslated, f"{language}: {untranslated} show the English heading"
    assert Registration.objects.filter(state=Registration.State.ISSUED).count() == 2
