"""Settings for the test suite: the production settings with debug on and plain static files, so
that templates render without collectstatic."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("REGISTERFT_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test"))
# The suite runs on SQLite and per-process caches whatever the shell says: a DATABASE_URL left
# over from operating the portal must never point the tests at a real database. The two-instance
# tests (tests/multi_instance/) start their own PostgreSQL and Redis.
for _shared in ("DATABASE_URL", "REDIS_URL"):
    os.environ.pop(_shared, None)

from registerft.settings import *  # noqa: E402,F403

DEBUG = False  # render the portal's own error pages, as in production
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
# Serve static files from the source folders, as in development: no collectstatic before tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# The integration tests' live server answers webhooks and status polls on several threads at once:
# its test database must be a file that every thread opens, not one in-memory connection. The
# process id keeps test runs started at the same time in one checkout apart.
os.makedirs(VAR_DIR, exist_ok=True)  # noqa: F405  (SQLite creates the file, not its folder)
DATABASES["default"]["TEST"] = {"NAME": os.path.join(VAR_DIR, f"test-db-{os.getpid()}.sqlite3")}  # noqa: F405
