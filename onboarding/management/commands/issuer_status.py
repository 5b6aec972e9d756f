"""``manage.py issuer_status``: does the configured issuer answer, and how fast?"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from onboarding import operations


class Command(BaseCommand):
    help = (
        "Show the configured issuer backend and its settings (secrets masked), ask it whether it "
        "answers, and print its version and the round-trip time. Exits with status 1 when the "
        "issuer does not answer, so that a script or a monitor can act on it."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        health = operations.issuer_status()
        self.stdout.write(f"backend:    {health.backend}")
        self.stdout.write("settings:")
        for name, value in health.settings.items():
            self.stdout.write(f"  {name}: {value}")
        self.stdout.write(f"reachable:  {'yes' if health.reachable else 'no'}")
        self.stdout.write(f"version:    {health.version or 'unknown'}")
        self.stdout.write(f"round trip: {health.seconds * 1000:.0f} ms")
        if health.detail:
            self.stdout.write(f"detail:     {health.detail}")
        if not health.reachable:
            raise CommandError(f"The issuer ({health.backend}) does not answer: {health.detail or 'no detail'}")
