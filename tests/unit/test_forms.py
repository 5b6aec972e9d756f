"""The visitor's details form: fields from settings, and what a name may contain."""

from __future__ import annotations

import json
import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from onboarding.forms import DetailsForm
from onboarding.models import Registration
from onboarding.services import SESSION_KEY
from registerft.env_json import envformfields

VALID = {"first_name": "Ada", "last_name": "Lovelace", "institution": "Analytical Engines"}


def form_with(**values: str) -> DetailsForm:
    return DetailsForm(data={**VALID, **values})


def error_codes(form: DetailsForm, field: str) -> list[str]:
    return [error.code for error in form.errors.as_data().get(field, [])]


# --- The default fields ---------------------------------------------------------------------


def test_the_default_form_asks_for_the_originals_three_fields():
    assert list(DetailsForm().fields) == ["first_name", "last_name", "institution"]
    assert all(field.required for field in DetailsForm().fields.values())


@pytest.mark.parametrize("field", ["first_name", "last_name", "institution"])
@pytest.mark.parametrize("value", ["", "   ", "\u3000"])
def test_it_requires_every_default_field(field, value):
    form = form_with(**{field: value})
    assert not form.is_valid()
    assert error_codes(form, field) == ["required"]


def test_it_trims_what_the_visitor_typed():
    form = form_with(first_name="  Ada\u00a0", last_name="Lovelace ")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_name"] == "Ada"
    assert form.cleaned_data["last_name"] == "Lovelace"


def test_it_stores_names_in_composed_form():
    decomposed = "Zoe\u0308 Ba\u0302tard"
    form = form_with(first_name=decomposed)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_name"] == "Zo\u00eb B\u00e2tard"


def test_it_accepts_a_name_of_exactly_the_limit():
    assert form_with(first_name="a" * 100, institution="b" * 200).is_valid()


@pytest.mark.parametrize("field, limit", [("first_name", 100), ("last_name", 100), ("institution", 200)])
def test_it_refuses_a_name_over_the_limit(field, limit):
    form = form_with(**{field: "a" * (limit + 1)})
    assert not form.is_valid()
    assert error_codes(form, field) == ["max_length"]


def test_it_counts_the_limit_after_composing_the_characters():
    # 100 letters with a combining accent each: 200 code points typed, 100 characters stored.
    form = form_with(first_name="e\u0301" * 100)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_name"] == "\u00e9" * 100


def test_it_refuses_a_huge_value_without_examining_it():
    form = form_with(first_name="\u202e" * 100_000)
    assert not form.is_valid()
    assert error_codes(form, "first_name") == ["max_length"]


# --- Characters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x07", "\n", "\r", "\t", "\x1b", "\x7f", "\x85", "\u200b", "\ufeff", "\u00ad", "\ue000", "\U000e0041"],
    ids=["nul", "bell", "lf", "cr", "tab", "esc", "del", "nel", "zwsp", "bom", "shy", "private-use", "tag"],
)
def test_it_refuses_control_and_invisible_characters(char):
    form = form_with(last_name=f"Love{char}lace")
    assert not form.is_valid()
    assert error_codes(form, "last_name") == ["control"]


@pytest.mark.parametrize(
    "char",
    ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"],
)
def test_it_refuses_bidirectional_override_characters(char):
    form = form_with(first_name=f"Ada{char}gpj.exe")
    assert not form.is_valid()
    assert error_codes(form, "first_name") == ["bidi"]


def test_it_refuses_an_unassigned_code_point():
    form = form_with(first_name="Ada\u0378")
    assert not form.is_valid()
    assert error_codes(form, "first_name") == ["control"]


@pytest.mark.parametrize(
    "name",
    ["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0915\u094d\u200d\u0937", "\U0001f469\u200d\U0001f52c"],
    ids=["persian-zwnj", "devanagari-zwj", "emoji-zwj"],
)
def test_it_allows_the_joiners_some_scripts_need(name):
    form = form_with(first_name=name)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["first_name"] == name


@pytest.mark.parametrize(
    "name", ["\u3164", "\u3164\u3164\u3164", "\u115f\u1160", "\uffa0", "\u2800\u2800", "\u0301\u0301", "-"],
    ids=["hangul-filler", "three-fillers", "choseong-jungseong", "halfwidth-filler", "braille-blank", "marks", "dash"],
)
def test_it_refuses_a_name_without_a_visible_letter(name):
    form = form_with(first_name=name)
    assert not form.is_valid()
    assert error_codes(form, "first_name") == ["no_letter"]


