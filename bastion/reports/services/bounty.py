"""Deciding a report's bounty: eligibility, an award proposed, approved by a second person, paid.

The steps, each by a named triager or admin and each audited:

- ``assess_bounty`` records the three eligibility answers (in scope, first to report, policy
  followed); each is yes, no or not yet assessed.
- ``decline_bounty`` decides "not eligible" (at least one answer is no), with the reason the
  reporter is given.
- ``propose_award`` proposes an amount (every answer yes); outside the program's table for the
  report's severity it needs a note saying why.
- ``approve_award`` is the second pair of eyes: never the proposer, and an admin above the
  program's approval threshold.
- ``mark_paid`` records that the approved award was paid.

What the reporter sees: a decline and an approval (then the payment), never a bare proposal. A
proposal can still be turned down by its approver; showing it would promise money that may not
come, and taking such a promise back is worse for the reporter than waiting a little longer. So a
proposal's timeline entry is staff-only and its note is kept until the approval, which posts it;
a decline posts its reason at once. Timeline entries carry states and amounts, never the note.

Each change locks the Bounty row and checks the version the editor saw (``expected_version``),
like ``casework.locked_for_edit`` does for the report: two staff deciding at once, the second is
told (StaleEdit) and nothing is overwritten. The bounty has its own version so that deciding a
bounty does not make a colleague's open status or scoring form stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from bastion.accounts.models import User
from bastion.accounts.permissions import is_admin
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports import clocks
from bastion.reports.clocks import program_for
from bastion.reports.errors import ReportRejected, StaleEdit
from bastion.reports.models import (
    Bounty,
    BountyStatus,
    Program,
    Report,
    TimelineEntry,
    TimelineKind,
    Visibility,
)
from bastion.reports.sealing import open_field, seal_field
from bastion.reports.services._shared import add_timeline, clean_text, require_staff_reader
from bastion.reports.services.conversation import OpenedReport, post_message

# The three questions, in the order staff and the reporter read them.
CRITERIA: dict[str, str] = {
    "in_scope": "In scope",
    "first_to_report": "First to report",
    "policy_followed": "Policy followed",
}
MAX_NOTE = 5_000
# Bounty.amount: max_digits=12, decimal_places=2.
MAX_AMOUNT = Decimal("9999999999.99")
CENT = Decimal("0.01")
# A decision stands once approved: eligibility and the amount can no longer change.
SETTLED = (BountyStatus.APPROVED, BountyStatus.PAID)


def bounty_for(report: Report, *, program: Program | None = None) -> Bounty:
    """``report``'s Bounty row, made (not decided) the first time it is asked for.

    Only reports whose program offers bounties have one: ReportRejected otherwise, naming the
    program, so staff know to file the report under a bounty program's asset first.
    """
    program = program or program_for(report)
    if not program.offers_bounty:
        raise ReportRejected(
            "bounty",
            f"This report falls under the program “{program.name}”, which pays no bounties. "
            "File it under an asset of a bounty program first.",
            code="no_bounty_program",
        )
    bounty, _ = Bounty.objects.get_or_create(report=report)
    return bounty


def suggested_range(report: Report) -> tuple[Decimal, Decimal] | None:
    """The program's ``[min, max]`` for ``report``'s severity, in the program's currency.

    None when the report has no severity yet, or the table has no usable row for it.
    """
    return _range(program_for(report), report.severity)


def assess_bounty(
    *,
    report: Report,
    actor: ActorArg,
    in_scope: bool | None,
    first_to_report: bool | None,
    policy_followed: bool | None,
    expected_version: int | None = None,
    ip: str | None = None,
) -> Bounty:
    """Record the three eligibility answers (``None``: not assessed yet); the updated Bounty.

    Refused once an award is approved. A standing proposal needs every answer yes: an answer
    changed to no or to not assessed withdraws it (the bounty is undecided again). The reporter
    never saw the proposal, so nothing is said to them; declining is a separate, explained step.
    """
    require_staff_reader(actor)
    answers = {"in_scope": in_scope, "first_to_report": first_to_report, "policy_followed": policy_followed}
    with transaction.atomic():
        bounty, _program = _locked(report, expected_version)
        if bounty.status in SETTLED:
            raise ReportRejected(
                "bounty",
                f"The award is {bounty.get_status_display().lower()}: eligibility can no longer change.",
                code="settled",
            )
        for name, value in answers.items():
            setattr(bounty, name, value)
        withdrawn = bounty.status == BountyStatus.PROPOSED and not all(v is True for v in answers.values())
        if withdrawn:
            _clear_proposal(bounty)
            bounty.status = BountyStatus.PENDING
        bounty.save()
        record(
            event=Event.BOUNTY_ASSESSED,
            actor=actor,
            target=report,
            data={**answers, "status": bounty.status, "withdrawn": withdrawn},
            ip=ip,
        )
    return bounty


def decline_bounty(
    *,
    report: Report,
    actor: ActorArg,
    note: str,
    expected_version: int | None = None,
    ip: str | None = None,
) -> Bounty:
    """Decide that ``report`` earns no bounty, telling the reporter why (``note``); the Bounty.

    At least one eligibility answer must be no: the reporter is shown which criterion failed, and
    ``note`` (required) is posted to them as a public reply in the same transaction. Refused once
    an award is approved.
    """
    require_staff_reader(actor)
    reason = clean_text(note, field="note", max_length=MAX_NOTE, required=True)
    now = timezone.now()
    with transaction.atomic():
        bounty, _program = _locked(report, expected_version)
        if bounty.status in SETTLED:
            raise ReportRejected(
                "bounty", f"The award is {bounty.get_status_display().lower()}: it cannot be declined now."
            )
        unmet = [name for name in CRITERIA if getattr(bounty, name) is False]
        if not unmet:
            raise ReportRejected(
                "bounty",
                "To decline, first answer “no” to the eligibility question that fails "
                "(in scope, first to report, policy followed): the reporter is shown which one.",
                code="no_failed_criterion",
            )
        _clear_proposal(bounty)
        bounty.status = BountyStatus.INELIGIBLE
        bounty.note = seal_field(bounty, "note", reason, key=report.data_key_plain())
        bounty.decided_at = bounty.decided_at or now
        bounty.save()
        decision = {"status": bounty.status, "amount": None, "currency": "", "unmet": unmet}
        add_timeline(report, TimelineKind.BOUNTY_DECIDED, public=True, **decision)
        record(event=Event.BOUNTY_DECLINED, actor=actor, target=report, data=decision, ip=ip)
        post_message(report=report, body=reason, visibility=Visibility.PUBLIC, actor=actor, ip=ip)
        clocks.on_bounty_decided(report, at=now)
    return bounty


def propose_award(
    *,
    report: Report,
    actor: ActorArg,
    amount: Decimal | str | int,
    currency: str | None = None,
    note: str | None = None,
    expected_version: int | None = None,
    ip: str | None = None,
) -> Bounty:
    """Propose awarding ``amount`` in ``currency`` (default: the program's); the Bounty, PROPOSED.

    Every eligibility answer must be yes. The amount is positive with at most two decimals. An
    amount outside the program's range for the report's severity (or with no range to compare
    with: no severity yet, another currency) needs ``note``, the reason the reporter will read.
    The note is sealed and posted to the reporter only when the award is approved. A proposal
    reaches the bounty decision (its response target is met); proposing again replaces it.
    """
    proposer = require_staff_reader(actor)
    value = clean_amount(amount)
    text = clean_text(note, field="note", max_length=MAX_NOTE) if note is not None else ""
    now = timezone.now()
    with transaction.atomic():
        bounty, program = _locked(report, expected_version)
        code = clean_currency(currency or program.currency)
        if bounty.status in SETTLED:
            status = bounty.get_status_display().lower()
            raise ReportRejected("bounty", f"The award is already {status}; it cannot be proposed again.")
        missing = [label.lower() for name, label in CRITERIA.items() if getattr(bounty, name) is not True]
        if missing:
            raise ReportRejected(
                "bounty",
                "An award needs every eligibility answer to be “yes”; not yet: " + ", ".join(missing) + ".",
                code="not_eligible",
            )
        bounds = _range(program, report.severity) if code == program.currency else None
        in_range = bounds is not None and bounds[0] <= value <= bounds[1]
        if not text and not in_range:
            raise ReportRejected("note", _out_of_range(value, code, bounds, program), code="note_required")
        bounty.status = BountyStatus.PROPOSED
        bounty.amount = value
        bounty.currency = code
        bounty.note = seal_field(bounty, "note", text or None, key=report.data_key_plain())
        bounty.proposed_by = proposer
        bounty.proposed_at = now
        bounty.approved_by = None
        bounty.approved_at = None
        bounty.decided_at = bounty.decided_at or now
        bounty.save()
        decision = {"status": bounty.status, "amount": str(value), "currency": code}
        # Staff-only: the reporter hears of the award once it is approved (see the module docstring).
        add_timeline(report, TimelineKind.BOUNTY_DECIDED, public=False, **decision)
        audited = {**decision, "in_range": in_range}
        record(event=Event.BOUNTY_PROPOSED, actor=actor, target=report, data=audited, ip=ip)
        clocks.on_bounty_decided(report, at=now)
    return bounty


def approve_award(
    *, report: Report, actor: ActorArg, expected_version: int | None = None, ip: str | None = None
) -> Bounty:
    """Approve the proposed award; the Bounty, APPROVED. The reporter is told, with the amount.

    Four eyes: the approver is not the proposer. Above the program's approval threshold (or in a
    currency the threshold cannot be compared with) only an admin approves. The proposal's note,
    if any, is posted to the reporter now, as the approver's reply.
    """
    approver = require_staff_reader(actor)
    now = timezone.now()
    with transaction.atomic():
        bounty, program = _locked(report, expected_version)
        if bounty.status != BountyStatus.PROPOSED:
            raise ReportRejected("bounty", _not_now(bounty, "approved", "an award is proposed"), code="order")
        if bounty.proposed_by_id == approver.pk:
            raise PermissionDenied(
                "You proposed this award, so someone else must approve it: every award is checked by "
                "a second person."
            )
        if needs_admin(bounty, program) and not is_admin(approver):
            raise PermissionDenied(
                f"This award is over the program's approval threshold ({program.approval_threshold} "
                f"{program.currency}): only an admin may approve it."
            )
        bounty.status = BountyStatus.APPROVED
        bounty.approved_by = approver
        bounty.approved_at = now
        bounty.save()
        decision = {"status": bounty.status, "amount": str(bounty.amount), "currency": bounty.currency}
        add_timeline(report, TimelineKind.BOUNTY_DECIDED, public=True, **decision)
        record(event=Event.BOUNTY_APPROVED, actor=actor, target=report, data=decision, ip=ip)
        reason = open_field(bounty, "note", key=report.data_key_plain())
        if reason:
            post_message(report=report, body=reason, visibility=Visibility.PUBLIC, actor=actor, ip=ip)
    return bounty


def mark_paid(
    *, report: Report, actor: ActorArg, expected_version: int | None = None, ip: str | None = None
) -> Bounty:
    """Record that the approved award was paid; the Bounty, PAID. The reporter sees it too."""
    require_staff_reader(actor)
    now = timezone.now()
    with transaction.atomic():
        bounty, _program = _locked(report, expected_version)
        if bounty.status != BountyStatus.APPROVED:
            refusal = _not_now(bounty, "marked paid", "the award is approved")
            raise ReportRejected("bounty", refusal, code="order")
        bounty.status = BountyStatus.PAID
        bounty.paid_at = now
        bounty.paid_by = actor if isinstance(actor, User) else None
        bounty.save()
        decision = {"status": bounty.status, "amount": str(bounty.amount), "currency": bounty.currency}
        add_timeline(report, TimelineKind.BOUNTY_DECIDED, public=True, **decision)
        record(event=Event.BOUNTY_PAID, actor=actor, target=report, data=decision, ip=ip)
    return bounty


def needs_admin(bounty: Bounty, program: Program) -> bool:
    """Whether approving ``bounty``'s award takes an admin: above the threshold, or not comparable."""
    if bounty.amount is None:
        return False
    return bounty.currency != program.currency or bounty.amount > program.approval_threshold


