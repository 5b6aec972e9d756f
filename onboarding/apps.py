from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self) -> None:
        from onboarding import checks  # noqa: F401  (registers the door's deploy check)

        # The folders the default SQLite database and the file sessions live in.
        Path(settings.SESSION_FILE_PATH).mkdir(parents=True, exist_ok=True)
        db_name = str(settings.DATABASES["default"].get("NAME") or "")
        if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and db_name and "memory" not in db_name:
            Path(db_name).parent.mkdir(parents=True, exist_ok=True)
        from onboarding import checks  # noqa: F401  (registers the portal's system checks)
