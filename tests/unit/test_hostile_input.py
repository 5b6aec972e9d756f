"""Hostile input, property-based: whatever a client sends, the portal answers without a 5xx,
reflects no markup unescaped, and stores only details that pass its own form.

Each Hypothesis example runs in its own transaction (hypothesis.extra.django.TestCase) with a
fresh client, so examples do not share registrations or rate-limit counters.
"""

from __future__ import annotations

import json
import unicodedata
from urllib.parse import quote

from django.conf import settings
from django.test import Client
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from onboarding.forms import DetailsForm
from onboarding.models import DemoConnection, DemoCredential, Registration
from onboarding.services import SESSION_KEY
from onboarding.text import BIDI_CONTROLS

SUPPORTED_LANGUAGES = {code for code, _name in settings.LANGUAGES}

# Payloads that would run or restructure the page if reflected as they are. Each carries a marker
# so that a reflection can be told apart from the page's own markup.
MARKUP = [
    "<script>alert('x1')</script>",
    '"><img src=x onerror=alert("x2")>',
    "'><svg onload=alert(3)>x3",
    "</textarea><b>x4</b>",
    "javascript:alert('x5')<a href=x>",
    "<!--x7-->",
]

CONTROLS = [chr(c) for c in (*range(0, 32), 127, *range(0x80, 0xA0))]
BIDI = sorted(BIDI_CONTROLS)
ODD = ["\u200b", "\u200d", "\ufeff", "\u00ad", "e\u0301", "\U0001f469\u200d\U0001f52c", "\ufdd0", "\U000e0041"]

# Text of every kind except lone surrogates, which no browser can send as UTF-8.
any_unicode = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
piece = st.one_of(
    any_unicode,
    st.sampled_from(MARKUP),
    st.sampled_from(CONTROLS),
    st.sampled_from(BIDI),
    st.sampled_from(ODD),
    st.text(st.sampled_from("aéß李ع \t"), max_size=20),
)
field_value = st.one_of(
    st.lists(piece, max_size=5).map("".join),
    # Far longer than any name, up to beyond Django's request size limit.
    st.sampled_from([401, 5_000, 100_000, 3_000_000]).map(lambda size: "A" * size),
)

PAGES = [
    "/",
    "/check_connection/",
    "/check_connection/status",
    "/name",
    "/loading/",
    "/loading/status",
    "/success",
    "/restart/",
    "/i18n/setlang/",
    "/admin/login/",
    "/i/nonexistent",
    "/de",
    "/en/",
    "/demo/wallet/nonexistent/",
    "/demo/wallet/nonexistent/status",
    "/no/such/page",
]
# Any bytes, as a WSGI server hands them over (latin-1), plus well-formed but hostile pairs.
raw_query = st.binary(max_size=200).map(lambda raw: raw.decode("latin-1"))
encoded_query = st.lists(st.tuples(any_unicode, st.one_of(any_unicode, st.sampled_from(MARKUP))), max_size=4).map(
    lambda pairs: "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
)


def assert_no_reflected_markup(body: str, sent: str) -> None:
    for payload in MARKUP:
        if payload in sent:
            assert payload not in body, f"{payload!r} came back unescaped"


def assert_valid_details(attributes: dict) -> None:
    """What is stored is exactly what the details form accepts and produces."""
    fields = {spec["name"]: spec for spec in settings.REGISTERFT_FORM_FIELDS}
    for name, value in attributes.items():
        assert name in fields and isinstance(value, str)
        assert 0 < len(value) <= fields[name]["max_length"]
        assert value == unicodedata.normalize("NFC", value).strip()
        assert not any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") or c in BIDI_CONTROLS for c in value)
    form = DetailsForm(data=attributes)
    assert form.is_valid(), form.errors
    assert form.attributes() == attributes


