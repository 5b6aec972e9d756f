"""``manage.py acapy_events``: follow the ACA-Py issuer's events over its admin websocket."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding import agent_events
from onboarding.issuers import is_configured
from onboarding.issuers.base import IssuerRejected


class Command(BaseCommand):
    help = (
        "Read the ACA-Py issuer's events from its admin websocket (ACAPY_ADMIN_URL + /ws, with "
        "ACAPY_ADMIN_API_KEY) and apply them as its webhooks would be: one connection instead of "
        "one request to the portal per event. Runs until stopped (SIGTERM or Ctrl-C), opening the "
        "connection again after a break; exits with status 1 when the agent refuses the key. "
        "Run one per agent, beside gunicorn (docs/acapy.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=None,
                            help="Stop after this many seconds (default: run until stopped).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not is_configured(agent_events.BACKEND):
            raise CommandError("The portal runs no ACA-Py backend (REGISTERFT_ISSUERS names no acapy).")
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                signal.signal(number, lambda *_: stop.set())
        if options["seconds"] is not None:
            timer = threading.Timer(max(0.0, options["seconds"]), stop.set)
            timer.daemon = True
            timer.start()
        try:
            agent_events.follow_acapy_events(stop)
        except IssuerRejected as err:
            raise CommandError(str(err)) from err