@pytest.mark.parametrize("name", ["42", "\u3164Ada"])
def test_a_letter_or_digit_anywhere_is_enough(name):
    assert form_with(institution=name).is_valid()


@pytest.mark.parametrize("name", ["O'Brien-Smith", "Nguyễn Thị", "Дмитрий", "佐藤", "Ó Súilleabháin", "محمد"])
def test_it_accepts_names_in_many_scripts(name):
    assert form_with(last_name=name).is_valid()


# --- Fields from settings ------------------------------------------------------------------------


def test_the_fields_come_from_the_setting(settings):
    settings.REGISTERFT_FORM_FIELDS = [
        {"name": "given_name", "label": "Given name", "required": True, "max_length": 5},
        {"name": "team", "label": "Team", "required": False, "max_length": 10},
    ]
    form = DetailsForm(data={"given_name": "Ada", "team": ""})
    assert list(form.fields) == ["given_name", "team"]
    assert form.fields["given_name"].label == "Given name"
    assert form.is_valid(), form.errors
    # An optional field left empty is not sent to the issuer.
    assert form.attributes() == {"given_name": "Ada"}
    assert not DetailsForm(data={"given_name": "Adelaide"}).is_valid()


def test_it_parses_the_form_fields_variable_with_defaults(monkeypatch):
    monkeypatch.setenv("REGISTERFT_FORM_FIELDS", json.dumps([{"name": "email_address"}]))
    [field] = envformfields("REGISTERFT_FORM_FIELDS", default=[])
    assert field == {"name": "email_address", "label": "Email address", "required": True, "max_length": 100}


@pytest.mark.parametrize(
    "raw",
    [
        "first_name,last_name",
        "[]",
        '{"name": "x"}',
        '[{"label": "no name"}]',
        '[{"name": "two words"}]',
        '[{"name": "x", "max_length": 0}]',
        '[{"name": "x", "max_length": 5000}]',
        '[{"name": "x", "max_length": "20"}]',
        '[{"name": "x"}, {"name": "x"}]',
        '[{"name": "x", "required": "no"}]',
    ],
)
def test_a_bad_form_fields_variable_stops_start_up_naming_it(monkeypatch, raw):
    monkeypatch.setenv("REGISTERFT_FORM_FIELDS", raw)
    with pytest.raises(ImproperlyConfigured, match="REGISTERFT_FORM_FIELDS"):
        envformfields("REGISTERFT_FORM_FIELDS", default=[])


# --- The rendered form ---------------------------------------------------------------------------


@pytest.fixture
def on_the_form(client, db):
    """A visitor whose wallet has connected (demo issuer): the form is their step."""
    registration = Registration.objects.create(
        backend="demo", invitation_id="inv", invitation_url="/x", connection_id="conn", state="connected",
    )
    from django.utils import timezone

    Registration.objects.filter(pk=registration.pk).update(connected_at=timezone.now())
    session = client.session
    session[SESSION_KEY] = {"registration": str(registration.pk)}
    session.save()
    client.cookies["django_language"] = "en"
    return client


def test_an_error_is_shown_next_to_its_field_and_tied_to_it(on_the_form):
    response = on_the_form.post("/name", {**VALID, "last_name": "Love\u202elace"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'aria-describedby="id_last_name_error"' in page
    assert 'aria-invalid="true"' in page
    assert 'id="id_last_name_error"' in page
    # Only the field in error is marked.
    assert 'aria-describedby="id_first_name_error"' not in page
    # What the visitor typed in the other fields is kept.
    assert 'value="Analytical Engines"' in page
    # The page opens on the field to correct, and only on that one.
    assert re.search(r'<input[^>]*name="last_name"[^>]*autofocus', page)
    assert page.count("autofocus") == 1


def test_the_form_marks_the_visitors_details_as_sensitive(on_the_form):
    response = on_the_form.post("/name", {**VALID, "first_name": ""})
    assert response.wsgi_request.sensitive_post_parameters == "__ALL__"


def test_the_rendered_form_labels_every_configured_field(on_the_form, settings):
    settings.REGISTERFT_FORM_FIELDS = [{"name": "nickname", "label": "Nickname", "required": True, "max_length": 30}]
    page = on_the_form.get("/name").content.decode()
    assert '<label for="id_nickname">Nickname' in page
    assert 'maxlength="30"' in page
    assert 'name="first_name"' not in page
