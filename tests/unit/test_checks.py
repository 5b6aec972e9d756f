"""onboarding/checks.py: ``manage.py check --deploy`` reports the demo issuer in production unless
the operator chose it."""

from __future__ import annotations

import pytest
from django.core.checks import Warning, run_checks

DEMO_ISSUER = "onboarding.W001"


def deploy_issues() -> list:
    """The demo issuer's check alone (the door's own, onboarding.W010, is tested with the door)."""
    return [issue for issue in run_checks(include_deployment_checks=True) if issue.id == DEMO_ISSUER]


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.REGISTERFT_ISSUERS = ("demo",)
    settings.REGISTERFT_ISSUER_CHOSEN = False
    return settings


def test_it_reports_the_demo_issuer_that_production_runs_by_default(production):
    issues = deploy_issues()
    assert [issue.id for issue in issues] == [DEMO_ISSUER]
    assert isinstance(issues[0], Warning)
    assert "REGISTERFT_ISSUERS" in issues[0].msg + issues[0].hint


def test_it_is_quiet_when_the_operator_chose_the_demo_issuer(production):
    production.REGISTERFT_ISSUER_CHOSEN = True
    assert deploy_issues() == []


def test_it_is_quiet_in_development(production):
    production.DEBUG = True
    assert deploy_issues() == []


@pytest.mark.parametrize("issuer", ["agent-rest", "acapy"])
def test_it_is_quiet_with_a_real_issuer(production, issuer):
    production.REGISTERFT_ISSUERS = (issuer,)
    production.REGISTERFT_ISSUER_CHOSEN = True
    assert deploy_issues() == []


def test_it_runs_only_with_the_deployment_checks(production):
    assert [issue for issue in run_checks() if issue.id == DEMO_ISSUER] == []


def test_it_reports_the_demo_issuer_beside_a_real_one_in_production(production):
    production.REGISTERFT_ISSUERS = ("swiyu", "demo")
    production.REGISTERFT_ISSUER_CHOSEN = True
    issues = deploy_issues()
    assert [issue.id for issue in issues] == [DEMO_ISSUER]
    assert "REGISTERFT_ISSUERS" in issues[0].hint


def test_it_is_quiet_with_several_real_issuers(production):
    production.REGISTERFT_ISSUERS = ("swiyu", "acapy")
    production.REGISTERFT_ISSUER_CHOSEN = True
    assert deploy_issues() == []


def test_the_old_setting_name_works_and_the_checks_say_what_to_change(settings):
    settings.REGISTERFT_ISSUERS = ("acapy",)
    settings.REGISTERFT_ISSUER_OLD_NAME = True
    issues = [issue for issue in run_checks() if issue.id == "onboarding.W002"]
    assert len(issues) == 1 and "REGISTERFT_ISSUERS=acapy" in issues[0].hint
    settings.REGISTERFT_ISSUER_OLD_NAME = False
    assert [issue for issue in run_checks() if issue.id == "onboarding.W002"] == []
