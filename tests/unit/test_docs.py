"""The README and docs/: every setting documented once in docs/settings.md, and no link that leads
nowhere."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_DOC = ROOT / "docs" / "settings.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# The files that read the portal's settings from the environment.
READERS = ("registerft/settings.py", "registerft/env.py", "gunicorn.conf.py")
SETTING_NAME = re.compile(r'"((?:REGISTERFT|AGENT_REST|ACAPY|SWIYU|DJANGO|GUNICORN)_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL|REDIS_URL)"')
# Read by a library rather than by our settings, and documented with ours all the same.
READ_BY_LIBRARIES = {"PROMETHEUS_MULTIPROC_DIR"}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def settings_the_code_reads() -> set[str]:
    names: set[str] = set()
    for reader in READERS:
        names |= set(SETTING_NAME.findall((ROOT / reader).read_text()))
    return names


def settings_documented(page: Path) -> Counter[str]:
    """The variables named in the first column of the page's tables."""
    documented: Counter[str] = Counter()
    for line in page.read_text().splitlines():
        if line.startswith("| `"):
            first_cell = line.split(" | ")[0]
            documented.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return documented


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: Counter[str] = Counter()
    found = set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            base = slug(line.lstrip("#"))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    return found


def test_every_setting_the_code_reads_is_documented_exactly_once_in_the_settings_reference():
    documented = settings_documented(SETTINGS_DOC)
    missing = sorted(settings_the_code_reads() - set(documented))
    twice = sorted(name for name, count in documented.items() if count > 1)
    assert not missing, f"not in docs/settings.md: {missing}"
    assert not twice, f"documented more than once in docs/settings.md: {twice}"


def test_the_settings_reference_documents_only_settings_that_exist():
    documented = set(settings_documented(SETTINGS_DOC))
    unknown = sorted(documented - settings_the_code_reads() - READ_BY_LIBRARIES)
    assert not unknown, f"docs/settings.md documents settings nothing reads: {unknown}"


def test_no_other_page_has_a_settings_table_of_its_own():
    for page in PAGES:
        if page != SETTINGS_DOC:
            tabled = sorted(set(settings_documented(page)) & settings_the_code_reads())
            assert not tabled, f"{page.name} documents {tabled}: link to docs/settings.md instead"


def test_every_relative_link_leads_to_a_file_and_heading_that_exist():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken, broken


def test_the_readme_stays_a_newcomers_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300
