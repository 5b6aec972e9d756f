"""Choosing the configured issuer backend, and reading the invitation an invitation URL carries."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
import responses

from onboarding.issuers import get_issuer
from onboarding.issuers.acapy import AcaPyIssuer
from onboarding.issuers.agent_rest import AgentRestIssuer
from onboarding.issuers.base import HttpTransport, credential_offer_json, invitation_oob
from onboarding.issuers.demo import DemoIssuer


@pytest.mark.parametrize(
    ("backend", "backend_class"),
    [("demo", DemoIssuer), ("agent-rest", AgentRestIssuer), ("acapy", AcaPyIssuer)],
)
def test_it_builds_the_backend_the_setting_names_from_its_settings(settings, monkeypatch, backend, backend_class):
    built = []
    real = backend_class.from_settings.__func__
    monkeypatch.setattr(backend_class, "from_settings", classmethod(lambda cls: built.append(cls) or real(cls)))
    settings.REGISTERFT_ISSUERS = (backend,)
    settings.AGENT_REST_CONNECTION_URL = settings.AGENT_REST_ISSUER_URL = "http://agent.example:9000"
    settings.ACAPY_ADMIN_URL = "http://acapy.example:8031"
    assert type(get_issuer()) is backend_class
    assert built == [backend_class]


def test_it_builds_the_backend_once(settings):
    settings.REGISTERFT_ISSUERS = ("demo",)
    assert get_issuer() is get_issuer()


def test_a_changed_issuer_setting_in_a_test_gets_a_backend_built_from_it(settings):
    """The suite's own receiver (tests/conftest.py): no test hook lives in the portal's code."""
    settings.REGISTERFT_ISSUERS = ("demo",)
    assert isinstance(get_issuer(), DemoIssuer)
    settings.REGISTERFT_ISSUERS = ("acapy",)
    settings.ACAPY_ADMIN_URL = "http://acapy.example:8031"
    assert isinstance(get_issuer(), AcaPyIssuer)


# --- The invitation in an invitation URL --------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "encoded"),
    [
        ("http://agent.example:8030?oob=eyJhIjoxfQ", "eyJhIjoxfQ"),
        ("https://agent.example/?c_i=eyJhIjoxfQ%3D%3D", "eyJhIjoxfQ=="),  # the older connection invitation
        ("https://agent.example/?c_i=old&oob=new", "new"),  # out-of-band wins
        ("didcomm://invite?oob=eyJhIjoxfQ&label=x", "eyJhIjoxfQ"),
    ],
)
def test_it_reads_the_encoded_invitation_from_oob_or_c_i(url, encoded):
    assert invitation_oob(url) == encoded


@pytest.mark.parametrize(
    "url",
    [
        "/demo/wallet/abc/",  # the demo issuer's own page
        "https://agent.example.org/invite/42",
        "https://agent.example/?oob=",
        "https://agent.example/?label=oob",
        "",
    ],
)
def test_a_url_without_an_invitation_carries_none(url):
    assert invitation_oob(url) == ""


@pytest.mark.parametrize("url", ["http://[::1/?oob=abc", "not a url at all", "%%%?&&==;;", "\x00\ufffd"])
def test_garbage_is_no_invitation_and_no_error(url):
    assert invitation_oob(url) == ""


def test_the_agents_proxy_and_ca_bundle_come_from_the_environment_read_once_per_address(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "agent.internal")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/agents.pem")
    transport = HttpTransport(timeout=1)
    assert transport.environment_for("https://agent.internal:8031/connections") == {
        "proxies": {}, "verify": "/etc/ssl/agents.pem"}
    outside = transport.environment_for("https://issuer.example/credential")
    assert outside["proxies"]["https"] == "http://proxy.example:3128"
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:3128")
    assert transport.environment_for("https://issuer.example/another/path") == outside  # read once per address
    assert transport.session.trust_env is False  # requests does not read the environment on each call


@responses.activate
def test_a_call_goes_through_the_proxy_the_environment_names(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    responses.get("http://agent.example:8031/status", json={"ok": True})
    transport = HttpTransport(timeout=1)
    sent = []
    real_request = transport.session.request

    def request(*args, **kwargs):
        sent.append(kwargs.get("proxies"))
        return real_request(*args, **kwargs)

    monkeypatch.setattr(transport.session, "request", request)  # this session only
    assert transport.request("GET", "http://agent.example:8031/status", operation="status") == {"ok": True}
    assert [proxies.get("http") for proxies in sent] == ["http://proxy.example:3128"]


@pytest.mark.parametrize("url", [
    "openid-credential-offer://?credential_offer=" + quote("[" * 100_000),
    "openid-credential-offer://?credential_offer=" + quote('{"a": ' * 100_000),
    "openid-credential-offer://?credential_offer=%5B1%5D",
    "openid-credential-offer://?credential_offer=not%20json",
])
def test_an_offer_link_without_a_json_object_carries_no_offer_and_raises_nothing(url):
    # Nesting deep enough to exhaust the JSON parser raises RecursionError, not ValueError.
    assert credential_offer_json(url) is None


def test_an_offer_link_carries_its_json_object():
    assert credential_offer_json("openid-credential-offer://?credential_offer=%7B%22a%22%3A1%7D") == {"a": 1}
