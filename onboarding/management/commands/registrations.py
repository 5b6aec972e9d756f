"""``manage.py registrations``: the attendee list, filtered by state and date."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from onboarding import operations
from onboarding.models import Registration
from onboarding.operations import RegistrationTable

EXPORT_FORMATS = ("table", "csv", "json")
# Cells a spreadsheet would run as a formula (or that hide one behind a tab or line break).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Line breaks to str.splitlines() and to some spreadsheets, but not to the csv module, which quotes
# only cells holding \r or \n: a cell keeps them as spaces, so that every record is one line.
CSV_STRAY_BREAKS = str.maketrans(dict.fromkeys("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", " "))
TABLE_CELL_WIDTH = 40  # long cells are cut so that a row fits a terminal line or two


class Command(BaseCommand):
    help = (
        "List registrations, oldest first, with their state, times and submitted details, as a "
        "table, CSV or JSON, to standard output or a file. CSV cells a spreadsheet would run as a "
        "formula are prefixed with a quote; line separators (U+2028, U+2029 and the like) in a cell "
        "become spaces."
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
            choices=EXPORT_FORMATS,
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
            since = parse_moment(options["since"]) if options["since"] else None
            until = parse_moment(options["until"], end_of_day=True) if options["until"] else None
            registrations = operations.registration_list(states=options["state"], since=since, until=until)
            table = operations.registration_table(registrations=registrations)
            if options["output"]:
                count = self._export_to_file(table, options["format"], options["output"])
                # Progress goes to stderr so that stdout stays clean for pipes.
                self.stderr.write(f"Wrote {count} registration(s) to {options['output']}.")
            else:
                # Built whole first: the command's stdout wrapper would end every partial write
                # (json and csv write in pieces) with a line break.
                out = io.StringIO()
                write_export(table, fmt=options["format"], out=out)
                self.stdout.write(out.getvalue(), ending="")
        except operations.AdminError as err:
            raise CommandError(str(err)) from err

    def _export_to_file(self, table: RegistrationTable, fmt: str, path: str) -> int:
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                return write_export(table, fmt=fmt, out=out)
        except OSError as err:
            raise CommandError(f"Cannot write {path}: {err.strerror or err}") from err


def parse_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time; without a zone it is the portal's time zone. A date alone is the
    start of that day, or with ``end_of_day`` the start of the next (so that "until Tuesday"
    includes Tuesday)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM).") from None
    if end_of_day and len(text.strip()) == 10:
        moment += timedelta(days=1)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def csv_safe(value: str) -> str:
    """A cell a spreadsheet shows as text on one line: a leading quote disarms a formula, and the
    line and paragraph separators the csv module would leave unquoted become spaces."""
    value = value.translate(CSV_STRAY_BREAKS)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def write_export(table: RegistrationTable, *, fmt: str, out: IO[str]) -> int:
    """Write the registrations to ``out`` as a table, CSV or JSON; returns how many."""
    if fmt not in EXPORT_FORMATS:
        raise CommandError(f"Unknown format {fmt!r}: choose from {', '.join(EXPORT_FORMATS)}.")
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=table.columns, lineterminator="\r\n")
        writer.writeheader()
        for row in table.rows:
            writer.writerow({column: csv_safe(value) for column, value in row.items()})
    elif fmt == "json":
        json.dump(table.rows, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        _write_table(table, out)
    return len(table.rows)


def _write_table(table: RegistrationTable, out: IO[str]) -> None:
    width, columns = TABLE_CELL_WIDTH, table.columns
    cells = [[(row[column] if len(row[column]) <= width else row[column][: width - 1] + "…") for column in columns]
             for row in table.rows]
    widths = [max([len(column)] + [len(line[index]) for line in cells]) for index, column in enumerate(columns)]
    out.write("  ".join(column.ljust(widths[i]) for i, column in enumerate(columns)).rstrip() + "\n")
    for line in cells:
        out.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() + "\n")
    count = len(table.rows)
    out.write(f"({count} registration{'s' if count != 1 else ''})\n")
