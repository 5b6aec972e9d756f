"""A double click on "Send" in Chromium: the form is sent once and its button is disabled
(static/onboarding/js/submit-once.js). Without the script the server holds: see
tests/unit/test_double_submit.py."""

from __future__ import annotations

import re

import pytest

from onboarding.models import DemoConnection, Registration

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_a_double_click_on_send_sends_the_form_once(live_server, visitor):
    visitor.goto(f"{live_server.url}/")
    registration = Registration.objects.latest("created_at")
    DemoConnection.objects.filter(pk=registration.connection_id).update(state=DemoConnection.State.ACTIVE)
    visitor.wait_for_url(re.compile(r"/name$"))
    visitor.get_by_label("First name").fill("Ada")
    visitor.get_by_label("Last name").fill("Lovelace")
    visitor.get_by_label("Institution").fill("Analytical Engines")
    # The form's POSTs are answered "204 No Content", which keeps the page where it is: what the
    # visitor sees while an agent takes its time to answer.
    posts = []

    def answer(route):
        if route.request.method != "POST":
            return route.continue_()
        posts.append(route.request.url)
        return route.fulfill(status=204)

    visitor.route("**/name", answer)
    send = visitor.get_by_role("button", name="Send to my wallet")
    send.dblclick()
    visitor.wait_for_timeout(300)
    assert len(posts) == 1
    assert send.is_disabled()
    send.click(force=True)
    visitor.wait_for_timeout(300)
    assert len(posts) == 1
