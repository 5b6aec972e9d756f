"""``manage.py invite``: an invitation as a QR code in the terminal, for a kiosk or a wallet test."""

from __future__ import annotations

import io
from typing import Any

import qrcode
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding import operations
from onboarding.issuers import issuer_names
from onboarding.issuers.base import IssuerError

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = (
        "Create a connection invitation at the configured issuer and print its URL and a QR code "
        "a wallet can scan from the terminal. It is an invitation only: no registration is "
        "started, so a wallet that connects gets no credential through it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--label",
            default=None,
            help="The name the wallet shows for the invitation (default: REGISTERFT_EVENT_NAME).",
        )
        parser.add_argument(
            "--base-url",
            default=None,
            help="Where phones reach the portal, for issuers whose invitations are portal pages (the "
            f"demo issuer). Default: REGISTERFT_PUBLIC_URL, else {DEFAULT_BASE_URL}.",
        )
        parser.add_argument(
            "--backend",
            default="",
            choices=issuer_names(),
            help="Where the portal runs several issuer backends: the one to invite with (default: the "
            "first of REGISTERFT_ISSUERS that makes connection invitations).",
        )
        parser.add_argument("--no-qr", action="store_true", help="Print only the URL, without the QR code.")
        parser.add_argument(
            "--invert",
            action="store_true",
            help="Swap dark and light blocks, for a terminal with dark text on a light background.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        label = options["label"] or settings.REGISTERFT_EVENT_NAME
        base_url = options["base_url"] or settings.REGISTERFT_PUBLIC_URL or DEFAULT_BASE_URL
        if not base_url.startswith(("http://", "https://")):
            raise CommandError(f"--base-url must start with http:// or https://, not {base_url!r}.")
        try:
            invitation = operations.invitation_create(label=label, base_url=base_url, backend=options["backend"])
        except IssuerError as err:
            raise CommandError(f"The issuer could not create an invitation: {err}") from err
        if not options["no_qr"]:
            self.stdout.write(qr_text(invitation.url, invert=options["invert"]), ending="")
        self.stdout.write(invitation.url)


def qr_text(data: str, *, invert: bool = False) -> str:
    """A QR code drawn with block characters, two modules per character row, for a terminal."""
    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    out = io.StringIO()
    code.print_ascii(out=out, invert=invert)
    return out.getvalue()
