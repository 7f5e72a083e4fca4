"""Hostile input to the form and the API never makes a 500: it is received, or refused clearly."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bastion.intake.tests.helpers import form_data

pytestmark = pytest.mark.django_db

HOSTILE_NAMES = [
    "../../etc/passwd",
    "CON",
    "nul.txt",
    "a\x00b.txt",
    "\u202etxt.exe",
    "x" * 300,
    "",
    ".",
    "..\\..\\boot.ini",
]

text = st.one_of(
    st.text(max_size=50),
    st.text(st.characters(max_codepoint=0x1F), max_size=20),  # control characters, NUL included
    st.text(
        st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF, exclude_categories=["Cs"]), max_size=30
    ),
    st.sampled_from(["A" * 250, "B" * 120_000, "\u0000", "\r\n\r\n", " ", "<script>alert(1)</script>"]),
)
# JSON can carry lone surrogates (\ud800), which UTF-8 cannot: only the API can be sent them.
json_text = st.one_of(
    text, st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=5)
)
base64ish = st.one_of(
    st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
    st.text(max_size=40),
    st.sampled_from(["====", "A", "!!!!", "QUJD\n", "a" * 5000]),
)
attachment = st.fixed_dictionaries(
    {"filename": st.one_of(st.sampled_from(HOSTILE_NAMES), json_text), "data": base64ish},
    optional={"content_type": st.one_of(json_text, st.sampled_from(["text/html; charset=x", "../../x", ""]))},
)
FIELDS = [
    "title",
    "description",
    "product",
    "version",
    "steps",
    "impact",
    "reporter_name",
    "reporter_handle",
    "email",
    "public_key",
]
api_body = st.one_of(
    st.fixed_dictionaries(
        {"title": json_text, "description": json_text},
        optional={
            **dict.fromkeys(FIELDS[2:], json_text),
            "credit_preference": st.one_of(st.sampled_from(["name", "handle", "anonymous"]), json_text),
            "attachments": st.lists(attachment, max_size=3),
            "altcha": st.one_of(st.none(), json_text),
        },
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | json_text,
        lambda c: st.lists(c) | st.dictionaries(json_text, c),
        max_leaves=8,
    ),
)
HYPOTHESIS = hypothesis_settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def no_flood(settings):
    # Hypothesis sends dozens of reports from one address; the flood limits are tested elsewhere.
    for name in ("INTAKE_LIMIT_PER_IP", "INTAKE_LIMIT_PER_EMAIL", "INTAKE_LIMIT_GLOBAL"):
        setattr(settings, name, "1000000/3600")


@HYPOTHESIS
@given(
    body=api_body,
    key=st.one_of(st.none(), st.text(max_size=30).filter(lambda k: "\n" not in k and "\r" not in k)),
)
def test_the_api_answers_hostile_json_with_201_or_a_clear_4xx(client, no_flood, body, key):
    headers = {"Idempotency-Key": key} if key is not None else {}
    try:
        raw = json.dumps(body)
    except ValueError:
        return
    response = client.post("/api/v1/reports", raw, content_type="application/json", headers=headers)
    assert response.status_code in (200, 201, 400, 409, 413, 422), response.content[:300]
    data = response.json()
    if response.status_code >= 400:
        assert isinstance(data["detail"], str)
        assert data["detail"]
    else:
        assert data["tracking_id"]
        assert data["receipt"]


@HYPOTHESIS
@given(
    fields=st.fixed_dictionaries({}, optional=dict.fromkeys(FIELDS, text)),
    credit=st.one_of(st.sampled_from(["name", "handle", "anonymous"]), text),
    names=st.lists(st.sampled_from(HOSTILE_NAMES), max_size=2),
    content=st.binary(max_size=100),
)
def test_the_form_answers_hostile_input_with_a_redirect_or_a_clear_4xx(
    client, no_flood, fields, credit, names, content
):
    data = form_data(client, credit_preference=credit, **fields)
    if names:
        # SimpleUploadedFile itself refuses "." and "": those reach the server only from raw
        # clients, and Django's multipart parser drops them before any handler sees them.
        data["attachments"] = [
            SimpleUploadedFile(name if name not in ("", ".") else "x", content) for name in names
        ]
    response = client.post("/security/report", data)
    assert response.status_code in (303, 400, 409, 413), response.status_code
    if response.status_code != 303:
        assert response.context["form"].errors
