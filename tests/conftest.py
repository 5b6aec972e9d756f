import pytest
from django.core.cache import cache

from onboarding.issuers import get_issuer


@pytest.fixture(autouse=True)
def _fresh_state(settings, tmp_path):
    """Each test gets its own session folder, an empty cache and an issuer built from its settings."""
    settings.SESSION_FILE_PATH = str(tmp_path / "sessions")
    (tmp_path / "sessions").mkdir()
    cache.clear()
    get_issuer.cache_clear()
    yield
    get_issuer.cache_clear()
