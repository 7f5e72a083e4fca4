"""The JSON API for reporters (django-ninja), mounted at ``/api/v1/``.

- ``POST /api/v1/reports``: anonymous submission. **201** for a new report. With an
  ``Idempotency-Key`` header, the same key and the same body again answer **200** with the same
  body (no second report); the same key with a different body is **409**.
- ``GET /api/v1/reports/{tracking_id}`` with ``Authorization: Bearer <portal token>`` (the last
  part of the portal link): the status and public timeline.

Every error is JSON ``{"detail": "..."}`` and is declared in the OpenAPI schema, 422 included
(ninja's own validation errors are reshaped to that form). No cookies are read, so there is no
CSRF to check. Attachments arrive base64-encoded and are held in memory only; the whole request is
capped by ``DATA_UPLOAD_MAX_MEMORY_SIZE``, so large files belong on the web form.
"""

from __future__ import annotations

import base64
import binascii
import io
from datetime import datetime
from typing import Any

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, NinjaAPI, Schema
from ninja.errors import ValidationError
from ninja.responses import Status
from ninja.security import HttpBearer

from bastion.intake.reporting import ChallengeRequired, FloodRefused, Gate, TooLarge, receive_report
from bastion.reports.errors import IdempotencyConflict, PortalTokenRejected, ReportRejected
from bastion.reports.models import Channel
from bastion.reports.services import IncomingFile, Submission, report_for_portal_token

api = NinjaAPI(
    title="Bastion API",
    version="1",
    urls_namespace="api-v1",
    description=(
        "Reporters submit vulnerability reports and follow them (no account). Staff work them under "
        '/staff/ with a personal API token (Authorization: Bearer ...). Errors are JSON {"detail": "..."}.'
    ),
)


class Error(Schema):
    """Every error: a sentence a person can act on."""

    detail: str


class ChallengeError(Schema):
    """429: too many attempts. With ``challenge_url``: solve a challenge from it, resend with ``altcha``."""

    detail: str
    challenge_url: str | None = None


class AttachmentIn(Schema):
    """One file, base64-encoded (standard alphabet, with padding)."""

    filename: str
    content_type: str = "application/octet-stream"
    data: str


class ReportIn(Schema):
    """A report. Only ``title`` and ``description`` are required; Markdown in the long fields."""

    title: str
    description: str
    product: str = ""
    version: str = ""
    steps: str = ""
    impact: str = ""
    reporter_name: str = ""
    reporter_handle: str = ""
    email: str = ""
    public_key: str = Field("", description="ASCII-armored OpenPGP public key: mail to you is encrypted")
    credit_preference: str = Field("anonymous", description="anonymous, name or handle")
    attachments: list[AttachmentIn] = []
    altcha: str | None = Field(None, description="A solved challenge, when a 429 asked for one")


class ReportCreated(Schema):
    """The new (or, for a retry, the earlier) report: keep the portal URL, it is the only way back."""

    tracking_id: str
    portal_url: str
    receipt: str = Field(description="OpenPGP cleartext-signed receipt; check it with gpg --verify")


class TimelineItem(Schema):
    """One public event in the report's life."""

    kind: str
    created_at: datetime
    data: dict[str, Any]


class ReportStatus(Schema):
    """Where a report stands, as its reporter may see it."""

    tracking_id: str
    status: str
    timeline: list[TimelineItem]


class PortalBearer(HttpBearer):
    """The portal token as a bearer token; checked against the tracking ID in the view."""

    def authenticate(self, request: HttpRequest, token: str) -> str | None:
        """Any non-empty token passes here; whether it opens the report is the view's question."""
        return token or None


def _detail(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    return api.create_response(request, {"detail": detail}, status=status)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # ninja's default is a list of pydantic errors; ours is one sentence naming each bad field.
    parts = []
    for error in exc.errors[:10]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "payload"))
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return _detail(request, 422, "; ".join(parts) or "The request is invalid.")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _detail(request, 413, f"The request is over the API's limit of {limit:,} bytes; use the web form.")


