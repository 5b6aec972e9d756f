"""The portal's JSON-valued settings: the details form's fields and the wallet apps the help page
names. Each reader checks the shape and stops start-up with a message that names the variable."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from registerft.env import envjson

# The details form without REGISTERFT_FORM_FIELDS.
DEFAULT_FORM_FIELDS: list[dict[str, Any]] = [
    {"name": "first_name", "label": _("First name"), "required": True, "max_length": 100},
    {"name": "last_name", "label": _("Last name"), "required": True, "max_length": 100},
    {"name": "institution", "label": _("Institution"), "required": True, "max_length": 200},
]
# The wallet apps the help page names without REGISTERFT_WALLET_APPS.
DEFAULT_WALLET_APPS: list[dict[str, Any]] = [
    {"name": "BC Wallet", "ios": "https://apps.apple.com/app/bc-wallet/id1587380443",
     "android": "https://play.google.com/store/apps/details?id=ca.bc.gov.BCWallet", "wallets": ["acapy", "agent-rest"]},
    {"name": "Lissi Wallet", "ios": "https://apps.apple.com/app/lissi-wallet/id1529848685",
     "android": "https://play.google.com/store/apps/details?id=io.lissi.mobile.android", "wallets": ["acapy", "agent-rest"]},
]


def envformfields(name: str, default: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A non-empty JSON list of {"name", "label", "required", "max_length"}; only the name is
    needed (the label defaults to the name in words, a field is required, 100 characters long)."""
    fields = envjson(name)
    if fields is None:
        return default
    if not isinstance(fields, list) or not fields:
        raise ImproperlyConfigured(f"{name} must be a non-empty JSON list of fields.")
    for field in fields:
        if not isinstance(field, dict) or not str(field.get("name", "")).isidentifier():
            raise ImproperlyConfigured(f"Each entry of {name} needs a 'name' that is a valid identifier.")
        field.setdefault("label", field["name"].replace("_", " ").capitalize())
        field.setdefault("required", True)
        field.setdefault("max_length", 100)
        if not isinstance(field["max_length"], int) or not 1 <= field["max_length"] <= 1000:
            raise ImproperlyConfigured(f"{name}: max_length must be from 1 to 1000.")
        # JSON's "no" or "false" as a string would be truthy and make the field required.
        if not isinstance(field["required"], bool):
            raise ImproperlyConfigured(f"{name}: required must be true or false.")
    names = [field["name"] for field in fields]
    if len(set(names)) != len(names):
        # A repeated name would silently become one field of the form.
        raise ImproperlyConfigured(f"{name}: each field name may appear only once.")
    return fields


def envwalletapps(name: str, default: list[dict[str, str]]) -> list[dict[str, str]]:
    """A JSON list of {"name", "ios", "android", "website", "wallets"}, each link https; "wallets"
    names the backends whose kind of wallet the app is (absent: every kind), for the help page's
    list per choice where the portal runs several."""
    apps = envjson(name)
    if apps is None:
        return default
    if not isinstance(apps, list) or not all(isinstance(app, dict) and app.get("name") for app in apps):
        raise ImproperlyConfigured(f"{name} must be a JSON list of objects, each with a 'name'.")
    for app in apps:
        for key in ("ios", "android", "website"):
            if app.get(key) and not str(app[key]).startswith("https://"):
                raise ImproperlyConfigured(f"{name}: the {key} link of {app['name']} must be https.")
        wallets = app.get("wallets", [])
        if not isinstance(wallets, list) or not all(isinstance(backend, str) for backend in wallets):
            raise ImproperlyConfigured(f"{name}: the wallets of {app['name']} must be a list of backend names.")
    return apps


WALLET_CHOICE_KEYS = ("name", "description", "icon", "help")


def envwalletchoices(name: str, backends: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """A JSON object of the kinds of wallet the visitor chooses from, by backend name: each
    {"name", "description", "icon", "help"}, all optional; a name or description is a string or
    {"de": ..., "fr": ..., "it": ..., "en": ...}; the icon a path of the portal's own origin (the
    CSP allows no other), the help link https or a path of the portal."""
    choices = envjson(name)
    if choices is None:
        return {}
    if not isinstance(choices, dict) or not all(isinstance(value, dict) for value in choices.values()):
        raise ImproperlyConfigured(f'{name} must be a JSON object such as {{"swiyu": {{"name": "swiyu"}}}}.')
    for backend, choice in choices.items():
        if backend not in backends:
            raise ImproperlyConfigured(f"{name} names {backend!r}, which REGISTERFT_ISSUERS does not.")
        unknown = sorted(set(choice) - set(WALLET_CHOICE_KEYS))
        if unknown:
            raise ImproperlyConfigured(f"{name}: {backend} has keys other than {', '.join(WALLET_CHOICE_KEYS)}: {unknown}.")
        for key in ("name", "description"):
            text = choice.get(key, "")
            if not isinstance(text, str) and not (
                isinstance(text, dict) and all(isinstance(value, str) for value in text.values())
            ):
                raise ImproperlyConfigured(f"{name}: the {key} of {backend} must be a text or an object of texts by language.")
        icon = str(choice.get("icon", ""))
        if icon and (not icon.startswith("/") or icon.startswith("//")):
            raise ImproperlyConfigured(f"{name}: the icon of {backend} must be a path of the portal, such as /static/...")
        help_link = str(choice.get("help", "https://"))
        if not help_link.startswith(("https://", "/")) or help_link.startswith("//"):
            raise ImproperlyConfigured(f"{name}: the help link of {backend} must be https or a path of the portal.")
    return choices
