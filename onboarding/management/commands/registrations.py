"""``manage.py registrations``: the attendee list, filtered by state and date."""

from __future__ import annotations

import io
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding import admin_services
from onboarding.models import Registration


class Command(BaseCommand):
    help = (
        "List registrations, oldest first, with their state, times and submitted details, as a "
        "table, CSV or JSON, to standard output or a file. CSV cells a spreadsheet would run as a "
        "formula are prefixed with a quote."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--state",
            action="append",
            choices=Registration.State.values,
            default=[],
            help="Only registrations in this state; repeat for several (default: all states).",
        )
        parser.add_argument(
            "--since",
            help="Only registrations created at or after this date (YYYY-MM-DD) or date-time "
            "(YYYY-MM-DDTHH:MM, in the portal's time zone unless it names one).",
        )
        parser.add_argument(
            "--until",
            help="Only registrations created before this date-time; a date alone includes that whole day.",
        )
        parser.add_argument(
            "--format",
            choices=admin_services.EXPORT_FORMATS,
            default="table",
            help="table (for reading, long cells cut), csv (for a spreadsheet) or json. Default: table.",
        )
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="Write to this file (UTF-8, replaced if it exists) instead of standard output.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            since = admin_services.parse_moment(options["since"]) if options["since"] else None
            until = admin_services.parse_moment(options["until"], end_of_day=True) if options["until"] else None
            registrations = admin_services.registration_list(states=options["state"], since=since, until=until)
            if options["output"]:
                count = self._export_to_file(registrations, options["format"], options["output"])
                # Progress goes to stderr so that stdout stays clean for pipes.
                self.stderr.write(f"Wrote {count} registration(s) to {options['output']}.")
            else:
                # Built whole first: the command's stdout wrapper would end every partial write
                # (json and csv write in pieces) with a line break.
                out = io.StringIO()
                admin_services.registration_export(registrations=registrations, fmt=options["format"], out=out)
                self.stdout.write(out.getvalue(), ending="")
        except admin_services.AdminError as err:
            raise CommandError(str(err)) from err

    def _export_to_file(self, registrations: Any, fmt: str, path: str) -> int:
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                return admin_services.registration_export(registrations=registrations, fmt=fmt, out=out)
        except OSError as err:
            raise CommandError(f"Cannot write {path}: {err.strerror or err}") from err
