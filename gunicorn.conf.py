"""gunicorn settings for registerft, read from the environment.

    gunicorn -c gunicorn.conf.py registerft.wsgi

Set GUNICORN_CERTFILE and GUNICORN_KEYFILE to serve TLS directly (for example on :443 with your
own domain's certificate); leave them unset behind a reverse proxy that terminates TLS.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, not {value!r}") from None


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")
workers = _int("GUNICORN_WORKERS", min(4, multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)

def _issuer_timeout() -> float:
    value = os.environ.get("REGISTERFT_ISSUER_TIMEOUT", "").strip()
    try:
        return float(value) if value else 10.0
    except ValueError:
        raise SystemExit(f"REGISTERFT_ISSUER_TIMEOUT must be a number of seconds, not {value!r}") from None


# One request may call the issuer twice (the start page renewing an expired invitation; a first
# ACA-Py offer that creates the portal's DID), each call up to REGISTERFT_ISSUER_TIMEOUT. The
# worker's timeout is longer than both, so that a slow issuer answers the visitor with the
# portal's own page (504) instead of a killed worker.
_slowest_request = 2 * _issuer_timeout()
timeout = _int("GUNICORN_TIMEOUT", max(30, int(_slowest_request) + 10))
if timeout <= _slowest_request:
    raise SystemExit(
        f"GUNICORN_TIMEOUT ({timeout} s) must be longer than twice REGISTERFT_ISSUER_TIMEOUT "
        f"({_slowest_request:g} s): a request may call the issuer twice."
    )
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 0)

certfile = os.environ.get("GUNICORN_CERTFILE") or None
keyfile = os.environ.get("GUNICORN_KEYFILE") or None
# Addresses of the reverse proxies whose X-Forwarded-* headers gunicorn trusts.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-")
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# The access log carries paths only: no query string, no body, nothing a visitor typed; and the
# request id the portal answered with, which its own lines for that request carry too.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
logger_class = "onboarding.logs.AccessLogger"  # the path is decoded: its control characters escaped

# REGISTERFT_LOG_FORMAT=json: gunicorn's own lines (access and errors) are JSON objects too, one per
# line on the same streams, so that a log shipper reads one format.
if os.environ.get("REGISTERFT_LOG_FORMAT", "text").strip().lower() == "json":
    _json_handler = {"class": "logging.StreamHandler", "formatter": "json"}
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "onboarding.logs.JsonFormatter"}},
        "handlers": {
            "json_access": {**_json_handler, "stream": "ext://sys.stdout"},
            "json_error": {**_json_handler, "stream": "ext://sys.stderr"},
        },
        # Replaces gunicorn's default root (whose text handler is gone); the portal's own loggers
        # are set up by Django's LOGGING in each worker.
        "root": {"level": "WARNING", "handlers": ["json_error"]},
        "loggers": {
            "gunicorn.access": {"level": "INFO", "handlers": ["json_access"], "propagate": False},
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["json_error"], "propagate": False},
        },
    }
