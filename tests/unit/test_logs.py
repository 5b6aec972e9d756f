"""Production logging: a request id per request, on the issuer's call lines too, one line per
event, and never a visitor's submitted details."""

from __future__ import annotations

import io
import json
import logging
import re
import sys

import pytest
import responses

from onboarding.issuers import get_issuer
from onboarding.logs import JsonFormatter, RequestIdFilter, TextFormatter, request_id_var
from onboarding.models import Registration

pytestmark = pytest.mark.django_db

AGENT = "http://agent.test"


@pytest.fixture
def issuer_lines():
    """The portal's own handler set-up (filter and text formatter) on the issuer's logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger("onboarding.issuer")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture
def agent_rest(settings):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    settings.AGENT_REST_CONNECTION_URL = settings.AGENT_REST_ISSUER_URL = AGENT
    get_issuer.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post(
            f"{AGENT}/connection/invitation",
            json={"connectionId": "c-1", "invitationUrl": "https://agent.test/?oob=e30"},
        )
        yield mock


def test_a_sane_incoming_request_id_is_kept_and_reaches_the_issuer_call_line(client, agent_rest, issuer_lines):
    response = client.get("/", HTTP_X_REQUEST_ID="lb-4f2a.77")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "lb-4f2a.77"
    line = issuer_lines.getvalue().strip()
    assert "request_id=lb-4f2a.77" in line
    assert "issuer call backend=agent-rest operation=create_invitation outcome=ok" in line


@pytest.mark.parametrize("incoming", ["two words", "a" * 200, "x\r\nSet-Cookie: y", "", "<script>"])
def test_an_odd_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_each_request_gets_its_own_id(client):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert first != second
    assert request_id_var.get() == "-"  # nothing leaks out of the request


def make_record(message: str, *, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("line one\nline two")
        except ValueError:
            exc_info = sys.exc_info()
    record = logging.LogRecord("onboarding.flow", logging.WARNING, __file__, 1, message, (), exc_info)
    RequestIdFilter().filter(record)
    return record


def test_the_json_format_is_one_object_per_line_with_the_request_id():
    token = request_id_var.set("req-9")
    try:
        line = JsonFormatter().format(make_record("first\nsecond", exc=True))
    finally:
        request_id_var.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "req-9"
    assert entry["level"] == "WARNING" and entry["logger"] == "onboarding.flow"
    assert entry["message"] == "first\nsecond"
    assert "ValueError: line one" in entry["exception"]


def test_the_text_format_keeps_a_traceback_on_one_line():
    line = TextFormatter().format(make_record("went wrong", exc=True))
    assert "\n" not in line
    assert "request_id=- went wrong" in line
    assert "ValueError: line one\\nline two" in line


def test_the_settings_wire_the_format_filter_and_middleware(settings):
    assert settings.MIDDLEWARE[0] == "onboarding.logs.RequestIdMiddleware"
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["request_id"]
    assert settings.LOGGING["handlers"]["console"]["formatter"] in ("text", "json")


# --- A visitor's details stay out of the logs -------------------------------------------------

FIRST, LAST, INSTITUTION = "Zebulon", "Quixotic-Marmaduke", "Institut Xylophonique"


@pytest.fixture
def every_logger_at_debug(caplog):
    names = [None, *logging.root.manager.loggerDict]
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_a_visitors_details_appear_in_no_log_record(client, every_logger_at_debug):
    caplog = every_logger_at_debug
    wallet = type(client)()
    start = client.get("/").content.decode()
    short = re.search(r'id="invitation-url"[^>]*value="([^"]+)"', start).group(1)
    wallet_path = wallet.get(short.replace("http://testserver", ""))["Location"].replace("http://testserver", "")
    wallet.post(wallet_path, {"action": "connect"})
    client.get("/check_connection/status")
    client.post("/name", {"first_name": FIRST, "last_name": LAST, "institution": INSTITUTION})
    offer_page = wallet.get(wallet_path).content.decode()
    credential = re.search(r'name="credential" value="([^"]+)"', offer_page).group(1)
    wallet.post(wallet_path, {"action": "accept", "credential": credential})
    client.get("/loading/status")
    assert client.get("/success").status_code == 200
    # A second submit after the end is refused; whatever it logs must not hold the details either.
    client.post("/name", {"first_name": FIRST, "last_name": "", "institution": "x" * 5000})
    assert Registration.objects.get().attributes["last_name"] == LAST  # the flow really ran

    assert caplog.records, "the flow should have logged something"
    assert any(record.name == "onboarding.flow" for record in caplog.records)
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + (record.exc_text or "")
        for detail in (FIRST, LAST, INSTITUTION):
            assert detail not in text, f"{detail!r} logged by {record.name}: {record.getMessage()}"
    for detail in (FIRST, LAST, INSTITUTION):
        assert detail not in caplog.text


# --- Lines an attacker cannot forge ----------------------------------------------------------

FORGING_PATH = "/a\r\n127.0.0.1 \"GET /admin\" 200\x00\x1b[2J\u2028\x85end"


def test_the_text_format_escapes_every_control_character():
    line = TextFormatter().format(make_record(f"Not Found: {FORGING_PATH}"))
    assert not any(char in line for char in "\r\n\x00\x1b\u2028\x85")
    assert "/a\\r\\n127.0.0.1" in line and "\\x00\\x1b[2J\\u2028\\x85end" in line


def gunicorn_access_line(path: str, *, method: str = "GET", status: str = "404 Not Found") -> str:
    """The access line gunicorn writes for a request of ``path``, with the portal's gunicorn.conf.py
    as the environment configures it."""
    import runpy
    from datetime import timedelta
    from pathlib import Path
    from types import SimpleNamespace

    from gunicorn.config import Config

    loaded = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    cfg = Config()
    for name in ("logger_class", "access_log_format", "accesslog"):
        if name in loaded:
            cfg.set(name, loaded[name])
    logger = cfg.logger_class(cfg)
    stream = io.StringIO()
    logger.access_log.handlers = [logging.StreamHandler(stream)]
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "first_name=Ada", "REMOTE_ADDR": "10.0.0.1",
               "RAW_URI": path, "SERVER_PROTOCOL": "HTTP/1.1"}
    response = SimpleNamespace(status=status, headers=[("X-Request-ID", "abc")], sent=9)
    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=3))
    return stream.getvalue()


@pytest.mark.parametrize("path", ["/check_connection/status", "/loading/status", "/queue/status", "/door/r/1/status"])
def test_a_successful_poll_leaves_no_access_line(monkeypatch, path):
    monkeypatch.delenv("GUNICORN_ACCESSLOG_POLLS", raising=False)
    assert gunicorn_access_line(path, status="200 OK") == ""
    # A poll that fails is logged, and so is every other request.
    assert gunicorn_access_line(path, status="503 Service Unavailable").endswith('" 503 9 3ms request_id=abc\n')
    assert gunicorn_access_line(path, status="302 Found") != ""
    assert gunicorn_access_line(path, method="POST", status="200 OK") != ""
    assert gunicorn_access_line(path.removesuffix("/status"), status="200 OK") != ""


def test_successful_polls_are_logged_when_asked_for(monkeypatch):
    monkeypatch.setenv("GUNICORN_ACCESSLOG_POLLS", "1")
    assert gunicorn_access_line("/loading/status", status="200 OK").startswith('10.0.0.1 "GET /loading/status" 200 ')


def test_gunicorns_access_line_cannot_be_forged_from_the_path():
    # gunicorn logs PATH_INFO, which is percent-decoded: %0d%0a would start a second line.
    output = gunicorn_access_line(FORGING_PATH)
    assert output.count("\n") == 1 and output.endswith("\n")
    line = output[:-1]
    assert not any(char in line for char in "\r\x00\x1b\u2028\x85")
    assert line.startswith('10.0.0.1 "GET /a\\r\\n127.0.0.1 \\"GET /admin\\" 200\\x00')
    assert line.endswith('" 404 9 3ms request_id=abc')
    assert "Ada" not in line


def test_a_bad_host_header_is_one_warning_line_without_a_traceback(client, settings, caplog):
    settings.ALLOWED_HOSTS = ["portal.example.org"]
    with caplog.at_level(logging.INFO):
        response = client.get("/", HTTP_HOST="attacker.example")
    assert response.status_code == 400
    records = [record for record in caplog.records if record.name == "django.security.DisallowedHost"]
    assert len(records) == 1
    assert records[0].levelno == logging.WARNING and records[0].exc_info is None
    assert "Traceback" not in TextFormatter().format(records[0])
    assert "attacker.example" in records[0].getMessage()
