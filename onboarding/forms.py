"""The visitor's details form, built from ``REGISTERFT_FORM_FIELDS``."""

from __future__ import annotations

import unicodedata

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from onboarding import text


def clean_text(value: str) -> str:
    """Trim and NFC-normalise; refuse control and bidirectional-override characters, and a value
    with no letter or digit that shows."""
    value = unicodedata.normalize("NFC", value).strip()
    kind = text.first_unsafe_kind(value)
    if kind == text.BIDI:
        raise forms.ValidationError(_("Please remove the text direction characters."), code="bidi")
    if kind == text.CONTROL:
        raise forms.ValidationError(_("Please remove the invisible or control characters."), code="control")
    if value and not text.has_visible_letter(value):
        raise forms.ValidationError(_("Please use at least one letter or digit."), code="no_letter")
    return value


class DetailsField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        if value and self.max_length and len(value) > self.max_length * 4:
            # Far too long to be a name even before normalising: do not scan it character by
            # character.
            raise forms.ValidationError(
                _("Please use at most %(limit)d characters."), code="max_length", params={"limit": self.max_length}
            )
        return clean_text(value) if value else value


class DetailsForm(forms.Form):
    """One text field per configured attribute."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for spec in settings.REGISTERFT_FORM_FIELDS:
            self.fields[spec["name"]] = DetailsField(
                label=spec["label"],
                required=spec["required"],
                max_length=spec["max_length"],
                strip=False,  # clean_text trims after normalising
                widget=forms.TextInput(attrs={"autocomplete": spec.get("autocomplete", _autocomplete(spec["name"]))}),
            )

    def _post_clean(self) -> None:
        super()._post_clean()
        # Tie each error message to its field for screen readers, and start the visitor (keyboard
        # and screen reader alike) on the first field to correct.
        invalid = [name for name in self.fields if name in self.errors]
        for name in invalid:
            self.fields[name].widget.attrs.update(
                {"aria-invalid": "true", "aria-describedby": f"{self[name].auto_id}_error"}
            )
        if invalid:
            self.fields[invalid[0]].widget.attrs["autofocus"] = True

    def attributes(self) -> dict[str, str]:
        return {name: value for name, value in self.cleaned_data.items() if value}


def _autocomplete(name: str) -> str:
    return {"first_name": "given-name", "last_name": "family-name", "institution": "organization"}.get(name, "off")
