"""The environment helpers (registerft/env.py, env_json.py) and the settings they build in one pass:
each setting assigned once, bad values stopping start-up with the variable's name."""

from __future__ import annotations

import ast
import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from registerft.env import envissuers, envjson, issuer_timeout, log_format, require
from registerft.env_json import envwalletapps, envwalletchoices

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "registerft" / "settings.py"


def settings_with(monkeypatch: pytest.MonkeyPatch, **environ: str) -> dict:
    """The portal's settings module evaluated afresh with these variables."""
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    for name in ("DATABASE_URL", "REDIS_URL", "REGISTERFT_FRAME_ANCESTORS", "REGISTERFT_COOKIE_SAMESITE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


# --- The helpers ----------------------------------------------------------------------------------


def test_it_reads_json_and_treats_unset_or_empty_as_none(monkeypatch):
    monkeypatch.delenv("REGISTERFT_X", raising=False)
    assert envjson("REGISTERFT_X") is None
    monkeypatch.setenv("REGISTERFT_X", "")
    assert envjson("REGISTERFT_X") is None
    monkeypatch.setenv("REGISTERFT_X", '[{"a": 1}]')
    assert envjson("REGISTERFT_X") == [{"a": 1}]


def test_it_rejects_bad_json_naming_the_variable(monkeypatch):
    monkeypatch.setenv("REGISTERFT_X", "[1,")
    with pytest.raises(ImproperlyConfigured, match="^REGISTERFT_X is not valid JSON"):
        envjson("REGISTERFT_X")


def test_require_names_the_first_empty_setting_and_the_reason():
    require({"A": "set", "B": 1}, when="never")
    with pytest.raises(ImproperlyConfigured, match=r"^B must be set when REGISTERFT_ISSUER is acapy\.$"):
        require({"A": "set", "B": "", "C": None}, when="REGISTERFT_ISSUER is acapy")


def test_the_issuer_timeout_and_log_format_have_their_defaults_and_checks(monkeypatch):
    monkeypatch.delenv("REGISTERFT_ISSUER_TIMEOUT", raising=False)
    monkeypatch.delenv("REGISTERFT_LOG_FORMAT", raising=False)
    assert (issuer_timeout(), log_format()) == (10.0, "text")
    monkeypatch.setenv("REGISTERFT_ISSUER_TIMEOUT", "0.05")
    with pytest.raises(ImproperlyConfigured, match="^REGISTERFT_ISSUER_TIMEOUT must be at least 0.1"):
        issuer_timeout()
    monkeypatch.setenv("REGISTERFT_LOG_FORMAT", "xml")
    with pytest.raises(ImproperlyConfigured, match="^REGISTERFT_LOG_FORMAT must be one of text, json"):
        log_format()


def test_it_keeps_the_default_wallet_apps_when_unset_and_reads_a_list(monkeypatch):
    default = [{"name": "Default"}]
    monkeypatch.delenv("REGISTERFT_WALLET_APPS", raising=False)
    assert envwalletapps("REGISTERFT_WALLET_APPS", default) is default
    monkeypatch.setenv("REGISTERFT_WALLET_APPS", '[{"name": "W", "website": "https://w.example"}]')
    assert envwalletapps("REGISTERFT_WALLET_APPS", default) == [{"name": "W", "website": "https://w.example"}]


@pytest.mark.parametrize(
    ("raw", "words"),
    [("{", "not valid JSON"), ('{"name": "W"}', "JSON list"), ('[{"ios": "https://x"}]', "'name'"),
     ('[{"name": "W", "android": "http://x"}]', "android link of W must be https")],
)
def test_it_rejects_bad_wallet_apps_naming_the_variable(monkeypatch, raw, words):
    monkeypatch.setenv("REGISTERFT_WALLET_APPS", raw)
    with pytest.raises(ImproperlyConfigured, match="REGISTERFT_WALLET_APPS") as caught:
        envwalletapps("REGISTERFT_WALLET_APPS", [])
    assert words in str(caught.value)


# --- The settings, in one pass ------------------------------------------------------------------


def test_each_setting_is_assigned_once_and_nothing_is_imported_after_the_header():
    tree = ast.parse(SETTINGS_FILE.read_text())
    names = [
        target.id
        for node in tree.body
        for statement in ast.walk(node)
        if isinstance(statement, ast.Assign)
        for target in ast.walk(ast.Tuple(elts=statement.targets))
        if isinstance(target, ast.Name) and target.id.isupper()
    ]
    assert sorted({name for name in names if names.count(name) > 1}) == []
    # No setting is changed after it was made (MIDDLEWARE.remove, LOGGING[...] = ...).
    mutations = [
        node for node in ast.walk(tree)
        if isinstance(node, (ast.AugAssign, ast.Subscript)) and isinstance(getattr(node, "ctx", None), ast.Store)
        or isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, (ast.Name, ast.Subscript)) and node.func.attr
        in ("append", "insert", "remove", "update", "extend", "setdefault", "pop")
    ]
    assert mutations == []
    first_setting = next(index for index, node in enumerate(tree.body) if isinstance(node, ast.Assign))
    assert not [node for node in tree.body[first_setting:] if isinstance(node, (ast.Import, ast.ImportFrom))]