# --- What the reporter sees -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReporterBounty:
    """The bounty decision as the reporter was told it: status, amount, the unmet criteria, the reason.

    ``status`` is PENDING ("not decided yet") until a decision they may see: an unapproved
    proposal reads as pending too. ``unmet`` names the criteria (keys of ``CRITERIA``) that made
    the report ineligible; ``note`` is the reason that came with the decision shown.
    """

    status: BountyStatus
    amount: Decimal | None = None
    currency: str = ""
    unmet: tuple[str, ...] = ()
    note: str | None = field(default=None, repr=False)
    at: datetime | None = None

    @property
    def label(self) -> str:
        """The status in words."""
        return str(self.status.label)


def reporter_bounty(opened: OpenedReport) -> ReporterBounty | None:
    """What the reporter's page shows of the bounty; None when the report's program pays none.

    Takes the ``OpenedReport`` so it runs inside the audited read that opened it: the note is
    opened with the same key, as part of that read, and records nothing more. The decision shown
    is the latest public BOUNTY_DECIDED entry, i.e. exactly what the reporter was told.
    """
    report = opened.report
    entry: TimelineEntry | None = (
        report.timeline.public()
        .filter(kind=TimelineKind.BOUNTY_DECIDED)
        .order_by("-created_at", "-id")
        .first()
    )
    if entry is None:
        return ReporterBounty(status=BountyStatus.PENDING) if program_for(report).offers_bounty else None
    data: dict[str, Any] = entry.data or {}
    status = BountyStatus(data.get("status", BountyStatus.PENDING))
    bounty = Bounty.objects.filter(report=report).first()
    # The row's note belongs to its current decision: after a decline, a new proposal replaces it.
    note = None
    if bounty is not None and bounty.status == status:
        note = open_field(bounty, "note", key=report.data_key_plain())
    amount = data.get("amount")
    return ReporterBounty(
        status=status,
        amount=Decimal(amount) if amount else None,
        currency=str(data.get("currency") or ""),
        unmet=tuple(str(name) for name in data.get("unmet", []) if name in CRITERIA),
        note=note,
        at=entry.created_at,
    )


