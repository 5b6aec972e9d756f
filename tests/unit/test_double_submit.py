"""A double click on "Send": several POSTs of /name with one session cookie, a few milliseconds
apart, against the live server's threads. One offer is sent, and every request ends on /loading/
for it, whichever of them the browser follows (it shows the last one's answer)."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from django.conf import settings

from onboarding.issuers.demo import DemoIssuer
from onboarding.models import DemoConnection, DemoCredential, Registration

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

DETAILS = {"first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical Engines"}
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def on_the_details_form(base: str) -> tuple[requests.cookies.RequestsCookieJar, str]:
    """The cookies of a visitor whose wallet is connected, and the form's CSRF token."""
    browser = requests.Session()
    assert browser.get(f"{base}/", timeout=30).status_code == 200
    registration = Registration.objects.latest("created_at")
    DemoConnection.objects.filter(pk=registration.connection_id).update(state=DemoConnection.State.ACTIVE)
    assert browser.get(f"{base}/check_connection/status", timeout=30).json()["next"] == "/name"
    page = browser.get(f"{base}/name", timeout=30)
    assert page.status_code == 200
    return browser.cookies, CSRF_INPUT.search(page.text).group(1)


def send_at_once(
    base: str, cookies: requests.cookies.RequestsCookieJar, token: str, delays: list[float]
) -> list[tuple[requests.Response, str]]:
    """One POST per delay, each with the same cookies, each followed to where it leads; with the
    session key each ends with."""
    answers: list[tuple[requests.Response, str] | None] = [None] * len(delays)
    start = time.monotonic()

    def click(index: int) -> None:
        time.sleep(max(0.0, start + delays[index] - time.monotonic()))
        browser = requests.Session()
        browser.cookies = cookies.copy()
        answer = browser.post(
            f"{base}/name", data={**DETAILS, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/name"}, timeout=60,
        )
        answers[index] = (answer, browser.cookies.get(settings.SESSION_COOKIE_NAME, ""))

    threads = [threading.Thread(target=click, args=(index,)) for index in range(len(delays))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert all(answer is not None for answer in answers)
    return answers  # type: ignore[return-value]


@pytest.mark.parametrize(
    "delays",
    [
        [0.0, 0.0],
        [0.0, 0.05],
        [0.0, 0.0, 0.01, 0.01, 0.02, 0.03, 0.04, 0.05],
    ],
    ids=["two-at-once", "two-50ms-apart", "eight-within-50ms"],
)
@pytest.mark.parametrize("issuer_seconds", [0.0, 0.3], ids=["quick-issuer", "slow-issuer"])
def test_every_click_lands_on_the_loading_page_of_the_one_offer(live_server, monkeypatch, delays, issuer_seconds):
    offer = DemoIssuer.offer_credential

    def slow_offer(self, **kwargs):
        time.sleep(issuer_seconds)
        return offer(self, **kwargs)

    monkeypatch.setattr(DemoIssuer, "offer_credential", slow_offer)
    cookies, token = on_the_details_form(live_server.url)

    answers = send_at_once(live_server.url, cookies, token, delays)

    landed = [(answer.status_code, answer.url.removeprefix(live_server.url)) for answer, _ in answers]
    assert landed == [(200, "/loading/")] * len(delays)
    assert DemoCredential.objects.count() == 1
    assert Registration.objects.get().state == Registration.State.OFFERED
    # Each landed with a session that holds the registration, so its page's polls go on.
    for _, key in answers:
        status = requests.get(
            f"{live_server.url}/loading/status", cookies={settings.SESSION_COOKIE_NAME: key}, timeout=30
        ).json()
        assert status["state"] == "waiting", status
