"""``manage.py withdraw <registration id>``: the door refuses that registration's credential, and
the issuer revokes it where it can."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding import checkin
from onboarding.models import Registration


class Command(BaseCommand):
    help = (
        "Withdraw registrations by id: the door refuses their credentials from now on, and where "
        "the issuer can (swiyu) the credential is revoked there too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("registration", nargs="+", help="A registration's id (a UUID).")

    def handle(self, *args: Any, **options: Any) -> None:
        for value in options["registration"]:
            try:
                registration = Registration.objects.get(pk=uuid.UUID(value))
            except (ValueError, Registration.DoesNotExist):
                raise CommandError(f"No registration with the id {value!r}.") from None
            if checkin.registration_withdraw(registration=registration):
                self.stdout.write(f"Withdrawn: {registration.pk}")
            else:
                self.stdout.write(f"Already withdrawn: {registration.pk}")
