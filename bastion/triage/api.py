"""The staff API (django-ninja), mounted at ``/api/v1/staff/`` in the same OpenAPI document as the
reporter API.

Every request carries a personal API token: ``Authorization: Bearer bst_...`` (made on the profile
page or by ``bastion create-api-token``). A token acts as its owner, within its scopes *and* the
owner's role: each endpoint needs one scope (403 without it), and loads reports through
``triage.access`` as the staff pages do, so a viewer's token sees an empty list and 404s. A
revoked or expired token, or one whose owner is deactivated, is a 401. Every use is audited (see
``accounts.services.api_tokens.authenticate_api_token``).

- ``GET /reports``: metadata only, newest first, with the inbox's filters; cursor pagination
  (``next``), because counting or offsetting a million rows is what makes a list slow.
- ``POST /reports/search``: the same filters and a search inside the reports (``text``), in a
  JSON body so the words never land in a URL or an access log; the GET refuses ``text``.
- ``GET /reports/{tracking_id}``: metadata, decrypted content and the conversation (an audited read).
- ``PATCH /reports/{tracking_id}``: status, assignee, scoring, labels, asset, in one transaction.
  What it would write to the reporter or the conversation (a reply, a note, or the news of a
  status change) needs messages:write as well as reports:write: a reports:write token cannot
  be used to write to reporters through the back door. ``notify_reporter: false`` moves
  silently, with reports:write alone.
- ``POST /reports/{tracking_id}/messages``: a public reply or an internal note.

Errors are JSON with a ``detail`` sentence, and every one is declared in the schema. 409 means the
report is not where the request assumed: a stale ``version``, or a move the workflow does not allow
from the current status (the same request could succeed against another state, which is what 409
says; 422 is for values that are wrong whatever the state, such as a bad CVSS vector).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from ninja import Query, Router
from ninja.errors import AuthenticationError, AuthorizationError
from ninja.responses import Status
from ninja.security import HttpBearer

from bastion.accounts.models import ApiScope, ApiToken, User
from bastion.accounts.services.api_tokens import authenticate_api_token
from bastion.reports.access import may_see
from bastion.reports.errors import StaleEdit, TransitionRefused
from bastion.reports.services import open_report, post_message
from bastion.reports.services.scoring import opened_severity_reason
from bastion.triage import access
from bastion.triage.api_edits import EditRefused, apply_patch, conversation_parts
from bastion.triage.api_listing import FilterRefused, report_page, search_page
from bastion.triage.api_schemas import (
    MessageCreated,
    MessageIn,
    ReportDetail,
    ReportFilters,
    ReportPage,
    ReportPatch,
    ReportRow,
    ReportSearch,
    ReportSearchPage,
    StaffConflict,
    StaffError,
    StaffFieldErrors,
    detail_of,
    row_of,
)
from bastion.triage.views.report import client_ip

router = Router(tags=["staff"])

NOT_FOUND = "No report with this tracking ID is open to you."


class StaffToken(HttpBearer):
    """A personal API token that must carry ``scope``; the request then acts as the token's owner.

    The use is recorded (API_TOKEN_USED) before the scope is checked, so a token tried where its
    scopes do not reach shows on the audit trail too.
    """

    def __init__(self, scope: ApiScope) -> None:
        self.scope = ApiScope(scope)
        super().__init__()

    def __call__(self, request: HttpRequest) -> ApiToken | None:
        if not request.headers.get("Authorization"):
            raise AuthenticationError(401, "Send a personal API token: Authorization: Bearer <token>.")
        token: ApiToken | None = super().__call__(request)
        return token

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        """The token, if it is usable and carries this endpoint's scope; a 401 or 403 otherwise."""
        found = authenticate_api_token(
            token, method=request.method or "", endpoint=request.path, ip=client_ip(request)
        )
        if found is None:
            raise AuthenticationError(
                401,
                "This API token does not work: it is unknown, revoked or expired, or its owner's "
                "account is deactivated. Create a new one on your profile page.",
            )
        if not found.allows(self.scope):
            raise AuthorizationError(
                403,
                f"This token lacks the {self.scope.value} scope this request needs. "
                "Create a token that has it on your profile page.",
            )
        return found


READ = StaffToken(ApiScope.REPORTS_READ)
WRITE = StaffToken(ApiScope.REPORTS_WRITE)
MESSAGES = StaffToken(ApiScope.MESSAGES_WRITE)
_DENIED = {401: StaffError, 403: StaffError}
# PATCH and POST also declare 400: a body that is not JSON at all, which ninja answers itself.


@router.get(
    "/reports",
    auth=READ,
    response={200: ReportPage, 400: StaffFieldErrors, **_DENIED, 422: StaffFieldErrors},
)
def list_reports(request: HttpRequest, filters: Query[ReportFilters]) -> Status[Any]:
    """Reports newest first (soonest due first with a clock filter), metadata only, filtered as in
    the inbox; 400 names each bad filter. Follow ``next`` for the next page.
    """
    # ``filters`` documents the parameters; the inbox's own form reads and checks them from the
    # query string itself (an unknown parameter, too, is a 400 rather than silently ignored).
    del filters
    try:
        page = report_page(_owner(request), request.GET, path=request.path, ip=client_ip(request))
    except FilterRefused as error:
        return Status(400, {"detail": error.detail, "errors": error.errors})
    return Status(200, page)


