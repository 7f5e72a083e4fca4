"""The shapes of the staff API's requests and answers (see ``triage/api.py``), and how models fill them.

Names carry a ``Staff`` prefix where the reporter API has a schema of the same idea: both APIs
share one OpenAPI document, whose components are keyed by class name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict, field_validator

from bastion.reports.models import Report, Visibility
from bastion.reports.services import AttachmentMeta, OpenedReport
from bastion.reports.services.conversation import MAX_MESSAGE
from bastion.reports.workflow import Status


class StaffError(Schema):
    """An error: a sentence a person can act on."""

    detail: str


class StaffFieldErrors(Schema):
    """400 or 422: what is wrong, and the messages per field (empty when no one field is at fault)."""

    detail: str
    errors: dict[str, list[str]] = Field(default_factory=dict)


class StaffConflict(Schema):
    """409: the report is not where the request assumed.

    ``code`` is ``stale_edit`` (someone changed it since you read ``version``: reload and retry;
    ``version`` is the current one) or ``transition_refused`` (the workflow does not allow that
    move from the current status; ``allowed`` lists the moves it does allow).
    """

    detail: str
    code: str
    version: int | None = None
    allowed: list[str] = Field(default_factory=list)


class _Input(Schema):
    """A request body: unknown fields are refused (a typo must not be ignored silently), and so is
    text that is not valid Unicode (JSON allows lone surrogates; UTF-8, and so sealing, does not)
    or holds a NUL character (PostgreSQL's text cannot: it would be a database error, a 500).
    """

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _encodable(cls, value: Any) -> Any:
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError("This contains invalid Unicode (a lone surrogate).") from None
                if "\x00" in text:
                    raise ValueError("This contains a NUL character; remove it and try again.")
        return value


class _Filters(Schema):
    """The inbox's filters, shared by the list's query parameters and the search's body."""

    status: list[str] = Field([], description="A status, or open, closed or any")
    severity: list[str] = Field([], description="none, low, medium, high, critical or unrated")
    assignee: list[str] = Field([], description="me, unassigned, or a staff e-mail address or id")
    asset: list[str] = Field([], description="An asset's name or id, or none")
    channel: list[str] = Field([], description="web, api or email")
    label: list[str] = Field([], description="A label name")
    clock: list[str] = Field([], description="due_soon, overdue or breached (sorts by due time)")
    received_after: str | None = Field(None, description="A day, YYYY-MM-DD, in your time zone")
    received_before: str | None = Field(None, description="A day, YYYY-MM-DD, in your time zone")
    q: str | None = Field(None, description="Metadata search: tracking ID, CWE, CVSS part, label or asset")
    cursor: str | None = Field(None, description="next_cursor of the previous page")


class ReportFilters(_Filters):
    """The inbox's filters, as query parameters. Several values: repeat the parameter, or separate
    them with commas. Values are checked by the inbox's own rules: a bad one is a 400 naming it.
    There is no ``text`` here: searching inside reports is ``POST /reports/search``, so that the
    words searched for (report text, often) stay out of URLs and the logs that keep them.
    """

    due_hours: str | None = Field(None, description="What due_soon means, in hours (default 24)")
    limit: str | None = Field(None, description="Rows per page, 1 to 200 (default 50)")


class ReportSearch(_Input, _Filters):
    """A search inside reports: ``text``, within the list's filters (the same names and values,
    several values as a JSON list). It opens each report the filters select, so they must narrow
    the set to at most 500 first; the read is audited (REPORTS_SEARCHED), the words are not.
    """

    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="Words that must all appear in the report (any field, any case)")
    due_hours: int | None = Field(None, description="What due_soon means, in hours (default 24)")
    limit: int | None = Field(None, description="Rows per page, 1 to 200 (default 50)")


class ReportRow(Schema):
    """A report's metadata, as the inbox lists it: nothing sealed, so listing decrypts nothing."""

    tracking_id: str
    status: Status
    channel: str
    received_at: datetime
    severity: str = Field(description='"" when not yet rated')
    cvss_score: float | None
    cwe_id: int | None
    assignee: str | None = Field(description="The assignee's e-mail address")
    asset: str | None = Field(description="The asset's name")
    labels: list[str]
    next_due_at: datetime | None = Field(description="The earliest due time among the running clocks")
    breached_at: datetime | None
    version: int = Field(description="Send it back with a PATCH; it changes with every edit")


class ReportPage(Schema):
    """One page of reports, newest first. Follow ``next`` (or send ``cursor=next_cursor``) for more."""

    items: list[ReportRow]
    next: str | None = Field(description="The URL of the next page; null on the last page")
    next_cursor: str | None


class ReportSearchPage(Schema):
    """One page of a search inside reports. For more, send the same search with ``cursor``: each
    page opens the candidates again, and is audited again.
    """

    items: list[ReportRow]
    next_cursor: str | None = Field(description="The cursor of the next page; null on the last page")


class ReportContent(Schema):
    """What the reporter submitted, decrypted."""

    title: str
    description: str
    product: str
    version: str = Field(description="The product version the reporter named")
    steps: str
    impact: str


class ReporterOut(Schema):
    """Who reported it, as far as they told us (empty strings for what they did not)."""

    name: str
    handle: str
    email: str
    public_key_fingerprint: str
    credit_preference: str
    time_zone: str


class AttachmentOut(Schema):
    """A file's metadata (download it from the report page)."""

    id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class MessageOut(Schema):
    """One message of the conversation; ``internal`` ones are notes the reporter never sees."""

    id: str
    author_kind: str
    author: str | None = Field(description="The staff author's e-mail address")
    visibility: Visibility
    created_at: datetime
    body: str
    attachments: list[AttachmentOut]


