"""``manage.py purge_registrations``: retention, and one person's record on request."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from onboarding import operations

DURATION = re.compile(r"^\s*(\d+)\s*([dh])\s*$", re.IGNORECASE)


class Command(BaseCommand):
    help = (
        "Delete registrations created longer ago than a retention period, or one registration by "
        "its id; with --anonymise, keep them for statistics but drop the submitted details and "
        "the issuer's handles instead. Name either --older-than or --id."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            metavar="AGE",
            help="Registrations created longer ago than this: a whole number of days or hours, e.g. 30d or 12h.",
        )
        parser.add_argument(
            "--id",
            dest="registration_id",
            metavar="UUID",
            help="Only this registration (a person's request to be forgotten); its id is in `registrations`.",
        )
        parser.add_argument(
            "--anonymise",
            action="store_true",
            help="Anonymise instead of deleting: state and times stay, details and issuer handles go.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only say how many registrations would be deleted or anonymised; change nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            older_than = parse_duration(options["older_than"]) if options["older_than"] is not None else None
            result = operations.registration_purge(
                older_than=older_than,
                registration_id=options["registration_id"],
                anonymise=options["anonymise"],
                dry_run=options["dry_run"],
            )
        except operations.AdminError as err:
            raise CommandError(str(err)) from err
        verb = "anonymise" if result.anonymised else "delete"
        what = f"{result.count} registration{'s' if result.count != 1 else ''}"
        if result.cutoff is not None:
            what += f" created before {timezone.localtime(result.cutoff).isoformat(timespec='seconds')}"
        if result.dry_run:
            self.stdout.write(f"Dry run: would {verb} {what}. Nothing was changed.")
            return
        self.stdout.write(f"{verb.capitalize()}d {what}.")
        if result.agent_records_deleted:
            self.stdout.write(f"Deleted {result.agent_records_deleted} credential record(s) at the issuer agent.")
        if result.kept_for_agent:
            raise CommandError(
                f"The issuer agent could not delete the records of {result.kept_for_agent} registration(s); "
                "they were kept. Run the command again once the agent answers."
            )


def parse_duration(text: str) -> timedelta:
    """``30d`` (days) or ``12h`` (hours), at least one of the unit."""
    match = DURATION.match(text or "")
    if not match or int(match.group(1)) < 1:
        raise CommandError(f"{text!r} is not a duration: write a whole number of days or hours, e.g. 30d or 12h.")
    amount, unit = int(match.group(1)), match.group(2).lower()
    return timedelta(days=amount) if unit == "d" else timedelta(hours=amount)
