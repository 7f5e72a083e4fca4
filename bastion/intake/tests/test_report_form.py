"""The public report form: no account, clear errors that keep the text, limits, and anti-abuse."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from bastion.intake.tests.helpers import form_data, solve
from bastion.reports.models import Report
from bastion.reports.services import open_attachment, open_report
from bastion.reports.uploads import upload_dir

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def easy_challenges(settings):
    settings.INTAKE_CHALLENGE_MAX_NUMBER = 2000


def test_the_policy_page_links_to_the_form(client):
    assert 'href="/security/report"' in client.get("/security").content.decode()


def test_a_report_with_an_attachment_is_received_and_its_receipt_shown(client, alice):
    poc = SimpleUploadedFile("poc.html", b"<script>alert(1)</script>", content_type="text/html")
    response = client.post("/security/report", form_data(client, attachments=[poc], steps="1. Log in"))

    assert response.status_code == 303
    assert list(upload_dir().iterdir()) == []  # the sealed temporary file went with the request
    report = Report.objects.get()
    assert response["Location"] == f"/security/report/received/{report.tracking_id}"
    opened = open_report(report=report, actor=alice)
    assert opened.title == "Stored XSS in the profile page"
    assert len(opened.attachments) == 1
    meta, chunks = open_attachment(attachment=report.attachments.get(), actor=alice)
    assert (meta.filename, b"".join(chunks)) == ("poc.html", b"<script>alert(1)</script>")

    page = client.get(response["Location"]).content.decode()
    assert report.tracking_id in page
    assert "-----BEGIN PGP SIGNED MESSAGE-----" in page
    assert f"/portal/{report.tracking_id}/" in page
    assert "gpg --import security-key.asc &amp;&amp; gpg --verify receipt.asc" in page
    assert 'data-draft-clear="intake-report"' in page

    download = client.get(f"/security/report/received/{report.tracking_id}/receipt.asc")
    assert download["Content-Disposition"] == 'attachment; filename="receipt.asc"'
    assert download.content.decode() == report.receipt.statement


def test_the_confirmation_is_shown_only_to_the_session_that_submitted(client):
    response = client.post("/security/report", form_data(client))
    assert Client().get(response["Location"]).status_code == 404
    assert Client().get(response["Location"] + "/receipt.asc").status_code == 404


def test_field_errors_are_specific_and_keep_the_text(client):
    data = form_data(client, title="", description="My long *careful* write-up", impact="Account takeover")
    response = client.post("/security/report", data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Title is required." in page
    assert "My long *careful* write-up" in page
    assert "Account takeover" in page
    assert not Report.objects.exists()


def test_a_bad_public_key_is_refused_beside_its_field(client):
    response = client.post("/security/report", form_data(client, public_key="not a key"))
    assert response.status_code == 400
    assert response.context["form"].errors["public_key"]
    assert "Stored XSS in the profile page" in response.content.decode()


def test_credit_by_name_without_a_name_says_so(client):
    response = client.post("/security/report", form_data(client, credit_preference="name"))
    assert response.context["form"].errors["credit_preference"] == ["To be credited by name, give your name."]


def test_an_oversized_attachment_gets_413_naming_the_limit_and_keeps_the_text(client, settings):
    settings.INTAKE_MAX_ATTACHMENT_BYTES = 2048
    big = SimpleUploadedFile("dump.bin", b"x" * 5000)
    response = client.post("/security/report", form_data(client, attachments=[big], impact="Full RCE"))

    assert response.status_code == 413
    page = response.content.decode()
    assert "larger than the limit of 2 KiB per attachment" in page
    assert "Full RCE" in page
    assert not Report.objects.exists()


def test_an_oversized_text_field_gets_413_naming_the_limit(client, settings):
    settings.INTAKE_MAX_BODY_CHARS = 1000
    response = client.post("/security/report", form_data(client, description="a" * 1001))
    assert response.status_code == 413
    assert "the limit is 1,000" in response.content.decode()


def test_too_many_attachments_get_413(client, settings):
    settings.INTAKE_MAX_ATTACHMENTS = 1
    files = [SimpleUploadedFile(f"f{i}.txt", b"data") for i in range(2)]
    response = client.post("/security/report", form_data(client, attachments=files))
    assert response.status_code == 413
    assert "the limit is 1" in response.content.decode()


def test_a_filled_honeypot_needs_the_challenge_and_loses_nothing(client):
    data = form_data(client, website="http://spam.example")
    response = client.post("/security/report", data)

    assert response.status_code == 400
    assert not Report.objects.exists()
    page = response.content.decode()
    assert "data-altcha-challenge-url" in page
    assert "altcha-solver.js" in page
    assert "Stored XSS in the profile page" in page

    data["altcha"] = solve(client.get("/security/challenge").json())
    assert client.post("/security/report", data).status_code == 303
    assert Report.objects.count() == 1


def test_the_challenge_is_required_once_the_flood_limit_trips(client, settings):
    settings.INTAKE_LIMIT_PER_IP = "1/3600"
    assert client.post("/security/report", form_data(client)).status_code == 303

    form = client.get("/security/report").content.decode()
    assert 'name="altcha" data-altcha-challenge-url="/security/challenge"' in form
    data = form_data(client, title="Second report")
    refused = client.post("/security/report", data)
    assert refused.status_code == 400
    assert "anti-spam check" in refused.content.decode()
    assert Report.objects.count() == 1

    data["altcha"] = solve(client.get("/security/challenge").json())
    assert client.post("/security/report", data).status_code == 303
    assert Report.objects.count() == 2


def test_a_double_submit_returns_the_same_report(client):
    data = form_data(client)
    first = client.post("/security/report", data)
    second = client.post("/security/report", data)

    assert first.status_code == second.status_code == 303
    assert first["Location"] == second["Location"]
    assert Report.objects.count() == 1


def test_the_same_form_token_with_other_content_is_refused_with_a_fresh_token(client):
    data = form_data(client)
    client.post("/security/report", data)
    response = client.post("/security/report", {**data, "title": "Something else"})

    assert response.status_code == 409
    assert "already sent with different content" in response.content.decode()
    assert response.context["form"].data["form_token"] != data["form_token"]
    assert Report.objects.count() == 1


def test_the_form_is_anonymous_and_needs_no_account(client):
    response = client.get("/security/report")
    assert response.status_code == 200
    assert 'data-draft="intake-report"' in response.content.decode()
    assert "report-draft.js" in response.content.decode()


@pytest.mark.parametrize("known", [True, False])
def test_email_me_my_links_answers_the_same_either_way(
    client, mailoutbox, known, django_capture_on_commit_callbacks
):
    if known:
        client.post("/security/report", form_data(client, email="rita@researcher.example"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/security/links", {"email": "rita@researcher.example"})

    assert response.status_code == 200
    assert "If that address has reports with us, we've sent their links." in response.content.decode()
    assert len(mailoutbox) == (1 if known else 0)


def test_email_me_my_links_is_throttled_per_address(
    client, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.INTAKE_LIMIT_PER_EMAIL = "2/3600"
    client.post("/security/report", form_data(client, email="rita@researcher.example"))
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/security/links", {"email": "rita@researcher.example"})
        assert "If that address has reports with us" in response.content.decode()
    # The report was attempt 1 for this address; links request 1 is attempt 2, within the limit;
    # the next two are over it, and send nothing (while answering the same page).
    assert len(mailoutbox) == 1
