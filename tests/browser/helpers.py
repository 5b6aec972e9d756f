"""What the browser tests share: axe-core and the visitor's way through the demo flow."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.browser.conftest import screenshot

BLOCKING_IMPACTS = ("serious", "critical")


@dataclass
class AxeReport:
    """Serious and critical axe-core violations found on the pages checked so far."""

    problems: list[str] = field(default_factory=list)

    def check(self, page, name: str) -> None:
        # axe-playwright-python ships axe-core's script; nothing is fetched at test time.
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(page)
        for violation in results.response["violations"]:
            if violation.get("impact") in BLOCKING_IMPACTS:
                targets = [node["target"] for node in violation["nodes"]][:3]
                self.problems.append(f"{name}: {violation['id']} ({violation['impact']}) {violation['help']} {targets}")

    def assert_clean(self) -> None:
        assert not self.problems, "axe-core found:\n" + "\n".join(self.problems)


def record(page, name: str, axe: AxeReport | None = None) -> None:
    """A screenshot of the page, and an accessibility check when asked for."""
    page.wait_for_load_state("load")
    screenshot(page, name)
    if axe is not None:
        axe.check(page, name)
