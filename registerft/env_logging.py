"""The portal's LOGGING: a request id on every line, one format for the portal's lines and
gunicorn's (REGISTERFT_LOG_FORMAT), and a bad Host header as one warning line."""

from __future__ import annotations

from typing import Any


def logging_settings(*, log_format: str, level: str) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "onboarding.logs.RequestIdFilter"},
            "one_line_warning": {"()": "onboarding.logs.OneLineWarning"},
        },
        "formatters": {"text": {"()": "onboarding.logs.TextFormatter"}, "json": {"()": "onboarding.logs.JsonFormatter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["request_id"]}
        },
        "root": {"handlers": ["console"], "level": "WARNING"},
        "loggers": {
            "onboarding": {"level": level, "propagate": True},
            # A bad Host header is anyone's to send: one warning line, not an error with a traceback.
            "django.security.DisallowedHost": {"filters": ["one_line_warning"]},
        },
    }
