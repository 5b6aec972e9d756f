"""``manage.py checkins``: the check-ins at the door, as a table, CSV (formula-safe) or JSON."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from onboarding.management.commands.registrations import csv_safe
from onboarding.models import CheckIn

COLUMNS = ("time", "outcome", "reason", "method", "door", "staff", "registration", "credential_id")


def rows() -> list[dict[str, str]]:
    return [
        {
            "time": timezone.localtime(check_in.created_at).isoformat(timespec="seconds"),
            "outcome": check_in.outcome, "reason": check_in.reason, "method": check_in.method,
            "door": check_in.door, "staff": check_in.staff_name,
            "registration": str(check_in.registration_id or ""), "credential_id": check_in.credential_id,
        }
        for check_in in CheckIn.objects.order_by("created_at", "pk")
    ]


class Command(BaseCommand):
    help = "List the door's check-ins, oldest first: as a table, CSV (cells a spreadsheet would run as a formula are quoted) or JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=("table", "csv", "json"), default="table")

    def handle(self, *args: Any, **options: Any) -> None:
        table = rows()
        out = io.StringIO()
        if options["format"] == "csv":
            writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
            writer.writeheader()
            for row in table:
                writer.writerow({column: csv_safe(value) for column, value in row.items()})
        elif options["format"] == "json":
            json.dump(table, out, ensure_ascii=False, indent=2)
            out.write("\n")
        else:
            for row in table:
                out.write("  ".join(row[column] or "-" for column in COLUMNS) + "\n")
            out.write(f"({len(table)} check-in{'s' if len(table) != 1 else ''})\n")
        self.stdout.write(out.getvalue(), ending="")
