"""DATABASE_URL and REDIS_URL: parsing (dj-database-url, redis-py's own parser) with our checks on
top, errors that name the variable (never the password), and the settings they switch to
PostgreSQL, the Redis cache and shared sessions."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from registerft.env_services import check_redis_url, envdatabaseurl, envredisurl, parse_database_url

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "registerft" / "settings.py"


def settings_with(monkeypatch: pytest.MonkeyPatch, **environ: str) -> dict:
    """The portal's settings module evaluated afresh with these variables (Django's own settings
    object is left alone)."""
    monkeypatch.setenv("DJANGO_DEBUG", "1")
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


# --- DATABASE_URL -------------------------------------------------------------------------------


DATABASE_KEYS = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")


def test_it_parses_a_full_postgres_url():
    entry = parse_database_url("DATABASE_URL", "postgres://portal:pw@db.example:6543/registerft")
    assert {key: entry[key] for key in DATABASE_KEYS} == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "registerft",
        "USER": "portal",
        "PASSWORD": "pw",
        "HOST": "db.example",
        "PORT": 6543,
        "OPTIONS": {"connect_timeout": 5},
    }


def test_it_passes_connection_settings_on_to_the_entry():
    entry = parse_database_url("DATABASE_URL", "postgres://u:p@db/r", conn_max_age=30, conn_health_checks=True)
    assert (entry["CONN_MAX_AGE"], entry["CONN_HEALTH_CHECKS"]) == (30, True)


def test_it_accepts_the_postgresql_scheme_and_leaves_out_the_port():
    entry = parse_database_url("DATABASE_URL", "postgresql://portal@db/registerft")
    assert (entry["HOST"], entry["PORT"], entry["USER"], entry["PASSWORD"]) == ("db", "", "portal", "")


def test_it_decodes_a_percent_encoded_password_with_at_signs_and_slashes():
    entry = parse_database_url("DATABASE_URL", "postgres://portal:p%40ss%2Fw%3Ard@db:5432/registerft")
    assert entry["PASSWORD"] == "p@ss/w:rd"


def test_it_reads_an_ipv6_host_in_brackets():
    entry = parse_database_url("DATABASE_URL", "postgres://u:p@[::1]:5433/registerft")
    assert (entry["HOST"], entry["PORT"]) == ("::1", 5433)


def test_it_reads_a_unix_socket_folder_as_the_host_keeping_its_case():
    entry = parse_database_url("DATABASE_URL", "postgres://portal@%2Frun%2FPostgreSQL/registerft")
    assert entry["HOST"] == "/run/PostgreSQL"


def test_it_passes_known_libpq_options_and_keeps_a_given_connect_timeout():
    entry = parse_database_url("DATABASE_URL", "postgres://u:p@db/r?sslmode=verify-full&connect_timeout=2")
    assert entry["OPTIONS"] == {"sslmode": "verify-full", "connect_timeout": 2}


@pytest.mark.parametrize(
    "url, words",
    [
        ("mysql://u:secret-pw@db/r", "postgres://"),
        ("sqlite:///var/db.sqlite3", "postgres://"),
        ("postgres://u:secret-pw@db:port/r", "port"),
        ("postgres://u:secret-pw@db:70000/r", "port"),
        ("postgres://u:secret-pw@/r", "host"),
        ("postgres://u:secret-pw@db", "database name"),
        ("postgres://u:secret-pw@db/", "database name"),
        ("postgres://u:secret-pw@db/a/b", "database name"),
        ("postgres://u:secret-pw@[::1/r", "valid URL"),
        ("postgres://u:secret-pw@db/r?sslmod=require", "sslmod"),
        ("postgres://u:secret-pw@db/r?sslmode", "query string"),
        ("postgres://u:secret-pw@db/r?sslmode=require&sslmode=disable", "twice"),
        ("postgres://u:secret-pw@db/r?currentSchema=x", "currentSchema"),
    ],
)
def test_it_rejects_a_bad_database_url_naming_the_variable_but_not_the_password(url, words):
    with pytest.raises(ImproperlyConfigured) as caught:
        parse_database_url("DATABASE_URL", url)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL ")
    assert words in message
    assert "secret-pw" not in message


def test_an_unset_or_empty_database_url_means_none(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert envdatabaseurl("DATABASE_URL") is None
    monkeypatch.setenv("DATABASE_URL", "")
    assert envdatabaseurl("DATABASE_URL") is None


# --- REDIS_URL ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "redis://:secret@cache.example:6380/2",
        "rediss://user:secret@cache.example",
        "redis://[::1]:6379",
        "unix:///run/redis/redis.sock?db=1",
    ],
)
def test_it_accepts_the_redis_urls_redis_py_understands(url):
    assert check_redis_url("REDIS_URL", url) == url


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://:secret-pw@cache:6379", "redis://"),
        ("cache:6379", "redis://"),
        ("redis://:secret-pw@cache:63x9/0", "port"),
        ("redis://:secret-pw@/0", "host"),
        ("redis://:secret-pw@cache:6379/sessions", "database number"),
        ("unix://", "socket"),
        ("redis://:secret-pw@[::1:6379/0", "valid Redis URL"),
        ("redis://:secret-pw@cache:6379/0?socket_timeout=soon", "options"),
    ],
)
def test_it_rejects_a_bad_redis_url_naming_the_variable_but_not_the_password(url, words):
    with pytest.raises(ImproperlyConfigured) as caught:
        check_redis_url("REDIS_URL", url)
    assert str(caught.value).startswith("REDIS_URL ")
    assert words in str(caught.value)
    assert "secret-pw" not in str(caught.value)


def test_an_unset_redis_url_means_none(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert envredisurl("REDIS_URL") is None


# --- What the settings become ------------------------------------------------------------------------


def test_without_the_urls_the_portal_keeps_sqlite_and_file_sessions(monkeypatch):
    values = settings_with(monkeypatch)
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["SESSION_ENGINE"] == "onboarding.sessions"


@pytest.mark.django_db
def test_the_sqlite_connections_write_ahead_and_keep_a_small_page_cache():
    if connection.vendor != "sqlite":
        pytest.skip(f"the SQLite settings; this run's database is {connection.vendor}")
    with connection.cursor() as cursor:
        found = [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in ("journal_mode", "cache_size")]
    assert found == ["wal", -256]


def test_database_url_switches_to_postgresql_with_kept_and_checked_connections(monkeypatch):
    values = settings_with(
        monkeypatch, DATABASE_URL="postgres://portal:pw@db:5432/registerft", REGISTERFT_DB_CONN_MAX_AGE="30"
    )
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["HOST"], database["CONN_MAX_AGE"]) == ("registerft", "db", 30)
    assert database["CONN_HEALTH_CHECKS"] is True
    assert values["SESSION_ENGINE"] == "onboarding.sessions"  # Redis decides the sessions


def test_redis_url_switches_the_cache_to_redis_and_the_sessions_to_cached_db(monkeypatch):
    values = settings_with(monkeypatch, REDIS_URL="redis://cache:6379/1", REGISTERFT_REDIS_TIMEOUT="0.5")
    cache = values["CACHES"]["default"]
    assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert cache["LOCATION"] == "redis://cache:6379/1"
    assert cache["KEY_PREFIX"] == "registerft"
    assert cache["OPTIONS"] == {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    assert values["SESSION_ENGINE"] == "onboarding.sessions_shared"  # cached_db, forwarding on rotation


def test_a_bad_url_stops_the_settings_from_loading(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="^REDIS_URL "):
        settings_with(monkeypatch, REDIS_URL="memcached://cache:11211")
    with pytest.raises(ImproperlyConfigured, match="^DATABASE_URL "):
        settings_with(monkeypatch, DATABASE_URL="postgres://portal@db")