def _text(value: str, field: str) -> str:
    """``value``, or ReportRejected if it holds lone surrogates (JSON allows them, UTF-8 does not)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ReportRejected(field, "This contains invalid Unicode (a lone surrogate).") from None
    return value


def _files(payload: ReportIn) -> tuple[list[IncomingFile], list[int]]:
    """Decode the attachments, refusing oversized ones before decoding (TooLarge) and bad base64."""
    cap, most = settings.INTAKE_MAX_ATTACHMENT_BYTES, settings.INTAKE_MAX_ATTACHMENTS
    if len(payload.attachments) > most:
        raise TooLarge("attachments", f"You attached {len(payload.attachments)} files; the limit is {most}.")
    files, sizes = [], []
    for number, item in enumerate(payload.attachments, start=1):
        field = f"attachments[{number}]"
        if len(item.data) // 4 * 3 > cap + 3:
            raise TooLarge(field, f"Attachment {number} is over the limit of {cap:,} bytes per file.")
        try:
            data = base64.b64decode(_text(item.data, field), validate=True)
        except (binascii.Error, ValueError):
            raise ReportRejected(field, f"Attachment {number} is not valid base64.") from None
        name, kind = _text(item.filename, field), _text(item.content_type, field)
        files.append(IncomingFile(filename=name, content_type=kind, stream=io.BytesIO(data)))
        sizes.append(len(data))
    return files, sizes


_ERRORS = {400: Error, 409: Error, 413: Error, 422: Error, 429: ChallengeError}


@api.post("/reports", response={201: ReportCreated, 200: ReportCreated, **_ERRORS}, tags=["reports"])
def create_report(request: HttpRequest, payload: ReportIn) -> Status[Any]:
    """Submit a report. 201 when new; 200 with the same body when an Idempotency-Key retry repeats it."""
    key = request.headers.get("Idempotency-Key")
    try:
        texts = {name: _text(getattr(payload, name), name) for name in _TEXT_FIELDS}
        files, sizes = _files(payload)
        result = receive_report(
            submission=Submission(
                **texts, credit_preference=_text(payload.credit_preference, "credit_preference")
            ),
            attachments=files,
            sizes=sizes,
            channel=Channel.API,
            gate=Gate(ip=get_client_ip_address(request) or "", altcha=payload.altcha),
            idempotency_key=key,
        )
    except TooLarge as error:
        return Status(413, {"detail": f"{error.field}: {error.message}"})
    except ReportRejected as error:
        return Status(400, {"detail": f"{error.field}: {' '.join(error.messages)}"})
    except IdempotencyConflict as error:
        return Status(409, {"detail": str(error)})
    except ChallengeRequired as error:
        url = settings.BASE_URL + reverse("intake:challenge")
        return Status(429, {"detail": str(error), "challenge_url": url})
    except FloodRefused as error:
        return Status(429, {"detail": str(error), "challenge_url": None})
    body = {
        "tracking_id": result.report.tracking_id,
        "portal_url": result.portal_url,
        "receipt": result.receipt.statement,
    }
    return Status(201 if result.created else 200, body)


_TEXT_FIELDS = (
    "title", "description", "product", "version", "steps", "impact",
    "reporter_name", "reporter_handle", "email", "public_key",
)  # fmt: skip


@api.get(
    "/reports/{tracking_id}",
    response={200: ReportStatus, 401: Error, 404: Error, 422: Error},
    auth=PortalBearer(),
    tags=["reports"],
)
def get_report(request: HttpRequest, tracking_id: str) -> Status[Any]:
    """The report's status and public timeline. A wrong token or unknown ID is the same 404."""
    token = str(getattr(request, "auth", ""))
    try:
        report = report_for_portal_token(tracking_id, token, ip=get_client_ip_address(request))
    except PortalTokenRejected:
        return Status(404, {"detail": "No report matches this tracking ID and token."})
    timeline = [
        {"kind": entry.kind, "created_at": entry.created_at, "data": entry.data}
        for entry in report.timeline.public()
    ]
    return Status(200, {"tracking_id": report.tracking_id, "status": report.status, "timeline": timeline})
