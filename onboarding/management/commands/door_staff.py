"""``manage.py door_staff add|remove <user name>``: who may check visitors in at the door."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Give a user the permission onboarding.check_in (the door's staff page), or take it away. "
        "The user must exist (createsuperuser, or the admin's Users page)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("add", "remove", "list"))
        parser.add_argument("username", nargs="?", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        permission = Permission.objects.get(content_type__app_label="onboarding", codename="check_in")
        users = get_user_model().objects
        if options["action"] == "list":
            for user in users.filter(user_permissions=permission).order_by("username"):
                self.stdout.write(user.get_username())
            return
        try:
            user = users.get_by_natural_key(options["username"])
        except users.model.DoesNotExist:
            raise CommandError(f"No user named {options['username']!r}.") from None
        if options["action"] == "add":
            user.user_permissions.add(permission)
            self.stdout.write(f"{user.get_username()} may now check visitors in.")
        else:
            user.user_permissions.remove(permission)
            self.stdout.write(f"{user.get_username()} may no longer check visitors in.")