# --- Checks ---------------------------------------------------------------------------------------


def clean_amount(value: Decimal | str | int) -> Decimal:
    """``value`` as a Decimal award: positive, at most two decimals; ReportRejected("amount") if not."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ReportRejected("amount", "Give the amount as a number, such as 500 or 1250.50.") from None
    if not amount.is_finite() or amount <= 0:
        raise ReportRejected("amount", "The amount must be more than zero.")
    # The bound first: quantizing a huge number would overflow the decimal context.
    if amount > MAX_AMOUNT:
        raise ReportRejected("amount", f"The amount can be at most {MAX_AMOUNT:,}.")
    if amount != amount.quantize(CENT):
        raise ReportRejected("amount", "The amount can have at most two decimals (cents).")
    return amount.quantize(CENT)


def clean_currency(value: str) -> str:
    """A three-letter ISO 4217 code, upper case; ReportRejected("currency") if not."""
    code = (value or "").strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ReportRejected("currency", "Give the currency as its three-letter code, such as USD or EUR.")
    return code


def _locked(report: Report, expected_version: int | None) -> tuple[Bounty, Program]:
    """The report's Bounty row locked for this transaction, its version checked and bumped.

    Call inside ``transaction.atomic()``. The row is made first if need be (``bounty_for``), so
    the lock always has a row to hold; the version is bumped here and saved with the change.
    """
    program = program_for(report)
    bounty = bounty_for(report, program=program)
    locked = Bounty.objects.select_for_update().get(pk=bounty.pk)
    if expected_version is not None and expected_version != locked.version:
        raise StaleEdit(expected_version, locked.version)
    locked.version += 1
    return locked, program


def _clear_proposal(bounty: Bounty) -> None:
    """Set a proposal aside: its amount, proposer and note (the note was the proposal's reason)."""
    bounty.note = None
    bounty.amount = None
    bounty.currency = ""
    bounty.proposed_by = None
    bounty.proposed_at = None


def _range(program: Program, severity: str) -> tuple[Decimal, Decimal] | None:
    row = (program.bounty_table or {}).get(severity) if severity else None
    if not isinstance(row, list | tuple) or len(row) != 2:
        return None
    try:
        low, high = Decimal(str(row[0])), Decimal(str(row[1]))
    except InvalidOperation:
        return None
    return (low, high) if low.is_finite() and high.is_finite() and low <= high else None


def _out_of_range(
    amount: Decimal, currency: str, bounds: tuple[Decimal, Decimal] | None, program: Program
) -> str:
    if currency != program.currency:
        where = f"The program's table is in {program.currency}, so {currency} cannot be checked against it"
    elif bounds is None:
        where = "The program's table has no range for this report's severity (score it first?)"
    else:
        low, high = bounds
        where = f"{amount} {currency} is outside the range for this severity ({low} to {high} {currency})"
    return f"{where}: add a note saying why this amount. The reporter reads it once the award is approved."


def _not_now(bounty: Bounty, step: str, needs: str) -> str:
    return f"The bounty is “{bounty.get_status_display()}”: it can only be {step} after {needs}."