# Declared before /reports/{tracking_id}: URL patterns match in order, and that one's would take
# "search" for a tracking ID (and answer a POST with 405).
@router.post(
    "/reports/search",
    auth=READ,
    response={200: ReportSearchPage, 400: StaffFieldErrors, **_DENIED, 422: StaffFieldErrors},
)
def search_reports(request: HttpRequest, payload: ReportSearch) -> Status[Any]:
    """Reports whose content holds every word of ``text``, among those the filters select (at most
    500, or a 400 on ``text`` saying to narrow them). Each report is opened to be searched, and the
    read is audited (REPORTS_SEARCHED) without the words. Send ``cursor=next_cursor`` for more.
    """
    try:
        page = search_page(_owner(request), payload, ip=client_ip(request))
    except FilterRefused as error:
        return Status(400, {"detail": error.detail, "errors": error.errors})
    return Status(200, page)


@router.get(
    "/reports/{tracking_id}",
    auth=READ,
    response={200: ReportDetail, **_DENIED, 404: StaffError, 410: StaffError, 422: StaffFieldErrors},
)
def get_report(request: HttpRequest, tracking_id: str) -> Status[Any]:
    """One report with its content and whole conversation; the opening is audited (REPORT_VIEWED)."""
    user = _owner(request)
    try:
        report = access.report_for(user, tracking_id)
        if report.data_key.is_destroyed:
            return Status(410, {"detail": "This report's content was destroyed (shredded)."})
        opened = open_report(report=report, actor=user, ip=client_ip(request))
        # Part of the read open_report has just recorded, as on the report page.
        reason = opened_severity_reason(report=report, actor=user)
    except Http404:
        return Status(404, {"detail": NOT_FOUND})
    except PermissionDenied as error:
        return Status(403, {"detail": str(error) or "You may not open this report."})
    original = report.duplicate_of
    # An original under an embargo this user holds no grant on is not named, not even by its ID.
    shown = original.tracking_id if original is not None and may_see(user, original) else None
    return Status(200, detail_of(opened, severity_reason=reason, duplicate_of=shown))


@router.patch(
    "/reports/{tracking_id}",
    auth=WRITE,
    response={
        200: ReportRow,
        400: StaffError,
        **_DENIED,
        404: StaffError,
        409: StaffConflict,
        422: StaffFieldErrors,
    },
)
def patch_report(request: HttpRequest, tracking_id: str, payload: ReportPatch) -> Status[Any]:
    """Change status, assignee, scoring, labels or asset; all of it or, on any refusal, none of it.

    A reply, a note, or a status change the reporter is told of also needs messages:write (403).
    """
    user = _owner(request)
    writes = conversation_parts(payload)
    if writes and not _token(request).allows(ApiScope.MESSAGES_WRITE):
        return Status(
            403,
            {
                "detail": (
                    f"This token lacks the {ApiScope.MESSAGES_WRITE.value} scope, needed here for "
                    f"{', '.join(writes)} (each writes to the reporter or the conversation). Create a "
                    "token that has it on your profile page; to change the status without telling "
                    "the reporter, send notify_reporter: false."
                )
            },
        )
    try:
        report = access.report_for(user, tracking_id)
        report = apply_patch(report=report, patch=payload, actor=user, ip=client_ip(request))
    except Http404:
        return Status(404, {"detail": NOT_FOUND})
    except StaleEdit as error:
        return Status(409, {"detail": error.message, "code": "stale_edit", "version": error.current})
    except TransitionRefused as error:
        allowed: list[str] = error.allowed
        return Status(409, {"detail": error.message, "code": "transition_refused", "allowed": allowed})
    except EditRefused as error:
        return Status(422, {"detail": error.detail, "errors": error.errors})
    except ValidationError as error:
        return Status(422, _field_errors(error))
    except PermissionDenied as error:
        return Status(403, {"detail": str(error) or "You may not change this report."})
    return Status(200, row_of(report))


@router.post(
    "/reports/{tracking_id}/messages",
    auth=MESSAGES,
    response={201: MessageCreated, 400: StaffError, **_DENIED, 404: StaffError, 422: StaffFieldErrors},
)
def create_message(request: HttpRequest, tracking_id: str, payload: MessageIn) -> Status[Any]:
    """Reply to the reporter (``public``, mailed to them) or add an internal note; 201 with its id."""
    user = _owner(request)
    try:
        report = access.report_for(user, tracking_id)
        message = post_message(
            report=report, body=payload.body, visibility=payload.visibility, actor=user, ip=client_ip(request)
        )
    except Http404:
        return Status(404, {"detail": NOT_FOUND})
    except ValidationError as error:
        return Status(422, _field_errors(error))
    except PermissionDenied as error:
        return Status(403, {"detail": str(error) or "You may not write on this report."})
    body = {"id": str(message.uid), "visibility": message.visibility, "created_at": message.created_at}
    return Status(201, body)


def _token(request: HttpRequest) -> ApiToken:
    token = request.auth  # type: ignore[attr-defined]  # ninja sets it after authenticating
    assert isinstance(token, ApiToken)  # every operation here has a StaffToken auth
    return token


def _owner(request: HttpRequest) -> User:
    return _token(request).user


def _field_errors(error: ValidationError) -> dict[str, Any]:
    """A service's ValidationError as ``{"detail", "errors"}``: one sentence, and messages per field."""
    if hasattr(error, "error_dict"):
        errors = {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
        detail = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())
        return {"detail": detail, "errors": errors}
    return {"detail": " ".join(error.messages), "errors": {}}
