"""The staff API's PATCH of a report: several services, one transaction, one version check.

A PATCH may change the scoring, the assignee and the status at once. Each part is the same
reports service the report page calls, so the rules, timeline entries and audit rows are the
ones a person clicking would produce; they run inside one ``transaction.atomic()``, so a part
refused late (an illegal move after a valid CVSS vector) leaves nothing of the others behind,
mail included (it is enqueued on commit only).

The version the client read is checked by the first part that runs (each service locks the row
and checks it); the later parts run under that lock and take what the earlier ones left, so the
PATCH is one edit against one version. Each part bumps the version, so a PATCH of three parts
moves it by up to three: it is an opaque counter, and the answer carries the new value.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from bastion.accounts.models import User, normalize_email_address
from bastion.audit.services import ActorArg
from bastion.reports.models import Asset, Report
from bastion.reports.services import change_status
from bastion.reports.services.casework import assign_report
from bastion.reports.services.scoring import classify_report
from bastion.triage.api_schemas import ReportPatch
from bastion.triage.canned import default_message

# The fields classify_report takes, as the PATCH body names them.
CLASSIFICATION = ("cvss_v3", "cvss_v4", "cwe_id", "severity", "severity_reason", "asset", "labels")
STATUS_EXTRAS = ("reporter_message", "notify_reporter", "note")
# What a PATCH posts to the conversation (a public reply, an internal note).
MESSAGES = ("reporter_message", "note")


class EditRefused(Exception):
    """A PATCH that cannot be applied as sent (HTTP 422): ``errors`` maps a field to its messages."""

    def __init__(self, errors: dict[str, list[str]], detail: str | None = None) -> None:
        self.errors = errors
        self.detail = detail or "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        super().__init__(self.detail)


def apply_patch(*, report: Report, patch: ReportPatch, actor: ActorArg, ip: str | None = None) -> Report:
    """Apply every part of ``patch`` to ``report`` in one transaction; the report as it is afterwards.

    Raises EditRefused (before anything is written) for a body that does not hold together, and
    lets the services' StaleEdit, TransitionRefused, ReportRejected and PermissionDenied through,
    after rolling back every part.
    """
    sent = set(patch.model_fields_set) - {"version"}
    _check_shape(patch, sent)
    assignee = _assignee(patch.assignee) if "assignee" in sent else None
    classification = _classification(patch, sent)
    with transaction.atomic():
        expected: int | None = patch.version
        if classification:
            classify_report(report=report, actor=actor, expected_version=expected, ip=ip, **classification)
            expected = None
        if "assignee" in sent:
            assign_report(report=report, assignee=assignee, actor=actor, expected_version=expected, ip=ip)
            expected = None
        if "status" in sent:
            assert patch.status is not None  # _check_shape refused null
            message = patch.reporter_message or default_message(patch.status, tracking_id=report.tracking_id)
            change_status(
                report=report,
                to=patch.status,
                actor=actor,
                reporter_message=message,
                notify_reporter=patch.notify_reporter,
                note=patch.note or None,
                expected_version=expected,
                ip=ip,
            )
    return Report.objects.select_related("assignee", "asset").prefetch_related("labels").get(pk=report.pk)


def conversation_parts(patch: ReportPatch) -> list[str]:
    """The parts of ``patch`` that write to the reporter or the conversation ([] when none does).

    ``reporter_message`` and ``note`` when sent (not null), and ``status`` unless
    ``notify_reporter`` is false: the move then mails the reporter, a canned reply or the plain
    "status changed" mail. These need the messages:write scope as well, which is the scope that
    says a token may write to reporters; a silent move (notify_reporter false) does not.
    """
    sent = patch.model_fields_set
    parts = [name for name in MESSAGES if name in sent and getattr(patch, name) is not None]
    if "status" in sent and patch.status is not None and patch.notify_reporter:
        parts.append("a status change that notifies the reporter")
    return parts


def _check_shape(patch: ReportPatch, sent: set[str]) -> None:
    if not sent:
        changeable = ", ".join(name for name in ReportPatch.model_fields if name != "version")
        raise EditRefused({}, detail=f"Nothing to change: send at least one of {changeable}.")
    if "status" in sent and patch.status is None:
        raise EditRefused({"status": ["A report always has a status: send one of the workflow's states."]})
    extras = sorted(set(STATUS_EXTRAS) & sent)
    if extras and "status" not in sent:
        raise EditRefused(
            {
                name: [
                    "This goes with a status change: send status too. "
                    "To write to the reporter without one, POST to the report's messages."
                ]
                for name in extras
            }
        )


def _assignee(email: str | None) -> User | None:
    """The staff member named by ``email``; None unassigns. EditRefused for an unknown address."""
    if email is None or not email.strip():
        return None
    user = User.objects.filter(email=normalize_email_address(email)).first()
    if user is None:
        raise EditRefused({"assignee": [f"No staff account has the address {email.strip()}."]})
    return user


def _classification(patch: ReportPatch, sent: set[str]) -> dict[str, Any]:
    """classify_report's arguments for the fields sent; ``null`` means "clear" as the service reads it."""
    values: dict[str, Any] = {}
    for name in CLASSIFICATION:
        if name not in sent:
            continue
        value = getattr(patch, name)
        if name in {"cvss_v3", "cvss_v4"} and value is None:
            value = ""  # the service clears a vector with ""
        elif name == "labels" and value is None:
            value = []
        elif name == "asset" and value is not None:
            value = _asset(value)
        values[name] = value
    return values


def _asset(name: str) -> Asset | None:
    if not name.strip():
        return None
    asset = Asset.objects.filter(name=name.strip()).first()
    if asset is None:
        raise EditRefused({"asset": [f"No asset is named {name.strip()}."]})
    return asset
