"""Logging for production: a request id on every line, one line per event, text or JSON.

The request id lives in a context variable set by ``RequestIdMiddleware``; ``RequestIdFilter``
copies it onto every record that reaches the portal's handler, so the issuer backends' call lines
carry it without being changed. Nothing here reads a request's body or query: a log line never
holds what a visitor typed.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from django.http import HttpRequest, HttpResponse
from gunicorn.glogging import Logger as GunicornLogger
from gunicorn.glogging import SafeAtoms

NO_REQUEST = "-"
request_id_var: ContextVar[str] = ContextVar("registerft_request_id", default=NO_REQUEST)

# An id from a proxy or load balancer is kept only when it is a plain token: it ends up in log
# lines and a response header, so nothing that could forge a line or a header gets through.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_META = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")


def request_id_from(request: HttpRequest) -> str:
    # From META rather than request.headers: the first reader of request.headers builds a mapping of
    # every header: 16 µs of a request that needs none, an eighth of the whole middleware chain.
    incoming = request.META.get(_REQUEST_ID_META, "")
    return incoming if SANE_REQUEST_ID.match(incoming) else secrets.token_hex(16)


class RequestIdMiddleware:
    """Gives each request an id (the caller's X-Request-ID if sane) for its log lines and response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request, e.g. in a command)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


# Control characters (C0, DEL, C1) and the Unicode line and paragraph separators: a line break
# would forge a second "event" for a collector that splits lines, and NUL or an escape sequence
# would reach whoever reads the log in a terminal.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED_ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_controls(text: str) -> str:
    """``text`` on one line, each control character written as its escape (``\\n``, ``\\x00``)."""
    return CONTROL_CHARACTERS.sub(_escape, text)


def _one_line(text: str) -> str:
    # A traceback or a message with line breaks would otherwise become several "events".
    return escape_controls(text)


class TextFormatter(logging.Formatter):
    """``time level logger request_id=... message``, always on one line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return _one_line(super().format(record))


def _access_line_request_id(record: logging.LogRecord) -> str:
    """gunicorn's access line is logged after the request, with the response's headers as its
    arguments: the id the portal answered with is among them."""
    if record.name != "gunicorn.access" or not isinstance(record.args, dict):
        return ""
    value = record.args.get("{x-request-id}o", "")
    return value if isinstance(value, str) and SANE_REQUEST_ID.match(value) else ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO), level, logger, request_id, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None) or _access_line_request_id(record) or request_id_var.get(),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        # json.dumps escapes line breaks inside strings, so the object stays on one line.
        return json.dumps(entry, ensure_ascii=False, default=str)


class OneLineWarning(logging.Filter):
    """For a logger whose errors are a client's doing (``django.security.DisallowedHost``: a bad
    Host header, which anyone can send): a warning of one line, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        record.exc_info = None
        record.exc_text = None
        return True


class EscapedAtoms(SafeAtoms):
    """gunicorn's access line atoms with control characters escaped: it logs the percent-decoded
    path, in which %0d%0a would start a forged second line and %00 write a NUL.

    An atom is escaped when the line's format reads it. gunicorn hands over some fifty (every
    request and response header, every environ variable) for the seven the portal's format names;
    escaping them all cost about 30 µs a request (make bench's minimal view)."""

    def __init__(self, atoms: dict) -> None:
        dict.__init__(self, atoms)  # not SafeAtoms.__init__, which would quote every value now

    def __getitem__(self, key: str) -> object:
        value = super().__getitem__(key)
        return escape_controls(value).replace('"', '\\"') if isinstance(value, str) else value


class AccessLogger(GunicornLogger):
    """gunicorn's logger (``logger_class`` in gunicorn.conf.py), with access lines that hold no
    control character."""

    atoms_wrapper_class = EscapedAtoms


class QuietPollsAccessLogger(AccessLogger):
    """As ``AccessLogger``, without a line for a poll answered with success: a GET of a status
    endpoint (a path ending in ``/status``) with a 2xx. The waiting pages ask every second or two:
    at an event their lines would be most of the log, and each cost a worker about 0.08 ms of CPU,
    an eighth of the poll (wrk on /check_connection/status). A poll that fails, and every other
    request, is logged. ``GUNICORN_ACCESSLOG_POLLS=1`` logs them all (gunicorn.conf.py)."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        # gunicorn's status is the application's ("200 OK"), or a number for its own answers.
        if (environ.get("REQUEST_METHOD") == "GET" and environ.get("PATH_INFO", "").endswith("/status")
                and str(resp.status).startswith("2")):
            return
        super().access(resp, req, environ, request_time)
