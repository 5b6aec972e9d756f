"""Two backends on one portal: the visitor chooses their kind of wallet, and each choice runs its
own order. agent-rest (connection-first, its API mocked with ``responses``) beside the demo issuer
in its offer-first mode."""

import re

import pytest
import responses
from django.test import Client

from onboarding.issuers import UnknownBackend, get_issuer
from onboarding.models import Registration

pytestmark = pytest.mark.django_db

CONNECTION_URL = "http://agent.example:9000"
ISSUER_URL = "http://issuer.example:9001"
INVITATION_URL = "https://agent.example/invite?c_i=eyJAdHlwZSI6ICJpbnZpdGF0aW9uIn0"
DETAILS = {"first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical"}
State = Registration.State


@pytest.fixture(autouse=True)
def agent(settings):
    settings.REGISTERFT_ISSUERS = ("agent-rest", "demo")
    settings.REGISTERFT_DEMO_FLOW = "offer-first"
    settings.AGENT_REST_CONNECTION_URL = CONNECTION_URL
    settings.AGENT_REST_ISSUER_URL = ISSUER_URL
    settings.REGISTERFT_STATUS_CHECK_INTERVAL = 0
    get_issuer.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def visitor(client):
    client.cookies["django_language"] = "en"
    return client


def choose(visitor: Client, backend: str):
    return visitor.post("/wallet/", {"wallet": backend})


def offer_link_from(page: str) -> str:
    return re.search(r'id="offer-url"[^>]*value="([^"]+)"', page).group(1).replace("http://testserver", "")


