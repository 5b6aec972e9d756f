"""gunicorn.conf.py: every setting from the environment, and a worker timeout that outlasts the
issuer's."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
VARIABLES = ("GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_TIMEOUT", "GUNICORN_CERTFILE",
             "GUNICORN_KEYFILE", "GUNICORN_FORWARDED_ALLOW_IPS", "REGISTERFT_ISSUER_TIMEOUT", "REGISTERFT_LOG_FORMAT")


@pytest.fixture
def conf(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def load(**environment: str) -> dict:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(CONF))

    return load


def test_the_defaults_serve_plain_http_on_loopback_from_one_process_with_threads(conf):
    loaded = conf()
    assert loaded["bind"] == ["127.0.0.1:8000"]
    assert loaded["worker_class"] == "gthread" and loaded["threads"] == 8
    assert loaded["workers"] == 1
    assert loaded["certfile"] is None and loaded["keyfile"] is None
    assert loaded["timeout"] == 30


def test_tls_and_binds_come_from_the_environment(conf):
    loaded = conf(GUNICORN_BIND="10.0.0.11:8443,[fd00::11]:8443", GUNICORN_CERTFILE="/etc/ssl/p.pem",
                  GUNICORN_KEYFILE="/etc/ssl/p.key", GUNICORN_WORKERS="3")
    assert loaded["bind"] == ["10.0.0.11:8443", "[fd00::11]:8443"]
    assert (loaded["certfile"], loaded["keyfile"], loaded["workers"]) == ("/etc/ssl/p.pem", "/etc/ssl/p.key", 3)


def test_plain_http_may_bind_any_address_for_a_proxy_elsewhere(conf):
    assert conf(GUNICORN_BIND="0.0.0.0:8000")["bind"] == ["0.0.0.0:8000"]


@pytest.mark.parametrize("bind", ["0.0.0.0:443", "[::]:443", ":443", "93.184.216.34:443", "[2a00:1450:4001::5]:443",
                                  "portal.example.org:443", "127.0.0.1:8443,0.0.0.0:443"])
def test_tls_on_an_address_the_internet_reaches_stops_start_up(conf, bind):
    """gunicorn's threads cannot hold against slow clients: only a buffering proxy may face them."""
    with pytest.raises(SystemExit, match="GUNICORN_CERTFILE .*slow clients.*proxy"):
        conf(GUNICORN_BIND=bind, GUNICORN_CERTFILE="/etc/ssl/p.pem", GUNICORN_KEYFILE="/etc/ssl/p.key")


@pytest.mark.parametrize("bind", ["127.0.0.1:8443", "[::1]:8443", "localhost:8443", "10.1.2.3:8443",
                                  "192.168.5.5:8443", "unix:/run/registerft/gunicorn.sock"])
def test_tls_to_a_proxy_on_a_loopback_or_private_address_starts(conf, bind):
    assert conf(GUNICORN_BIND=bind, GUNICORN_CERTFILE="/etc/ssl/p.pem", GUNICORN_KEYFILE="/etc/ssl/p.key")["certfile"]


def test_a_longer_issuer_timeout_lengthens_the_worker_timeout(conf):
    assert conf(REGISTERFT_ISSUER_TIMEOUT="25")["timeout"] == 60


def test_a_worker_timeout_too_short_for_two_issuer_calls_stops_start_up(conf):
    with pytest.raises(SystemExit, match="GUNICORN_TIMEOUT .*REGISTERFT_ISSUER_TIMEOUT"):
        conf(GUNICORN_TIMEOUT="15")


@pytest.mark.parametrize(("name", "value"), [("GUNICORN_WORKERS", "four"), ("REGISTERFT_ISSUER_TIMEOUT", "ten")])
def test_a_bad_value_stops_start_up_naming_the_variable(conf, name, value):
    with pytest.raises(SystemExit, match=name):
        conf(**{name: value})


def test_access_lines_carry_the_request_id_and_no_query(conf):
    log_format = conf()["access_log_format"]
    assert "%({x-request-id}o)s" in log_format
    assert "%(U)s" in log_format and "%(q)s" not in log_format and "%(r)s" not in log_format


def test_with_json_logs_gunicorns_own_lines_are_json_objects(conf, capsys):
    import json
    import logging.config

    loaded = conf(REGISTERFT_LOG_FORMAT="json")
    logging.config.dictConfig(loaded["logconfig_dict"])
    try:
        # As gunicorn logs a request: the format, with the request's atoms as a dict.
        atoms = {"h": "10.0.0.1", "m": "GET", "U": "/", "s": "200", "B": "5", "M": "3", "{x-request-id}o": "abc"}
        logging.getLogger("gunicorn.access").info(loaded["access_log_format"], atoms)
        entry = json.loads(capsys.readouterr().out.strip())
        assert entry["message"] == '10.0.0.1 "GET /" 200 5 3ms request_id=abc'
        assert entry["request_id"] == "abc" and entry["logger"] == "gunicorn.access"
    finally:
        for name in ("gunicorn.access", "gunicorn.error"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
    assert "logconfig_dict" not in conf(REGISTERFT_LOG_FORMAT="text")


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [("REGISTERFT_LOG_FORMAT", "xml", "one of text, json"), ("REGISTERFT_ISSUER_TIMEOUT", "0", "at least 0.1")],
)
def test_it_reads_the_portals_variables_as_the_settings_do(conf, name, value, words):
    """The same helpers (registerft/env.py): a value the portal would refuse stops gunicorn too."""
    with pytest.raises(SystemExit, match=f"^{name} must be .*{words}"):
        conf(**{name: value})


def test_an_empty_forwarded_allow_ips_trusts_no_proxy(conf):
    assert conf()["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert conf(GUNICORN_FORWARDED_ALLOW_IPS="")["forwarded_allow_ips"] == ""


def test_gunicorn_itself_refuses_to_serve_tls_on_every_interface(tmp_path):
    """Started as the deployment guide starts it: it stops before it listens, saying why."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "GUNICORN_BIND": "0.0.0.0:0", "GUNICORN_CERTFILE": str(tmp_path / "cert.pem"),
           "GUNICORN_KEYFILE": str(tmp_path / "key.pem"), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(CONF), "registerft.wsgi"],
        cwd=CONF.parent, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "slow clients would hold every gunicorn thread" in result.stderr + result.stdout
