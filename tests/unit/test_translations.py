"""The portal speaks German (the default), French, Italian and English from the catalogues in
onboarding/locale, and the compiled .mo files that are committed match their .po sources (CI has
no gettext tools, so a stale .mo would silently show old or English text)."""

import re
from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
TRANSLATED = ["de", "fr", "it"]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\{ ?\w+ ?\}\}")

# What a visitor sees on the start page: its heading and the five steps of the progress indicator.
START_PAGE = {
    "de": ("Holen Sie sich Ihren Nachweis", ["Scannen", "Verbinden", "Angaben", "Annehmen", "Fertig"]),
    "fr": ("Obtenez votre attestation", ["Scanner", "Connexion", "Données", "Acceptation", "Terminé"]),
    "it": ("Ottenga il suo attestato", ["Scansione", "Connessione", "Dati", "Accettazione", "Completato"]),
    "en": ("Get your credential", ["Scan", "Connect", "Details", "Accept", "Done"]),
}


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "django.po"


def heading_and_steps(page: str) -> tuple[str, list[str]]:
    heading = re.search(r"<h1>(.*?)</h1>", page, re.S).group(1).strip()
    nav = re.search(r'<nav class="steps".*?</nav>', page, re.S).group(0)
    steps = [step.strip() for step in re.findall(r"<li[^>]*>(.*?)</li>", nav, re.S)]
    return heading, steps


def key_and_text(entry: polib._BaseEntry) -> tuple[tuple, object]:
    plural = tuple(sorted((int(n), text) for n, text in entry.msgstr_plural.items()))
    return (entry.msgctxt, entry.msgid, entry.msgid_plural), plural or entry.msgstr


def keeps_placeholders(entry: polib.POEntry) -> bool:
    """Singular translations carry the msgid's placeholders; plural forms may drop the count (as
    in "about a minute") but never invent one, and the last form carries all of msgid_plural's."""
    if not entry.msgid_plural:
        return sorted(PLACEHOLDER.findall(entry.msgid)) == sorted(PLACEHOLDER.findall(entry.msgstr))
    expected = set(PLACEHOLDER.findall(entry.msgid_plural))
    forms = [entry.msgstr_plural[n] for n in sorted(entry.msgstr_plural)]
    return all(set(PLACEHOLDER.findall(form)) <= expected for form in forms) and set(
        PLACEHOLDER.findall(forms[-1])
    ) == expected


def live_entries(language: str) -> list[polib.POEntry]:
    return [entry for entry in polib.pofile(str(po_path(language))) if not entry.obsolete]


@pytest.mark.django_db
@pytest.mark.parametrize("language", sorted(START_PAGE))
def test_a_visitor_with_a_language_cookie_sees_the_start_page_in_that_language(client, language):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page = client.get("/").content.decode()
    assert f'<html lang="{language}">' in page
    assert heading_and_steps(page) == START_PAGE[language]


@pytest.mark.django_db
@pytest.mark.parametrize("language", TRANSLATED)
def test_a_visitor_following_an_original_language_link_sees_the_start_page_in_that_language(client, language):
    response = client.get(f"/{language}", follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert heading_and_steps(response.content.decode()) == START_PAGE[language]


@pytest.mark.django_db
def test_a_visitor_without_a_choice_sees_german(client):
    assert heading_and_steps(client.get("/").content.decode()) == START_PAGE["de"]


@pytest.mark.parametrize("language", TRANSLATED)
def test_it_has_a_finished_translation_for_every_message(language):
    entries = live_entries(language)
    assert entries, f"{po_path(language)} has no messages"
    untranslated = [entry.msgid for entry in entries if not entry.fuzzy and not entry.translated()]
    fuzzy = [entry.msgid for entry in entries if entry.fuzzy]
    assert untranslated == [], f"untranslated in {language}"
    assert fuzzy == [], f"fuzzy (needs review) in {language}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_it_keeps_every_placeholder_in_the_translation(language):
    mismatched = [entry.msgid for entry in live_entries(language) if not keeps_placeholders(entry)]
    assert mismatched == []


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_it_ships_a_compiled_catalogue_that_matches_its_source(language):
    """The .mo holds exactly the .po's finished translations: run compilemessages after editing."""
    mo_path = po_path(language).with_suffix(".mo")
    assert mo_path.exists(), f"missing {mo_path}: run `python manage.py compilemessages`"
    source = dict(map(key_and_text, polib.pofile(str(po_path(language))).translated_entries()))
    compiled = dict(key_and_text(entry) for entry in polib.mofile(str(mo_path)) if entry.msgid)
    assert compiled == source, f"{mo_path} is stale: run `python manage.py compilemessages`"


@pytest.mark.django_db
@pytest.mark.parametrize("language", sorted(START_PAGE))
def test_the_language_switcher_names_each_language_in_its_own_language(client, language):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    switcher = re.search(r'<form class="language-switcher".*?</form>', client.get("/").content.decode(), re.S).group(0)
    names = [name.strip() for name in re.findall(r"<button[^>]*>(.*?)</button>", switcher, re.S)]
    assert names == ["Deutsch", "Français", "Italiano", "English"]