def test_it_asks_which_wallet_the_visitor_has_before_anything_else(visitor, agent):
    response = visitor.get("/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Which wallet do you have?" in page
    assert 'name="wallet" value="agent-rest"' in page and 'name="wallet" value="demo"' in page
    assert page.index('value="agent-rest"') < page.index('value="demo"')  # the settings' order
    assert "DIDComm wallet" in page and "Demo wallet" in page
    assert 'href="/help/#wallet-agent-rest"' in page
    assert Registration.objects.count() == 0 and not agent.calls  # nothing is made before the choice


def test_the_choice_page_needs_no_javascript(visitor):
    page = visitor.get("/").content.decode()
    form = re.search(r'<form method="post" action="/wallet/".*?</form>', page, re.S).group(0)
    assert 'type="submit"' in form and "csrfmiddlewaretoken" in form


def test_a_didcomm_visitor_gets_the_connection_first_order_at_their_backend(visitor, agent):
    agent.post(f"{CONNECTION_URL}/connection/invitation", json={"invitationUrl": INVITATION_URL, "connectionId": "c-1"})
    assert choose(visitor, "agent-rest")["Location"] == "/"
    page = visitor.get("/").content.decode()
    assert "Scan with your wallet" in page and 'aria-current="step">Scan<' in page
    registration = Registration.objects.get()
    assert registration.backend == "agent-rest" and registration.state == State.INVITED
    agent.get(f"{CONNECTION_URL}/connection/c-1", json="established")
    assert visitor.get("/check_connection/status").json()["next"] == "/name"


def test_a_visitor_of_the_other_kind_gets_the_offer_first_order_to_success(visitor, agent):
    choose(visitor, "demo")
    assert visitor.get("/")["Location"] == "/name"
    assert "Scan and accept" in visitor.get("/name").content.decode()
    assert visitor.post("/name", DETAILS)["Location"] == "/offer/"
    page = visitor.get("/offer/").content.decode()
    registration = Registration.objects.get()
    assert registration.backend == "demo" and registration.state == State.OFFERED
    wallet = Client()
    wallet_path = wallet.get(offer_link_from(page))["Location"].replace("http://testserver", "")
    credential = re.search(r'name="credential" value="([^"]+)"', wallet.get(wallet_path).content.decode()).group(1)
    wallet.post(wallet_path, {"action": "accept", "credential": credential})
    assert visitor.get("/offer/")["Location"] == "/success"
    assert visitor.get("/success").status_code == 200
    assert not agent.calls  # the other backend was never asked


def test_a_visitor_may_choose_the_other_kind_while_nothing_is_made_at_the_issuer(visitor, agent):
    choose(visitor, "demo")
    assert 'action="/wallet/change/"' in visitor.get("/name").content.decode()
    visitor.post("/name", DETAILS)
    Registration.objects.update(state=State.SAVED)  # details kept, the offer not made yet
    assert visitor.post("/wallet/change/")["Location"] == "/"
    assert Registration.objects.count() == 0  # the saved details go with the choice
    assert "Which wallet do you have?" in visitor.get("/").content.decode()
    agent.post(f"{CONNECTION_URL}/connection/invitation", json={"invitationUrl": INVITATION_URL, "connectionId": "c-1"})
    choose(visitor, "agent-rest")
    assert visitor.get("/").status_code == 200
    assert Registration.objects.get().backend == "agent-rest"


def test_once_the_issuer_made_something_the_choice_stays_and_start_again_remains(visitor, agent):
    agent.post(f"{CONNECTION_URL}/connection/invitation", json={"invitationUrl": INVITATION_URL, "connectionId": "c-1"})
    choose(visitor, "agent-rest")
    visitor.get("/")
    response = visitor.post("/wallet/change/", follow=True)
    assert "Start again" in response.content.decode()
    assert Registration.objects.get().backend == "agent-rest"
    assert choose(visitor, "demo")["Location"] == "/"  # ignored: the registration has its backend
    assert visitor.get("/").status_code == 200 and Registration.objects.count() == 1
    visitor.post("/restart/")
    assert "Which wallet do you have?" in visitor.get("/").content.decode()


def test_a_backend_the_portal_does_not_run_is_not_a_choice(visitor, agent):
    response = choose(visitor, "acapy")
    assert response["Location"] == "/"
    assert "Please choose one of the wallets shown." in visitor.get("/").content.decode()


def test_the_help_page_lists_the_wallet_apps_per_choice(visitor, settings):
    settings.REGISTERFT_WALLET_APPS = [
        {"name": "Lissi Wallet", "website": "https://lissi.id", "wallets": ["agent-rest"]},
        {"name": "Everywhere Wallet", "website": "https://every.example"},
    ]
    page = visitor.get("/help/").content.decode()
    didcomm = page[page.index('id="wallet-agent-rest"'):page.index('id="wallet-demo"')]
    demo = page[page.index('id="wallet-demo"'):]
    assert "Lissi Wallet" in didcomm and "Everywhere Wallet" in didcomm
    assert "Lissi Wallet" not in demo and "Everywhere Wallet" in demo


def test_names_and_icons_come_from_the_settings_in_the_visitors_language(client, settings):
    settings.REGISTERFT_WALLET_CHOICES = {
        "demo": {"name": {"de": "Probe-Wallet", "fr": "Wallet d'essai"}, "icon": "/static/x.svg", "help": "https://help.example"},
    }
    client.cookies["django_language"] = "fr"
    page = client.get("/").content.decode()
    assert "Wallet d&#x27;essai" in page and 'src="/static/x.svg"' in page and 'href="https://help.example"' in page
    client.cookies["django_language"] = "it"
    assert "Probe-Wallet" in client.get("/").content.decode()  # no Italian given: the default language's


def test_each_choice_page_is_translated(client):
    for language, words in {"de": "Welche Wallet", "fr": "Quel portefeuille", "it": "Quale portafoglio"}.items():
        client.cookies["django_language"] = language
        assert words in client.get("/").content.decode()


def test_the_issuers_are_looked_up_by_name(settings):
    assert get_issuer("agent-rest").name == "agent-rest"
    assert get_issuer("demo").name == "demo"
    assert get_issuer() is get_issuer("agent-rest")  # the first the settings name
    with pytest.raises(UnknownBackend):
        get_issuer("swiyu")


def test_a_registration_is_checked_at_its_own_backend(visitor, agent, settings):
    agent.post(f"{CONNECTION_URL}/connection/invitation", json={"invitationUrl": INVITATION_URL, "connectionId": "c-1"})
    choose(visitor, "agent-rest")
    visitor.get("/")
    settings.REGISTERFT_ISSUERS = ("demo", "agent-rest")  # another order: the registration keeps its backend
    agent.get(f"{CONNECTION_URL}/connection/c-1", json="established")
    assert visitor.get("/check_connection/status").json()["next"] == "/name"
