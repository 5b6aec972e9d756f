import signal
from collections.abc import Mapping

import pytest
from django.core.cache import cache, caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.test import Client
from django.utils.http import urlencode

from onboarding.issuers import get_issuer
from onboarding.sessions import SessionStore
from onboarding.verifiers import get_verifier
from tests import hypothesis_profiles  # noqa: F401  (registers the Hypothesis profiles, loads ci when CI=true)


@receiver(setting_changed, dispatch_uid="tests.forget_issuer")
def _forget_issuer(*, setting: str, **kwargs) -> None:
    """A test that changes an issuer's setting gets a backend built from the new value: the portal
    builds its backend once per process, as its settings never change outside the tests."""
    if setting.startswith(("REGISTERFT_", "AGENT_REST_", "ACAPY_", "SWIYU_")):
        get_issuer.cache_clear()
        get_verifier.cache_clear()


@receiver(setting_changed, dispatch_uid="tests.forget_chrome")
def _forget_chrome(**kwargs) -> None:
    """The pages' chrome is rendered once per process (templates/base.html), from settings that
    change only in tests: a test that changes one sees it rendered again."""
    caches["template_fragments"].clear()


FORM_CONTENT = "application/x-www-form-urlencoded"
_client_post = Client.post


def _post_as_a_browser(self, path, data=None, content_type=FORM_CONTENT, *args, **kwargs):
    """Django's test client posts a dict as multipart/form-data unless told otherwise; a browser
    sends the portal's forms (which attach no file) urlencoded, and the portal refuses multipart
    bodies (onboarding.middleware.BodyLimitMiddleware). A test that means multipart says so."""
    if content_type == FORM_CONTENT and isinstance(data, Mapping):
        data = urlencode(data, doseq=True)
    return _client_post(self, path, data, content_type, *args, **kwargs)


Client.post = _post_as_a_browser


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_collection_modifyitems(config, items):
    """The first test that needs the ACA-Py agent installs it into its own virtualenv (a minute or
    more on a fresh machine): that test gets the install's time on top of its own limit."""
    from tests.integration.agents import INSTALL_TIMEOUT, VENV

    if (VENV / "bin" / "aca-py").exists():
        return
    for item in items:
        if "acapy_executable" in getattr(item, "fixturenames", ()):
            marker = item.get_closest_marker("timeout")
            own = marker.args[0] if marker and marker.args else config.getini("timeout")
            item.add_marker(pytest.mark.timeout(INSTALL_TIMEOUT + float(own or 300)), append=False)
            return


def pytest_configure(config):
    # A run stopped from outside (a CI timeout, kill) unwinds like Ctrl-C, so that the fixtures'
    # finalizers still stop the agents, servers and databases the tests started.
    signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(autouse=True)
def _fresh_state(settings, tmp_path):
    """Each test gets its own session folder, an empty cache and an issuer built from its settings."""
    settings.SESSION_FILE_PATH = str(tmp_path / "sessions")
    (tmp_path / "sessions").mkdir()
    # Django's file store caches its folder on the class at first use: forget it, so that this
    # test's folder is the one used.
    if "_storage_path" in vars(SessionStore):
        del SessionStore._storage_path
    cache.clear()
    caches["template_fragments"].clear()
    get_issuer.cache_clear()
    get_verifier.cache_clear()
    yield
    get_issuer.cache_clear()
    get_verifier.cache_clear()


class Clock:
    """A stand-in for ``django.utils.timezone.now`` that moves only when a test says so."""

    def __init__(self) -> None:
        from django.utils import timezone

        self.current = timezone.now()

    def __call__(self):
        return self.current

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Freeze the portal's clock (services, models, sessions all read ``timezone.now``)."""
    from django.utils import timezone

    frozen = Clock()
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen
