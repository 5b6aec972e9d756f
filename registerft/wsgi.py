import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registerft.settings")

django_application = get_wsgi_application()

from onboarding.views.webhooks import StepsOnTheWay  # noqa: E402 - it needs Django set up

# ACA-Py's webhooks for the steps on the way are answered before Django (onboarding/views/webhooks.py).
application = StepsOnTheWay(django_application)