def test_embedding_drops_the_frame_header_and_makes_the_cookies_cross_site_even_in_development(monkeypatch):
    values = settings_with(monkeypatch, REGISTERFT_FRAME_ANCESTORS="https://events.example.org")
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" not in values["MIDDLEWARE"]
    assert values["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["frame-ancestors"] == [
        "'self'", "https://events.example.org"
    ]
    assert (values["SESSION_COOKIE_SAMESITE"], values["CSRF_COOKIE_SAMESITE"]) == ("None", "None")
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"] and values["LANGUAGE_COOKIE_SECURE"]


def test_without_embedding_development_cookies_are_lax_and_the_frame_header_is_sent(monkeypatch):
    values = settings_with(monkeypatch)
    assert "django.middleware.clickjacking.XFrameOptionsMiddleware" in values["MIDDLEWARE"]
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax" and values["SESSION_COOKIE_SECURE"] is False
    assert values["SECURE_PROXY_SSL_HEADER"] is None


def test_every_request_gets_its_id_first_and_its_log_lines_carry_it(monkeypatch):
    values = settings_with(monkeypatch, REGISTERFT_LOG_FORMAT="json")
    assert values["MIDDLEWARE"][0] == "onboarding.logs.RequestIdMiddleware"
    console = values["LOGGING"]["handlers"]["console"]
    assert (console["formatter"], console["filters"]) == ("json", ["request_id"])
    assert values["LOGGING"]["formatters"]["json"] == {"()": "onboarding.logs.JsonFormatter"}


def test_the_issuers_webhooks_and_the_probes_are_exempt_from_the_https_redirect(monkeypatch):
    assert settings_with(monkeypatch)["SECURE_REDIRECT_EXEMPT"] == [
        r"^healthz$", r"^readyz$", r"^webhooks/acapy/", r"^webhooks/swiyu/"
    ]


def test_a_template_folder_comes_before_the_portals_own(monkeypatch, tmp_path):
    values = settings_with(monkeypatch, REGISTERFT_TEMPLATE_DIR=str(tmp_path))
    assert values["TEMPLATES"][0]["DIRS"][0] == tmp_path
    assert values["TEMPLATES"][0]["DIRS"][1].name == "templates"


# --- Several issuer backends ----------------------------------------------------------------------


@pytest.fixture
def no_issuer_setting(monkeypatch):
    monkeypatch.delenv("REGISTERFT_ISSUER", raising=False)
    monkeypatch.delenv("REGISTERFT_ISSUERS", raising=False)
    return monkeypatch


def test_it_runs_the_demo_issuer_unless_told_otherwise(no_issuer_setting):
    assert envissuers() == (("demo",), False, False)


def test_it_reads_several_backends_in_their_order(no_issuer_setting):
    no_issuer_setting.setenv("REGISTERFT_ISSUERS", " swiyu , acapy ")
    assert envissuers() == (("swiyu", "acapy"), True, False)


def test_the_old_name_still_names_one_backend(no_issuer_setting):
    no_issuer_setting.setenv("REGISTERFT_ISSUER", "acapy")
    assert envissuers() == (("acapy",), True, True)
    no_issuer_setting.setenv("REGISTERFT_ISSUER", "acapy,swiyu")
    with pytest.raises(ImproperlyConfigured, match="set REGISTERFT_ISSUERS for several"):
        envissuers()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"REGISTERFT_ISSUERS": "acapy", "REGISTERFT_ISSUER": "acapy"}, "set only REGISTERFT_ISSUERS"),
        ({"REGISTERFT_ISSUERS": "acapy,carrier-pigeon"}, "REGISTERFT_ISSUERS must name backends of"),
        ({"REGISTERFT_ISSUERS": "acapy,acapy"}, "names a backend twice"),
    ],
)
def test_a_bad_list_of_backends_stops_start_up_naming_the_variable(no_issuer_setting, environ, message):
    for name, value in environ.items():
        no_issuer_setting.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        envissuers()


@pytest.mark.parametrize(
    "choices",
    ['["swiyu"]', '{"acapy": {"name": "x"}}', '{"swiyu": {"colour": "red"}}', '{"swiyu": {"icon": "https://cdn.example/x.svg"}}',
     '{"swiyu": {"help": "http://help.example"}}', '{"swiyu": {"name": ["x"]}}'],
)
def test_a_bad_wallet_choice_stops_start_up_naming_the_variable(monkeypatch, choices):
    monkeypatch.setenv("REGISTERFT_WALLET_CHOICES", choices)
    with pytest.raises(ImproperlyConfigured, match="REGISTERFT_WALLET_CHOICES"):
        envwalletchoices("REGISTERFT_WALLET_CHOICES", ("swiyu", "demo"))


def test_a_wallet_choice_takes_texts_by_language(monkeypatch):
    monkeypatch.setenv("REGISTERFT_WALLET_CHOICES", '{"swiyu": {"name": {"de": "swiyu-Wallet", "en": "swiyu"}, "icon": "/static/s.svg"}}')
    assert envwalletchoices("REGISTERFT_WALLET_CHOICES", ("swiyu",))["swiyu"]["icon"] == "/static/s.svg"
