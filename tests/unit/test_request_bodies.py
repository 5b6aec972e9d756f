"""Request bodies are bounded before anything reads them: the portal takes no files (a multipart
body is refused, 415), a declared length over the limit is refused at once (413), and no request
ever writes a temporary file."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.test import Client, RequestFactory
from django.test.client import MULTIPART_CONTENT
from django.utils import translation

from onboarding.models import Registration

pytestmark = pytest.mark.django_db

# Larger than FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): Django's default handlers write it to disk.
BIG_FILE = b"\0" * (3 * 1024 * 1024)


@pytest.fixture
def temporary_files(monkeypatch) -> list[str]:
    """The names of the temporary upload files created while the test runs."""
    created: list[str] = []
    original = TemporaryUploadedFile.__init__

    def recording_init(self, name, *args, **kwargs):
        created.append(name)
        original(self, name, *args, **kwargs)

    monkeypatch.setattr(TemporaryUploadedFile, "__init__", recording_init)
    return created


def csrf_pair(browser: Client) -> str:
    """What an attacker gets from any page: the CSRF cookie (kept by the client) and a form token."""
    page = browser.get("/").content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def assert_error_page(response, status: int, title: str, language: str = "de") -> None:
    assert response.status_code == status
    page = response.content.decode()
    assert f'<html lang="{language}">' in page
    with translation.override(language):
        assert translation.gettext(title) in page
    assert 'href="/"' in page  # the way back to the start


def test_a_multipart_post_with_a_file_is_refused_before_anything_is_written(temporary_files):
    browser = Client(enforce_csrf_checks=True)
    token = csrf_pair(browser)
    response = browser.post(
        "/name",
        {"csrfmiddlewaretoken": token, "first_name": "Ada", "upload": SimpleUploadedFile("big.bin", BIG_FILE)},
        content_type=MULTIPART_CONTENT,
    )
    assert_error_page(response, 415, "Files are not accepted")
    assert temporary_files == []


@pytest.mark.parametrize("path", ["/", "/name", "/restart/", "/i18n/setlang/", "/webhooks/acapy/topic/connections/"])
def test_any_multipart_body_is_refused_on_every_path(client, path):
    response = client.post(path, {"language": "en"}, content_type=MULTIPART_CONTENT)
    assert response.status_code == 415


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(client):
    # The test client's body stream fails on any read past its three bytes: a 413 proves that
    # nothing tried to read the length declared.
    declared = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    response = client.generic(
        "POST", "/name", b"a=1", content_type="application/x-www-form-urlencoded", CONTENT_LENGTH=str(declared)
    )
    assert_error_page(response, 413, "Too much data")


def test_a_body_at_the_limit_is_read_as_usual(client):
    body = b"first_name=" + b"A" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE - len(b"first_name="))
    response = client.post("/name", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code not in (413, 415)
    assert not Registration.objects.exists()


@pytest.mark.parametrize("language", ["fr", "it", "en"])
def test_the_refusals_speak_the_visitors_language(client, language):
    client.cookies["django_language"] = language
    too_big = client.generic("POST", "/name", b"", CONTENT_LENGTH=str(10**12))
    assert_error_page(too_big, 413, "Too much data", language)
    files = client.post("/name", {"first_name": "Ada"}, content_type=MULTIPART_CONTENT)
    assert_error_page(files, 415, "Files are not accepted", language)


def test_a_multipart_body_read_past_the_middleware_writes_no_temporary_file(temporary_files):
    # The second lock: upload handlers that keep files in memory only (and drop a big one).
    request = RequestFactory().post(
        "/name", {"upload": SimpleUploadedFile("big.bin", BIG_FILE)}, content_type=MULTIPART_CONTENT
    )
    assert "upload" not in request.FILES
    assert temporary_files == []


def test_the_refusals_carry_the_security_headers_of_every_page(client):
    for response in (
        client.generic("POST", "/name", b"", CONTENT_LENGTH=str(10**12)),
        client.post("/name", {"first_name": "Ada"}, content_type=MULTIPART_CONTENT),
    ):
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