class HostileInputTests(TestCase):
    def connected_visitor(self) -> tuple[Client, Registration]:
        """A visitor whose demo wallet is connected: the details form is their step."""
        connection = DemoConnection.objects.create(label="t", state=DemoConnection.State.ACTIVE)
        registration = Registration.objects.create(
            backend="demo",
            invitation_id=str(connection.pk),
            invitation_url="https://example.org/?oob=e30",
            connection_id=str(connection.pk),
            state=Registration.State.CONNECTED,
            connected_at=timezone.now(),
            checked_at=timezone.now(),
        )
        client = Client()
        session = client.session
        session[SESSION_KEY] = {"registration": str(registration.pk)}
        session.save()
        return client, registration

    @given(values=st.fixed_dictionaries({}, optional={"first_name": field_value, "last_name": field_value,
                                                      "institution": field_value, "extra": field_value}))
    @example(values={"first_name": "<script>alert('x1')</script>", "last_name": "L", "institution": "I"})
    @example(values={"first_name": "Ada\u202e", "last_name": "L", "institution": "I"})
    @example(values={"first_name": "Ada", "last_name": "Love\x00lace", "institution": "I"})
    @example(values={"first_name": "A" * 3_000_000, "last_name": "L", "institution": "I"})
    def test_the_details_form_survives_any_input(self, values):
        client, registration = self.connected_visitor()
        response = client.post("/name", values)
        assert response.status_code < 500
        assert_no_reflected_markup(response.content.decode("utf-8", "replace"), "".join(values.values()))
        registration.refresh_from_db()
        if registration.state == Registration.State.OFFERED:
            assert_valid_details(registration.attributes)
            credential = DemoCredential.objects.get()
            assert credential.attributes == registration.attributes
            # The demo wallet shows the details back: escaped there too.
            wallet_page = Client().get(f"/demo/wallet/{credential.connection.token}/")
            assert wallet_page.status_code == 200
            assert_no_reflected_markup(wallet_page.content.decode(), "".join(values.values()))
        else:
            # 413: a body over DATA_UPLOAD_MAX_MEMORY_SIZE, refused before it is read.
            assert response.status_code in (400, 413)
            assert registration.attributes == {} and not DemoCredential.objects.exists()

    def test_the_details_form_survives_bytes_that_are_not_utf8(self):
        client, registration = self.connected_visitor()
        body = b"first_name=%FF%FE%C0%80&last_name=\xff\xfe&institution=%ED%A0%80"
        response = client.post("/name", body, content_type="application/x-www-form-urlencoded")
        assert response.status_code < 500
        registration.refresh_from_db()
        if registration.state == Registration.State.OFFERED:
            assert_valid_details(registration.attributes)
        else:
            assert registration.attributes == {}

    @given(page=st.sampled_from(PAGES), query=st.one_of(raw_query, encoded_query),
           connected=st.booleans(), method=st.sampled_from(["get", "head", "post"]))
    @example(page="/", query="next=%3Cscript%3Ealert('x1')%3C/script%3E", connected=False, method="get")
    def test_every_page_survives_any_query_string(self, page, query, connected, method):
        client = self.connected_visitor()[0] if connected else Client()
        response = getattr(client, method)(page, QUERY_STRING=query)
        assert response.status_code < 500
        if page.endswith("/status") and response.status_code == 200:
            assert response["Content-Type"] == "application/json"
        assert_no_reflected_markup(response.content.decode("utf-8", "replace"), query)

    @given(path=st.one_of(st.from_regex(r"\A/[A-Za-z_-]{1,12}/?\Z"), any_unicode.map(lambda t: "/" + quote(t))))
    @example(path="/xx")
    @example(path="/de-ch/")
    def test_any_language_like_path_is_a_page_or_a_404(self, path):
        response = Client().get(path)
        assert response.status_code < 500
        assert response["Content-Language"] in SUPPORTED_LANGUAGES

    @given(language=st.one_of(any_unicode, st.sampled_from(["de", "EN", "fr-ch", "nl", "zh-hans", "../de", "de\x00"])),
           next_url=st.one_of(any_unicode, st.sampled_from(["//evil.example", "https://evil.example/",
                                                             "/\\evil.example", "javascript:alert(1)", "/name"])))
    def test_the_language_switch_accepts_only_its_languages_and_stays_on_the_site(self, language, next_url):
        client = Client()
        response = client.post("/i18n/setlang/", {"language": language, "next": next_url})
        assert response.status_code < 500
        if response.status_code in (301, 302):
            assert url_has_allowed_host_and_scheme(response["Location"], allowed_hosts={"testserver"})
        page = client.get("/name")
        assert page.status_code < 500
        assert page["Content-Language"] in SUPPORTED_LANGUAGES

    @given(cookie=st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=';,"\\'), max_size=80),
           language=st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=';,"\\'), max_size=20),
           status=st.sampled_from(["/check_connection/status", "/loading/status"]),
           accept=st.sampled_from(["*/*", "application/json", "text/html", "", "<script>"]))
    @example(cookie="../../../../etc/passwd", language="xx", status="/loading/status", accept="*/*")
    def test_the_status_endpoints_survive_forged_cookies(self, cookie, language, status, accept):
        client = Client(HTTP_ACCEPT=accept)
        client.cookies[settings.SESSION_COOKIE_NAME] = cookie
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        response = client.get(status)
        assert response.status_code == 200
        assert response.json()["state"] == "moved"  # a forged session has no registration

    @given(accept_language=st.one_of(any_unicode.filter(lambda t: t.isprintable()),
                                     st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz-,;=.*0123456789 q"),
                                             max_size=600)))
    @example(accept_language="de-CH,de;q=0.9,en;q=0.8")
    @example(accept_language="x" * 1000)
    def test_any_accept_language_header_picks_a_supported_language(self, accept_language):
        with self.settings(REGISTERFT_USE_BROWSER_LANGUAGE=True):
            response = Client(HTTP_ACCEPT_LANGUAGE=accept_language).get("/name")
        assert response.status_code < 500
        assert response["Content-Language"] in SUPPORTED_LANGUAGES


