"""gunicorn settings for registerft, read from the environment.

    gunicorn -c gunicorn.conf.py registerft.wsgi

Put a reverse proxy that buffers requests in front (nginx, docs/deployment.md): it terminates TLS
and absorbs slow clients. GUNICORN_CERTFILE and GUNICORN_KEYFILE make gunicorn speak TLS itself,
to such a proxy only: on a loopback or private address, never a public or wildcard one (see
public_tls_binds below).
"""

import ipaddress
import sys
from pathlib import Path

# gunicorn loads this file before Django is set up and before it applies --pythonpath: the portal's
# folder must be importable here for the helpers that the settings read the environment with too.
_portal = str(Path(__file__).resolve().parent)
if _portal not in sys.path:
    sys.path.insert(0, _portal)

from django.core.exceptions import ImproperlyConfigured  # noqa: E402

from registerft.env import envbool, envint, envlist, envstr, issuer_timeout, log_format  # noqa: E402

try:
    bind = envlist("GUNICORN_BIND") or ["127.0.0.1:8000"]
    # One process, with threads for the requests that wait on the issuer. At an event the issuer
    # agent is the limit and the portal needs a fraction of one core (a fifth with 200 visitors
    # arriving at once), and every process more made each request dearer: in make bench's event a
    # registration cost 34-36 ms of the portal's CPU with one process of 8 threads against 39-40
    # with two of 6, and two cost a fifth less than four. Under saturation it is the other way
    # round (the threads of one process take turns on its interpreter lock: docs/benchmark.md).
    # GUNICORN_WORKERS=2 keeps one serving while the other restarts (after a crash or a request
    # past the timeout). Each thread keeps its own database connection: the worker stays at 75 MB.
    workers = envint("GUNICORN_WORKERS", 1)
    worker_class = "gthread"
    threads = envint("GUNICORN_THREADS", 8)

    # One request may call the issuer twice (the start page renewing an expired invitation; a first
    # ACA-Py offer that creates the portal's DID), each call up to REGISTERFT_ISSUER_TIMEOUT. The
    # worker's timeout is longer than both, so that a slow issuer answers the visitor with the
    # portal's own page (504) instead of a killed worker.
    _slowest_request = 2 * issuer_timeout()
    timeout = envint("GUNICORN_TIMEOUT", max(30, int(_slowest_request) + 10))
    graceful_timeout = envint("GUNICORN_GRACEFUL_TIMEOUT", 30)
    keepalive = envint("GUNICORN_KEEPALIVE", 5)
    max_requests = envint("GUNICORN_MAX_REQUESTS", 0)
    max_requests_jitter = envint("GUNICORN_MAX_REQUESTS_JITTER", 0)

    certfile = envstr("GUNICORN_CERTFILE")
    keyfile = envstr("GUNICORN_KEYFILE")
    # Addresses of the reverse proxies whose X-Forwarded-* headers gunicorn trusts (set but empty: none).
    forwarded_allow_ips = ",".join(envlist("GUNICORN_FORWARDED_ALLOW_IPS", ["127.0.0.1", "::1"]))

    accesslog = envstr("GUNICORN_ACCESSLOG", "-")
    _log_polls = envbool("GUNICORN_ACCESSLOG_POLLS", False)
    loglevel = envstr("GUNICORN_LOGLEVEL", "info")
    _log_format = log_format()
except ImproperlyConfigured as err:
    # gunicorn would print a traceback under "Failed to read config file"; the message says it all.
    raise SystemExit(str(err)) from None

if timeout <= _slowest_request:
    raise SystemExit(
        f"GUNICORN_TIMEOUT ({timeout} s) must be longer than twice REGISTERFT_ISSUER_TIMEOUT "
        f"({_slowest_request:g} s): a request may call the issuer twice."
    )


def public_tls_binds(addresses: list[str]) -> list[str]:
    """The binds of ``addresses`` that clients on the internet may reach: a wildcard, a global
    address or a host name; not a Unix socket, nor a loopback or private address."""
    public = []
    for address in addresses:
        if address.startswith(("unix:", "fd://")):
            continue
        host = address.rpartition(":")[0].strip("[]") if ":" in address else address
        if host == "localhost":
            continue
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            public.append(address)  # a host name, or "" (every interface)
            continue
        if ip.is_global or ip.is_unspecified:
            public.append(address)
    return public


# gunicorn's threads read a request's first bytes, TLS handshake and headers themselves: a dozen
# clients that trickle them hold every thread, and /healthz stops answering (issue 11, item 3).
# Only a proxy that buffers whole requests before it passes them on protects them, so gunicorn
# never faces the internet with its own TLS.
if certfile and public_tls_binds(bind):
    raise SystemExit(
        f"GUNICORN_CERTFILE is set and GUNICORN_BIND ({', '.join(public_tls_binds(bind))}) is reachable from "
        "outside: slow clients would hold every gunicorn thread. Put a reverse proxy that buffers requests "
        "(nginx, docs/deployment.md) in front, bind gunicorn to a loopback or private address, and let the "
        "proxy terminate TLS."
    )
errorlog = "-"
# The access log carries paths only: no query string, no body, nothing a visitor typed; and the
# request id the portal answered with, which its own lines for that request carry too.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'
# The path is decoded: its control characters are escaped. Successful polls of the status
# endpoints are left out unless GUNICORN_ACCESSLOG_POLLS=1 (onboarding/logs.py).
logger_class = "onboarding.logs.AccessLogger" if _log_polls else "onboarding.logs.QuietPollsAccessLogger"

# REGISTERFT_LOG_FORMAT=json: gunicorn's own lines (access and errors) are JSON objects too, one per
# line on the same streams, so that a log shipper reads one format.
if _log_format == "json":
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
