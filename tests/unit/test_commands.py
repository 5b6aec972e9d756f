"""The admins' management commands, against the demo issuer and an agent behind `responses`."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta

import pytest
import requests
import responses
from responses import matchers
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from onboarding.issuers import get_issuer
from onboarding.issuers.base import IssuerUnavailable
from onboarding.models import DemoConnection, DemoCredential, Registration

pytestmark = pytest.mark.django_db

AGENT = "http://agent.test"
HEALTH_URL = f"{AGENT}/connection/registerft-health-check"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def agent_rest(settings):
    settings.REGISTERFT_ISSUERS = ("agent-rest",)
    settings.AGENT_REST_CONNECTION_URL = AGENT
    settings.AGENT_REST_ISSUER_URL = AGENT
    settings.AGENT_REST_API_KEY = "s3cret-api-key-value"
    get_issuer.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def registration(*, days_ago: float = 0, state: str = "issued", **attributes: str) -> Registration:
    created = Registration.objects.create(
        backend="demo", state=state, invitation_id=str(uuid.uuid4()), invitation_url="/x",
        connection_id="conn", process_id="proc", attributes=attributes,
    )
    Registration.objects.filter(pk=created.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    created.refresh_from_db()
    return created


# --- issuer_status ----------------------------------------------------------------------------


def test_issuer_status_reports_the_demo_issuer_as_reachable():
    output = run("issuer_status")
    assert "backend:    demo" in output
    assert "reachable:  yes" in output
    assert "version:    embedded" in output
    assert "round trip:" in output


def test_issuer_status_masks_the_api_key_of_a_reachable_agent(agent_rest):
    agent_rest.get(HEALTH_URL, status=404, json={"error": "unknown"})
    output = run("issuer_status")
    assert "backend:    agent-rest" in output
    assert f"connection_url: {AGENT}" in output
    assert "reachable:  yes" in output
    assert "s3cret" not in output
    assert "****" in output


def test_issuer_status_fails_when_the_agent_cannot_be_reached(agent_rest):
    agent_rest.get(HEALTH_URL, body=requests.ConnectionError("refused"))
    out = io.StringIO()
    with pytest.raises(CommandError, match="does not answer"):
        call_command("issuer_status", stdout=out)
    assert "reachable:  no" in out.getvalue()
    assert "s3cret" not in out.getvalue()


def test_issuer_status_fails_when_the_agent_answers_503(agent_rest):
    agent_rest.get(HEALTH_URL, status=503, body="maintenance")
    with pytest.raises(CommandError, match="agent-rest"):
        run("issuer_status")


def test_issuer_status_fails_when_a_backend_raises_instead_of_reporting(monkeypatch):
    def broken_health():
        raise IssuerUnavailable("wallet database is locked")

    monkeypatch.setattr(get_issuer(), "health", broken_health)
    with pytest.raises(CommandError, match="wallet database is locked"):
        run("issuer_status")


def test_issuer_status_masks_passwords_in_urls_and_secret_settings():
    from onboarding.operations import mask_settings

    masked = mask_settings({"admin_url": "https://ops:hunter2@agent:8031/", "webhook_secret": "abc", "label": "x"})
    assert masked == {"admin_url": "https://ops:****@agent:8031/", "webhook_secret": "****", "label": "x"}


# --- registrations ----------------------------------------------------------------------------


def test_registrations_lists_a_table_by_default():
    registration(first_name="Ada", last_name="Lovelace", institution="Analytical")
    output = run("registrations")
    assert "first_name" in output.splitlines()[0]
    assert "Lovelace" in output
    assert "(1 registration)" in output


def test_registrations_filters_by_state_and_date():
    registration(days_ago=10, last_name="Old")
    registration(days_ago=0, last_name="New")
    registration(days_ago=0, state="failed", last_name="Failed")
    today = timezone.localdate().isoformat()
    rows = json.loads(run("registrations", "--format", "json", "--state", "issued", "--since", today))
    assert [row["last_name"] for row in rows] == ["New"]
    rows = json.loads(run("registrations", "--format", "json", "--until", today))
    assert {row["last_name"] for row in rows} == {"Old", "New", "Failed"}  # a date includes that day
    until = (timezone.localdate() - timedelta(days=1)).isoformat()
    rows = json.loads(run("registrations", "--format", "json", "--until", until))
    assert [row["last_name"] for row in rows] == ["Old"]


def test_registrations_csv_disarms_cells_a_spreadsheet_would_run():
    registration(first_name="=HYPERLINK(\"http://evil\")", last_name="+1", institution="@SUM(A1)")
    registration(first_name="-2", last_name="\tTab", institution="\rReturn")
    registration(first_name="Ada", last_name="Lovelace", institution="a=b")
    rows = list(csv.DictReader(io.StringIO(run("registrations", "--format", "csv"))))
    assert [(row["first_name"], row["last_name"], row["institution"]) for row in rows] == [
        ("'=HYPERLINK(\"http://evil\")", "'+1", "'@SUM(A1)"),
        ("'-2", "'\tTab", "'\rReturn"),
        ("Ada", "Lovelace", "a=b"),
    ]


def test_registrations_csv_has_one_line_per_record_whatever_separators_a_cell_holds():
    # U+2028 and U+2029 (and the other breaks str.splitlines() knows) are no CSV line breaks, so
    # the csv module leaves them unquoted; a reader that splits lines found more lines than records.
    registration(first_name="Ada\u2028Byron", last_name="Love\u2029lace", institution="A\x0bB\x0cC\x1cD\x85E")
    registration(first_name="Grace", last_name="Hopper", institution="Navy")
    output = run("registrations", "--format", "csv")
    assert len(output.splitlines()) == 3  # the header and two records
    rows = list(csv.DictReader(io.StringIO(output)))
    assert [(row["first_name"], row["last_name"], row["institution"]) for row in rows] == [
        ("Ada Byron", "Love lace", "A B C D E"),
        ("Grace", "Hopper", "Navy"),
    ]


def test_registrations_writes_to_a_file(tmp_path):
    registration(last_name="Lovelace")
    target = tmp_path / "attendees.csv"
    assert run("registrations", "--format", "csv", "--output", str(target)) == ""
    assert "Lovelace" in target.read_text(encoding="utf-8")


def test_registrations_fails_on_a_file_it_cannot_write(tmp_path):
    with pytest.raises(CommandError, match="Cannot write"):
        run("registrations", "--output", str(tmp_path / "missing" / "x.csv"))


@pytest.mark.parametrize(
    "args, message",
    [
        (("--since", "yesterday"), "not a date"),
        (("--until", "2026-13-01"), "not a date"),
        (("--state", "lost"), "invalid choice"),
        (("--format", "xml"), "invalid choice"),
    ],
)
def test_registrations_rejects_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        run("registrations", *args)


# --- purge_registrations ----------------------------------------------------------------------


def test_purge_deletes_registrations_past_the_retention_period():
    old = registration(days_ago=31)
    young = registration(days_ago=29)
    output = run("purge_registrations", "--older-than", "30d")
    assert output.startswith("Deleted 1 registration created before")
    assert list(Registration.objects.values_list("pk", flat=True)) == [young.pk]
    assert not Registration.objects.filter(pk=old.pk).exists()


def test_purge_counts_hours():
    registration(days_ago=0.5)
    registration(days_ago=0)
    assert run("purge_registrations", "--older-than", "6h").startswith("Deleted 1 registration ")
    assert Registration.objects.count() == 1


def test_purge_dry_run_changes_nothing():
    registration(days_ago=40)
    registration(days_ago=35)
    output = run("purge_registrations", "--older-than", "30d", "--dry-run")
    assert output.startswith("Dry run: would delete 2 registrations")
    assert Registration.objects.count() == 2


def test_purge_anonymises_and_keeps_the_statistics():
    old = registration(days_ago=40, first_name="Ada", last_name="Lovelace")
    output = run("purge_registrations", "--older-than", "30d", "--anonymise")
    assert output.startswith("Anonymised 1 registration")
    old.refresh_from_db()
    assert old.attributes == {}
    assert (old.connection_id, old.process_id, old.invitation_url) == ("", "", "")
    assert old.state == "issued"


def test_purge_removes_one_persons_record_and_the_demo_issuers_copy():
    connection = DemoConnection.objects.create(label="event")
    credential = DemoCredential.objects.create(connection=connection, attributes={"last_name": "Lovelace"})
    person = registration(last_name="Lovelace")
    Registration.objects.filter(pk=person.pk).update(process_id=str(credential.pk))
    other = registration(last_name="Hopper")
    output = run("purge_registrations", "--id", str(person.pk))
    assert output == "Deleted 1 registration.\n"
    assert list(Registration.objects.values_list("pk", flat=True)) == [other.pk]
    assert not DemoCredential.objects.exists()


def test_purge_removes_every_demo_offer_on_the_persons_connection_including_a_replaced_one():
    connection = DemoConnection.objects.create(label="event")
    first = DemoCredential.objects.create(connection=connection, attributes={"last_name": "Lovelace"})
    again = DemoCredential.objects.create(connection=connection, attributes={"last_name": "Lovelace"})
    someone_else = DemoCredential.objects.create(connection=DemoConnection.objects.create(label="event"),
                                                 attributes={"last_name": "Hopper"})
    person = registration(days_ago=40, last_name="Lovelace")
    Registration.objects.filter(pk=person.pk).update(
        connection_id=str(connection.pk), process_id=str(again.pk), previous_process_id=str(first.pk))

    run("purge_registrations", "--older-than", "30d", "--anonymise")

    assert list(DemoCredential.objects.all()) == [someone_else]
    person.refresh_from_db()
    assert (person.attributes, person.process_id, person.previous_process_id) == ({}, "", "")


ACAPY = "http://acapy.test:8031"


@pytest.fixture
def acapy(settings):
    settings.REGISTERFT_ISSUERS = ("acapy",)
    settings.ACAPY_ADMIN_URL = ACAPY
    settings.ACAPY_ADMIN_API_KEY = "admin-key"
    get_issuer.cache_clear()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def acapy_registration(*, days_ago: float, process_id: str, previous: str = "") -> Registration:
    record = registration(days_ago=days_ago, last_name="Lovelace")
    Registration.objects.filter(pk=record.pk).update(backend="acapy", process_id=process_id,
                                                     previous_process_id=previous)
    return record


def test_purge_deletes_the_agents_records_of_the_offers_too(acapy):
    acapy_registration(days_ago=40, process_id="cx-2", previous="cx-1")
    young = acapy_registration(days_ago=1, process_id="cx-9")
    for cred_ex_id, status in (("cx-2", 200), ("cx-1", 404)):  # one already gone at the agent
        acapy.delete(f"{ACAPY}/issue-credential-2.0/records/{cred_ex_id}", json={}, status=status,
                     match=[matchers.header_matcher({"X-API-Key": "admin-key"})])

    output = run("purge_registrations", "--older-than", "30d")

    assert output.splitlines()[1] == "Deleted 2 credential record(s) at the issuer agent."
    assert list(Registration.objects.values_list("pk", flat=True)) == [young.pk]


def test_purge_keeps_a_registration_whose_record_the_agent_could_not_delete(acapy):
    kept = acapy_registration(days_ago=40, process_id="cx-1")
    gone = acapy_registration(days_ago=40, process_id="cx-2")
    acapy.delete(f"{ACAPY}/issue-credential-2.0/records/cx-1", body=requests.ConnectionError("refused"))
    acapy.delete(f"{ACAPY}/issue-credential-2.0/records/cx-2", json={})

    with pytest.raises(CommandError, match="could not delete the records of 1 registration"):
        run("purge_registrations", "--older-than", "30d")

    assert list(Registration.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not Registration.objects.filter(pk=gone.pk).exists()
    assert Registration.objects.get(pk=kept.pk).process_id == "cx-1"  # for the next run


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "either a retention period"),
        (("--older-than", "30d", "--id", str(uuid.uuid4())), "not both"),
        (("--older-than", "30"), "not a duration"),
        (("--older-than", "2w"), "not a duration"),
        (("--older-than", "0d"), "not a duration"),
        (("--id", "not-a-uuid"), "not a registration id"),
        (("--id", str(uuid.uuid4())), "no registration with id"),
    ],
)
def test_purge_rejects_bad_arguments(args, message):
    registration(days_ago=40)
    with pytest.raises(CommandError, match=message):
        run("purge_registrations", *args)
    assert Registration.objects.count() == 1


# --- invite -----------------------------------------------------------------------------------


def test_invite_prints_the_demo_invitation_and_its_qr_code():
    output = run("invite", "--base-url", "https://portal.example")
    lines = output.splitlines()
    connection = DemoConnection.objects.get()
    assert lines[-1] == f"https://portal.example/demo/wallet/{connection.token}/"
    assert any("█" in line for line in lines[:-1])
    assert not Registration.objects.exists()  # an invitation only


def test_invite_without_qr_prints_only_the_url(settings):
    settings.REGISTERFT_PUBLIC_URL = "https://public.example"
    assert run("invite", "--no-qr", "--label", "Kiosk").startswith("https://public.example/demo/wallet/")
    assert DemoConnection.objects.get().label == "Kiosk"


def test_invite_prints_the_agents_invitation_url(agent_rest):
    agent_rest.post(
        f"{AGENT}/connection/invitation",
        json={"connectionId": "c-1", "invitationUrl": "https://agent.test/?oob=abc"},
    )
    assert run("invite", "--no-qr") == "https://agent.test/?oob=abc\n"


def test_invite_fails_when_the_issuer_is_down(agent_rest):
    agent_rest.post(f"{AGENT}/connection/invitation", body=requests.ConnectionError("refused"))
    with pytest.raises(CommandError, match="could not create an invitation"):
        run("invite")


def test_invite_fails_when_the_issuer_times_out(agent_rest):
    agent_rest.post(f"{AGENT}/connection/invitation", body=requests.Timeout("slow"))
    with pytest.raises(CommandError, match="in time"):
        run("invite")


def test_invite_rejects_a_base_url_that_is_not_http():
    with pytest.raises(CommandError, match="--base-url"):
        run("invite", "--base-url", "portal.example")


# --- clearsessions ----------------------------------------------------------------------------


def test_clearsessions_removes_expired_session_files_and_keeps_live_ones(settings):
    """The portal's sessions never set their own expiry: a file is expired SESSION_COOKIE_AGE
    seconds after it was last written, which is what `clearsessions` checks."""
    import os
    import time

    from onboarding.sessions import SessionStore

    sessions = []
    for _ in range(2):
        session = SessionStore()
        session["registerft"] = {"registration": "x"}
        session.save()
        sessions.append(session)
    expired, live = sessions
    past = time.time() - settings.SESSION_COOKIE_AGE - 60
    os.utime(os.path.join(settings.SESSION_FILE_PATH, settings.SESSION_COOKIE_NAME + expired.session_key), (past, past))
    call_command("clearsessions")
    assert os.listdir(settings.SESSION_FILE_PATH) == [settings.SESSION_COOKIE_NAME + live.session_key]


# --- Several backends -------------------------------------------------------------------------


def test_the_export_names_each_registrations_backend_where_the_portal_runs_several(settings):
    settings.REGISTERFT_ISSUERS = ("swiyu", "demo")
    record = registration(days_ago=1, last_name="Lovelace")
    Registration.objects.filter(pk=record.pk).update(backend="swiyu")
    output = run("registrations", "--format", "csv")
    header, row = output.splitlines()[:2]
    assert header.split(",")[:3] == ["id", "state", "backend"]
    assert row.split(",")[2] == "swiyu"


def test_the_export_has_no_backend_column_with_one_backend():
    registration(days_ago=1, last_name="Lovelace")
    assert "backend" not in run("registrations", "--format", "csv").splitlines()[0]


def test_purge_asks_each_registrations_own_agent(acapy, settings):
    settings.REGISTERFT_ISSUERS = ("demo", "acapy")
    acapy_registration(days_ago=40, process_id="cx-1")
    registration(days_ago=40, last_name="Hopper")  # a demo registration: nothing asked of ACA-Py
    acapy.delete(f"{ACAPY}/issue-credential-2.0/records/cx-1", json={})
    output = run("purge_registrations", "--older-than", "30d")
    assert "Deleted 1 credential record(s)" in output and Registration.objects.count() == 0


def test_issuer_status_reports_every_backend(agent_rest, settings):
    settings.REGISTERFT_ISSUERS = ("demo", "agent-rest")
    agent_rest.get(HEALTH_URL, status=503)
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"^The issuer \(agent-rest\) does not answer"):
        call_command("issuer_status", stdout=out, stderr=io.StringIO())
    assert "backend:    demo" in out.getvalue() and "backend:    agent-rest" in out.getvalue()
