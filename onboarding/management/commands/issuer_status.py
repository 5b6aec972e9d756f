"""``manage.py issuer_status``: does each configured issuer answer, and how fast?"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from onboarding import operations
from onboarding.issuers import issuer_names


class Command(BaseCommand):
    help = (
        "Show each configured issuer backend and its settings (secrets masked), ask it whether it "
        "answers, and print its version and the round-trip time. Exits with status 1 when the "
        "issuer does not answer, so that a script or a monitor can act on it. For ACA-Py it also "
        "says whether the agent's event websocket (manage.py acapy_events) accepts the key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        silent = []
        for number, backend in enumerate(issuer_names()):
            if number:
                self.stdout.write("")  # several backends: one block each
            health = operations.issuer_status(backend)
            self.stdout.write(f"backend:    {health.backend}")
            self.stdout.write("settings:")
            for name, value in health.settings.items():
                self.stdout.write(f"  {name}: {value}")
            self.stdout.write(f"reachable:  {'yes' if health.reachable else 'no'}")
            self.stdout.write(f"version:    {health.version or 'unknown'}")
            self.stdout.write(f"round trip: {health.seconds * 1000:.0f} ms")
            if health.detail:
                self.stdout.write(f"detail:     {health.detail}")
            stream = operations.event_stream_status(health.backend) if health.reachable else ""
            if stream:
                # Informative: the flow runs on webhooks without it (docs/acapy.md).
                self.stdout.write(f"events ws:  {stream}")
            if not health.reachable:
                silent.append(f"The issuer ({health.backend}) does not answer: {health.detail or 'no detail'}")
        if silent:
            raise CommandError(" ".join(silent))
