"""The door's records from the command line and the admin: checkins, withdraw, door_staff, the
deploy check; and two doors admitting one credential at the same moment (two processes)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from onboarding import checkin
from onboarding.models import CheckIn, Registration
from tests.processes import run_at_once, shared_database

pytestmark = pytest.mark.django_db


def registration(**attributes: str) -> Registration:
    return Registration.objects.create(
        backend="demo", invitation_id="i", invitation_url="/x", state=Registration.State.ISSUED,
        attributes=attributes or {"first_name": "Ada"},
    )


def output(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_checkins_exports_csv_with_formula_cells_disarmed():
    staff = checkin.Staff(user=None, name="=HYPERLINK(1)", door="+North")
    checkin.checkin_manual(registration=registration(), staff=staff)
    rows = list(csv.DictReader(io.StringIO(output("checkins", "--format", "csv"))))
    assert rows[0]["staff"] == "'=HYPERLINK(1)" and rows[0]["door"] == "'+North"
    assert rows[0]["outcome"] == "admitted" and rows[0]["method"] == "manual"


def test_checkins_exports_json_and_a_table():
    checkin.checkin_manual(registration=registration(), staff=checkin.Staff(user=None, name="door1", door="North"))
    assert json.loads(output("checkins", "--format", "json"))[0]["door"] == "North"
    assert "(1 check-in)" in output("checkins")


def test_withdraw_makes_the_door_refuse_the_registration():
    found = registration()
    assert "Withdrawn" in output("withdraw", str(found.pk))
    assert "Already withdrawn" in output("withdraw", str(found.pk))
    check_in = checkin.checkin_manual(registration=found, staff=checkin.Staff(user=None, name="s", door="d"))
    assert (check_in.outcome, check_in.reason) == ("refused", "withdrawn")
    with pytest.raises(CommandError):
        output("withdraw", "not-an-id")


def test_door_staff_gives_and_takes_the_permission():
    user = User.objects.create_user("door1")
    output("door_staff", "add", "door1")
    assert User.objects.get(pk=user.pk).has_perm("onboarding.check_in")
    assert output("door_staff", "list").split() == ["door1"]
    output("door_staff", "remove", "door1")
    assert not User.objects.get(pk=user.pk).has_perm("onboarding.check_in")


def test_purging_a_registration_removes_its_check_ins():
    found = registration()
    checkin.checkin_manual(registration=found, staff=checkin.Staff(user=None, name="s", door="d"))
    call_command("purge_registrations", "--id", str(found.pk), stdout=io.StringIO())
    assert not CheckIn.objects.exists()


def test_the_admin_withdraws_registrations(admin_client):
    found = registration()
    response = admin_client.post(
        "/admin/onboarding/registration/", {"action": "withdraw_registrations", "_selected_action": [str(found.pk)]}
    )
    assert response.status_code == 302
    assert Registration.objects.get(pk=found.pk).withdrawn_at is not None


def test_the_deploy_check_says_when_no_backend_can_verify(settings):
    from onboarding.checks import door_can_verify

    assert door_can_verify(None) == []
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    assert [warning.id for warning in door_can_verify(None)] == ["onboarding.W010"]


ADMIT_AT_ONCE = """
import django, os
django.setup()
from onboarding import checkin
from onboarding.models import Registration
registration = Registration.objects.get(pk=os.environ["REGISTRATION"])
staff = checkin.Staff(user=None, name="door", door=str(os.getpid()))
print(checkin.admit(registration=registration, staff=staff, method="scan").outcome)
"""


@pytest.mark.django_db(transaction=True)
def test_two_doors_at_the_same_moment_admit_a_credential_once(tmp_path):
    env = shared_database(tmp_path)
    code = (
        "import django; django.setup()\n"
        "from onboarding.models import Registration\n"
        "print(Registration.objects.create(backend='demo', invitation_id='i', invitation_url='/x', state='issued').pk)\n"
    )
    import subprocess
    import sys

    from tests.processes import ROOT

    pk = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True,
                        timeout=120).stdout.strip()
    outcomes = [out.strip() for out in run_at_once(ADMIT_AT_ONCE, {**env, "REGISTRATION": pk}, processes=2)]
    assert sorted(outcomes) == ["admitted", "refused"]