# --- Webhook bodies -------------------------------------------------------------------------------

WEBHOOK_SECRET = "hostile-hook-secret"
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_unicode,
                        st.sampled_from(MARKUP))
json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(any_unicode, inner, max_size=4)), max_leaves=12)
# Events shaped like ACA-Py's, with any value in any field: the portal must read only what it can.
EVENT_KEYS = ["state", "rfc23_state", "connection_id", "invitation_msg_id", "invi_msg_id", "oob_id", "cred_ex_id",
              "role", "error_msg", "thread_id"]
event_like = st.dictionaries(st.sampled_from(EVENT_KEYS), st.one_of(json_value, st.sampled_from(
    ["active", "completed", "response", "done", "abandoned", "offer-sent", "msg-1", "conn-1", "cx-1", "issuer"])),
    max_size=8)
webhook_body = st.one_of(
    event_like.map(lambda event: json.dumps(event).encode()),
    json_value.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=300),
    st.sampled_from([b"", b"{", b"null", b"[]", b'{"state": "done"' + b" " * 70_000 + b"}"]),
)


class HostileWebhookTests(TestCase):
    """Whatever the agent (or someone who knows the secret) posts, the webhook answers 2xx or 400,
    and a registration moves only along the flow's own transitions."""

    def setUp(self) -> None:
        now = timezone.now()
        self.invited = Registration.objects.create(
            backend="acapy", invitation_id="msg-1", invitation_url="http://agent.test?oob=e30")
        self.offered = Registration.objects.create(
            backend="acapy", invitation_id="msg-2", invitation_url="http://agent.test?oob=e30",
            state=Registration.State.OFFERED, connection_id="conn-2", process_id="cx-1",
            connected_at=now, offered_at=now, attributes={"first_name": "Ada"})

    @given(topic=st.sampled_from(["connections", "out_of_band", "issue_credential_v2_0", "basicmessages",
                                  "x" * 80, "%3Cscript%3E"]),
           body=webhook_body)
    @example(topic="issue_credential_v2_0", body=json.dumps({"cred_ex_id": "cx-1", "state": "done"}).encode())
    @example(topic="connections", body=json.dumps({"invitation_msg_id": "msg-1", "state": ["active"]}).encode())
    @example(topic="connections", body=json.dumps({"invitation_msg_id": {"$ne": 1}, "state": "active"}).encode())
    def test_any_webhook_body_is_acknowledged_or_refused_never_a_5xx(self, topic, body):
        with self.settings(REGISTERFT_ISSUERS=("acapy",), ACAPY_WEBHOOK_SECRET=WEBHOOK_SECRET,
                           ACAPY_ADMIN_URL="http://agent.test"):
            response = Client().post(f"/webhooks/acapy/topic/{topic}/", body, content_type="application/json",
                                     headers={"x-api-key": WEBHOOK_SECRET})
        assert response.status_code in (200, 204, 400, 404), response.status_code
        assert_no_reflected_markup(response.content.decode(errors="replace"), body.decode(errors="replace"))
        allowed = {
            self.invited.pk: {Registration.State.INVITED, Registration.State.CONNECTED, Registration.State.FAILED},
            self.offered.pk: {Registration.State.OFFERED, Registration.State.ISSUED, Registration.State.FAILED},
        }
        assert Registration.objects.count() == 2  # an event never creates a registration
        for registration in Registration.objects.all():
            assert registration.state in allowed[registration.pk]
            assert registration.attributes in ({}, {"first_name": "Ada"})
