"""The reporter API: 201 with a receipt, idempotent retries, JSON errors that the schema declares."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from bastion.intake.tests.helpers import solve
from bastion.reports.models import Report
from bastion.reports.services import portal_token

pytestmark = pytest.mark.django_db

REPORT = {"title": "SQL injection in /search", "description": "`q=1' OR 1=1--` returns every row."}


def post(client: Client, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post("/api/v1/reports", data, content_type="application/json", headers=headers)


def test_a_report_is_created_with_its_tracking_id_portal_url_and_receipt(client):
    attachment = {
        "filename": "poc.py",
        "content_type": "text/x-python",
        "data": base64.b64encode(b"print(1)").decode(),
    }
    response = post(client, {**REPORT, "attachments": [attachment], "email": "rita@researcher.example"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"tracking_id", "portal_url", "receipt"}
    report = Report.objects.get()
    assert body["tracking_id"] == report.tracking_id
    assert body["portal_url"].endswith(f"/portal/{report.tracking_id}/{portal_token(report)}/")
    assert body["receipt"].startswith("-----BEGIN PGP SIGNED MESSAGE-----")
    assert report.channel == "api"
    assert report.attachments.count() == 1


def test_the_same_idempotency_key_and_body_return_the_same_report(client):
    first = post(client, REPORT, **{"Idempotency-Key": "retry-1"})
    second = post(client, REPORT, **{"Idempotency-Key": "retry-1"})

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert Report.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_409(client):
    post(client, REPORT, **{"Idempotency-Key": "retry-2"})
    response = post(client, {**REPORT, "title": "Other"}, **{"Idempotency-Key": "retry-2"})

    assert response.status_code == 409
    assert "already used for a different submission" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        (b"\xff\xfe", 400),
        ({"description": "no title"}, 422),
        ({"title": 5, "description": []}, 422),
        ([1, 2], 422),
        ({**REPORT, "title": ""}, 400),
        ({**REPORT, "title": "a\x00b"}, 400),
        ({**REPORT, "credit_preference": "fame"}, 400),
        ({**REPORT, "public_key": "-----BEGIN PGP PUBLIC KEY BLOCK-----\nnope"}, 400),
        ({**REPORT, "attachments": [{"filename": "x", "data": "***"}]}, 400),
        ({**REPORT, "email": "not-an-address"}, 400),
    ],
)
def test_bad_requests_get_a_json_detail(client, body, status):
    response = post(client, body)
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str)
    assert response.json()["detail"]
    assert not Report.objects.exists()


def test_a_missing_title_names_the_field(client):
    assert "title" in post(client, {"description": "x"}).json()["detail"]


def test_an_oversized_attachment_is_413_naming_the_limit(client, settings):
    settings.INTAKE_MAX_ATTACHMENT_BYTES = 1024
    data = base64.b64encode(b"x" * 2000).decode()
    response = post(client, {**REPORT, "attachments": [{"filename": "big", "data": data}]})
    assert response.status_code == 413
    assert "1,024 bytes" in response.json()["detail"]


def test_an_oversized_body_is_413_naming_the_limit(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = post(client, {**REPORT, "steps": "x" * 20_000})
    assert response.status_code == 413
    assert "10,000 bytes" in response.json()["detail"]


def test_an_oversized_text_field_is_413(client, settings):
    settings.INTAKE_MAX_BODY_CHARS = 1000
    response = post(client, {**REPORT, "impact": "y" * 1001})
    assert response.status_code == 413
    assert response.json()["detail"] == "impact: This field is 1,001 characters long; the limit is 1,000."


def test_a_flood_asks_for_a_challenge_and_a_solved_one_gets_through(client, settings):
    settings.INTAKE_LIMIT_PER_IP = "1/3600"
    settings.INTAKE_CHALLENGE_MAX_NUMBER = 2000
    assert post(client, REPORT).status_code == 201

    refused = post(client, REPORT)
    assert refused.status_code == 429
    assert refused.json()["challenge_url"] == "http://127.0.0.1:8000/security/challenge"

    altcha = solve(client.get("/security/challenge").json())
    assert post(client, {**REPORT, "altcha": altcha}).status_code == 201


def test_the_reporter_reads_status_and_public_timeline_with_the_portal_token(client):
    body = post(client, REPORT).json()
    token = body["portal_url"].rstrip("/").rsplit("/", 1)[1]
    response = client.get(
        f"/api/v1/reports/{body['tracking_id']}", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200
    data = response.json()
    assert data["tracking_id"] == body["tracking_id"]
    assert data["status"] == "new"
    assert [entry["kind"] for entry in data["timeline"]] == ["submitted"]
    assert set(data["timeline"][0]) == {"kind", "created_at", "data"}


@pytest.mark.parametrize("authorization", ["Bearer wrong-token", "Bearer " + "A" * 43])
def test_a_wrong_token_is_404(client, authorization):
    tracking_id = post(client, REPORT).json()["tracking_id"]
    response = client.get(f"/api/v1/reports/{tracking_id}", headers={"Authorization": authorization})
    assert response.status_code == 404
    assert response.json() == {"detail": "No report matches this tracking ID and token."}


def test_no_token_is_401(client):
    tracking_id = post(client, REPORT).json()["tracking_id"]
    response = client.get(f"/api/v1/reports/{tracking_id}")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}


def test_openapi_declares_every_error_of_both_operations(client):
    schema = client.get("/api/v1/openapi.json").json()
    create = schema["paths"]["/api/v1/reports"]["post"]["responses"]
    read = schema["paths"]["/api/v1/reports/{tracking_id}"]["get"]["responses"]
    assert {"200", "201", "400", "409", "413", "422", "429"} <= set(create)
    assert {"200", "401", "404", "422"} <= set(read)
    for responses in (create, read):
        for code, spec in responses.items():
            if code.startswith(("4", "5")):
                ref = spec["content"]["application/json"]["schema"]["$ref"]
                assert "detail" in schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]


def test_the_docs_page_loads_its_assets_from_our_own_static_files(client):
    page = client.get("/api/v1/docs").content.decode()
    assert '<script src="/static/ninja/swagger-ui-bundle.js"></script>' in page
    assert "cdn" not in page.lower()
    asset = client.get("/static/ninja/swagger-ui-init.js")
    assert asset.status_code == 200
    asset.close()  # a file response: close it, or its open file is a ResourceWarning


def test_the_api_needs_no_csrf_token():
    response = post(Client(enforce_csrf_checks=True), REPORT)
    assert response.status_code == 201
