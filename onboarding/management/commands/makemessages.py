"""``makemessages`` for this project: ``python manage.py makemessages -a`` just works.

Two differences from Django's command:
- flow.py marks messages for later translation with ``gettext_noop as N_``; xgettext's Python
  defaults know ``gettext_noop`` but not the ``N_`` alias, so those messages would never reach the
  catalogues without ``--keyword=N_``.
- The virtualenv, runtime data, tests and benchmarks hold no strings a visitor sees, and walking
  ``.venv`` would pull in every installed package's strings, so they are always ignored.
"""

from typing import Any

from django.core.management.commands import makemessages

NOT_PORTAL_CODE = [".venv", "var", "tests", "bench", "node_modules"]


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=N_"]

    def handle(self, *args: Any, **options: Any) -> None:
        options["ignore_patterns"] = [*options.get("ignore_patterns", []), *NOT_PORTAL_CODE]
        super().handle(*args, **options)
