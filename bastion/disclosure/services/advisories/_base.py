"""What the advisory services share: their refusals, sealing under the advisory's key, the row lock.

An advisory's content is embargoed information until it is published, so it is sealed under a data
key of its own (subject ``"advisory:<uid>"``), bound by AAD to the model, field and row ``uid``
like every sealed value in Bastion (:mod:`bastion.reports.sealing` works for any row with a uid).
Its own key, not a report's: an advisory may cover several reports, and shredding one of them must
not make the advisory about the others unreadable.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.utils import timezone

from bastion.accounts.models import User
from bastion.accounts.permissions import AnyUser, is_admin, is_triager
from bastion.audit.services import ActorArg
from bastion.disclosure.content import AdvisoryContent
from bastion.disclosure.models import Advisory, AdvisoryRevision
from bastion.lib.when import as_read_in
from bastion.reports.access import hidden_report_ids, holds_grant, is_embargoed, visible_reports
from bastion.reports.models import Report
from bastion.reports.sealing import open_field, open_json, seal_field, seal_json


class AdvisoryRejected(ValidationError):
    """A refused change, with the reason in words a person can act on. Nothing was saved.

    ``field`` names the form field it is about (``None``: the whole advisory), so a form can put
    the message beside it. Messages never quote advisory or report content.
    """

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid") -> None:
        self.field = field
        self.reason = code
        if field is None:
            super().__init__(message, code=code)
        else:
            super().__init__({field: [ValidationError(message, code=code)]})


class StaleAdvisoryEdit(ValidationError):
    """Someone saved the advisory after this editor loaded it (HTTP 409). Nothing was saved.

    The message names who and when, so the editor knows whose change to look at; the form that
    raised it keeps the editor's text.
    """

    def __init__(self, advisory: Advisory, *, seen: int, reader: User | None) -> None:
        self.expected = seen
        self.current = advisory.version
        who = _name(advisory.updated_by) if advisory.updated_by else "Someone else"
        when = as_read_in(advisory.updated_at, reader.time_zone if reader else "UTC")
        super().__init__(
            f"{who} saved a newer version of {advisory.identifier} at {when} (you had version {seen}, "
            f"it is now at version {advisory.version}). Nothing was saved: reload the advisory to see "
            "their change; your text is kept below so you can make your change again.",
            code="stale_edit",
        )


def _name(user: User | None) -> str:
    if user is None:
        return "Bastion"
    return user.full_name or user.email


def display_name(user: User | None) -> str:
    """How a staff member is named in messages: full name, else email."""
    return _name(user)


# --- Who may work on an advisory ---------------------------------------------------------------


def hidden_reports(user: AnyUser) -> Any:
    """The reports ``user`` may not see (a subquery): every report for a non-triager."""
    return hidden_report_ids(user)


def may_see_advisory(user: AnyUser, advisory: Advisory) -> bool:
    """Whether ``user`` may see every report of ``advisory`` (the rule for any look at its draft).

    An advisory about an embargoed report is embargoed information too: staff see it only when
    :func:`bastion.reports.access.visible_reports` lets them see all of its reports.
    """
    if not is_triager(user):
        return False
    return not advisory.reports.filter(pk__in=hidden_reports(user)).exists()


def require_worker(actor: ActorArg, advisory: Advisory) -> User:
    """``actor`` as a staff member who may see all of ``advisory``'s reports; PermissionDenied otherwise."""
    if not isinstance(actor, User) or not may_see_advisory(actor, advisory):
        raise PermissionDenied("Only staff who may see every report of this advisory may do this.")
    return actor


def require_coordinator(actor: ActorArg, advisory: Advisory) -> User:
    """:func:`require_worker`, and under a running embargo a plain grant on each embargoed report
    (or an admin): approving, scheduling and publishing widen the circle, and whoever broke the
    glass came to look, not to decide that."""
    user = require_worker(actor, advisory)
    if is_admin(user):
        return user
    for report in advisory.reports.all():
        if is_embargoed(report) and not holds_grant(user, report):
            raise PermissionDenied(
                f"{report.tracking_id} is under embargo and you are not granted on it (a break-glass "
                "look is for reading): ask whoever set the embargo, or an admin, for a grant."
            )
    return user


def require_reports_visible(actor: ActorArg, reports: Iterable[Report]) -> User:
    """``actor`` as a triager or admin who may see every one of ``reports``; PermissionDenied otherwise."""
    pks = {report.pk for report in reports}
    if not isinstance(actor, User) or not is_triager(actor):
        raise PermissionDenied("Only triagers and admins may draft advisories.")
    if visible_reports(actor).filter(pk__in=pks).count() != len(pks):
        raise PermissionDenied("Only staff who may see every one of these reports may do this.")
    return actor


# --- The row lock and version ------------------------------------------------------------------


def locked(advisory: Advisory, *, seen_version: int | None, reader: User | None = None) -> Advisory:
    """``advisory``'s row, locked for this transaction, its version checked (not bumped).

    Call inside ``transaction.atomic()``. StaleAdvisoryEdit when ``seen_version`` is given and is
    not the stored version; ``None`` is for callers with nothing to be stale against (the task).
    """
    # of=self: PostgreSQL cannot lock the nullable side of the outer join to updated_by.
    rows = Advisory.objects.select_for_update(of=("self",)).select_related("data_key", "updated_by")
    row = rows.get(pk=advisory.pk)
    if seen_version is not None and seen_version != row.version:
        raise StaleAdvisoryEdit(row, seen=seen_version, reader=reader)
    return row


def save_changed(row: Advisory, advisory: Advisory, *, by: User | None, fields: Iterable[str]) -> None:
    """Write ``fields`` of the locked ``row``, bump its version, and bring the caller's instance along.

    Every change bumps the version, state changes included: an open edit form is then stale and
    its editor learns of the approval, review or schedule they would otherwise overwrite.
    """
    row.updated_at = timezone.now()
    row.updated_by = by
    names = {*fields, "updated_at", "updated_by"}
    Advisory.objects.filter(pk=row.pk).update(version=F("version") + 1, **{n: getattr(row, n) for n in names})
    row.version += 1
    for name in {*names, "version"}:
        setattr(advisory, name, getattr(row, name))


# --- Sealing ---------------------------------------------------------------------------------------


def seal_content(row: Advisory | AdvisoryRevision, content: AdvisoryContent, *, key: bytes) -> bytes:
    """``content`` sealed for ``row.content`` (an advisory or one of its revisions)."""
    return seal_json(row, "content", content.to_json(), key=key)


def open_content(row: Advisory | AdvisoryRevision, *, key: bytes) -> AdvisoryContent:
    """The content sealed in ``row.content``."""
    return AdvisoryContent.from_json(open_json(row, "content", key=key))


def seal_text_field(row: Advisory, field: str, text: str, *, key: bytes) -> bytes | None:
    """``text`` sealed for ``row.<field>`` (an override or send-back reason)."""
    return seal_field(row, field, text, key=key)


def open_text_field(row: Advisory, field: str, *, key: bytes) -> str:
    """The text sealed in ``row.<field>`` ("" if none)."""
    return open_field(row, field, key=key) or ""


def latest_revision(advisory: Advisory) -> AdvisoryRevision:
    """The advisory's newest revision (there is always at least one)."""
    found = advisory.revisions.select_related("author").order_by("-number").first()
    assert found is not None, "an advisory is created with its first revision"
    return found