class ReportDetail(ReportRow):
    """A report opened: metadata, scoring, decrypted content and the whole conversation."""

    severity_overridden: bool
    severity_reason: str
    cvss_v3: str
    cvss_v4: str
    duplicate_of: str | None
    first_response_at: datetime | None
    triaged_at: datetime | None
    closed_at: datetime | None
    content: ReportContent
    reporter: ReporterOut
    attachments: list[AttachmentOut]
    messages: list[MessageOut]


class ReportPatch(_Input):
    """A change to a report. Only the fields sent change; ``null`` clears a field that may be empty.

    ``version`` is the version you read: if someone changed the report since, nothing is saved
    and the answer is 409. Every part applies, or none does.

    What writes to the reporter or the conversation needs the token's messages:write scope as
    well as reports:write (403 without it): ``reporter_message``, ``note``, and a ``status``
    change unless ``notify_reporter`` is false (the reporter is told of the move).
    """

    version: int = Field(ge=1, le=2**31 - 1)
    status: Status | None = None
    reporter_message: str | None = Field(
        None,
        description=(
            "With status: the reply the reporter gets; omitted, the default canned response is sent "
            "(needs messages:write)"
        ),
    )
    notify_reporter: bool = Field(
        True,
        description=(
            "With status: false sends the reporter nothing (the move still shows in their portal); "
            "true, the default, needs messages:write"
        ),
    )
    note: str | None = Field(
        None, description="An internal note kept with the status change (needs messages:write)"
    )
    assignee: str | None = Field(None, description="A triager's or admin's e-mail address; null unassigns")
    severity: str | None = Field(
        None, description="none, low, medium, high or critical; null follows the score"
    )
    severity_reason: str | None = Field(None, description="Why the severity differs from the score")
    cvss_v3: str | None = Field(None, description="A CVSS 3.1 vector (CVSS:3.1/...); null clears it")
    cvss_v4: str | None = Field(None, description="A CVSS 4.0 vector (CVSS:4.0/...); null clears it")
    cwe_id: int | str | None = Field(
        None, description="A CWE from the bundled list: 79 or CWE-79; null clears it"
    )
    labels: list[str] | None = Field(
        None, description="The complete new set of label names; null removes all"
    )
    asset: str | None = Field(None, description="An asset's name; null for none")

    @field_validator("reporter_message", "note", mode="after")
    @classmethod
    def _postable(cls, value: str | None) -> str | None:
        # Checked here, under the field's own name: post_message would refuse the same text later
        # under the name "body", which this request does not have (NUL: see _Input).
        if value is not None and len(value) > MAX_MESSAGE:
            raise ValueError(f"This is {len(value):,} characters long; the limit is {MAX_MESSAGE:,}.")
        return value


class MessageIn(_Input):
    """A reply to the reporter (``public``) or a note only staff see (``internal``)."""

    body: str
    visibility: Visibility


class MessageCreated(Schema):
    """The message just posted."""

    id: str
    visibility: Visibility
    created_at: datetime


# --- From models to answers -----------------------------------------------------------------------


def row_of(report: Report) -> dict[str, Any]:
    """``report``'s metadata as a :class:`ReportRow` (load assignee, asset and labels with it)."""
    return {
        "tracking_id": report.tracking_id,
        "status": report.status,
        "channel": report.channel,
        "received_at": report.received_at,
        "severity": report.severity,
        "cvss_score": float(report.cvss_score) if report.cvss_score is not None else None,
        "cwe_id": report.cwe_id,
        "assignee": report.assignee.email if report.assignee else None,
        "asset": report.asset.name if report.asset else None,
        "labels": sorted(label.name for label in report.labels.all()),
        "next_due_at": report.next_due_at,
        "breached_at": report.breached_at,
        "version": report.version,
    }


def detail_of(
    opened: OpenedReport, *, severity_reason: str | None, duplicate_of: str | None
) -> dict[str, Any]:
    """An opened report as a :class:`ReportDetail`: metadata, content, reporter, files, conversation.

    ``duplicate_of`` is the original's tracking ID as this reader may see it (None when hidden).
    """
    report = opened.report
    reporter = opened.reporter
    return {
        **row_of(report),
        "severity_overridden": report.severity_overridden,
        "severity_reason": severity_reason or "",
        "cvss_v3": report.cvss_v3,
        "cvss_v4": report.cvss_v4,
        "duplicate_of": duplicate_of,
        "first_response_at": report.first_response_at,
        "triaged_at": report.triaged_at,
        "closed_at": report.closed_at,
        "content": {
            "title": opened.title,
            "description": opened.description,
            "product": opened.product,
            "version": opened.version,
            "steps": opened.steps,
            "impact": opened.impact,
        },
        "reporter": {
            "name": reporter.name,
            "handle": reporter.handle,
            "email": reporter.email,
            "public_key_fingerprint": reporter.public_key_fingerprint,
            "credit_preference": reporter.credit_preference,
            "time_zone": reporter.time_zone,
        },
        "attachments": [_file(meta) for meta in opened.attachments],
        "messages": [
            {
                "id": str(item.message.uid),
                "author_kind": item.message.author_kind,
                "author": item.message.author.email if item.message.author else None,
                "visibility": item.message.visibility,
                "created_at": item.message.created_at,
                "body": item.body,
                "attachments": [_file(meta) for meta in item.attachments],
            }
            for item in opened.messages
        ],
    }


def _file(meta: AttachmentMeta) -> dict[str, Any]:
    return {
        "id": str(meta.attachment.uid),
        "filename": meta.filename,
        "content_type": meta.content_type,
        "size": meta.size,
        "sha256": meta.sha256,
    }
