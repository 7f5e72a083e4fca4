"""The bounty panel on the report page: eligibility, the suggested range, the award and its history.

Shown only for reports whose program offers bounties. It offers only the steps the viewer may take
now (the service checks them again when the post arrives: the page may be stale by then): decline
when an answer is no, propose when every answer is yes, approve when someone else proposed (and,
above the threshold, only to an admin), mark paid once approved.

The award's note is opened here as part of the report page's audited read (``open_report`` has
just recorded it), like the emails' envelopes are; nothing more is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from django import forms
from django.http import HttpRequest

from bastion.accounts.models import User
from bastion.accounts.permissions import is_admin
from bastion.reports.clocks import program_for
from bastion.reports.models import Bounty, BountyStatus, Program, Report
from bastion.reports.sealing import open_field
from bastion.reports.services.bounty import CRITERIA, SETTLED, needs_admin, suggested_range
from bastion.triage.bounty_forms import DecisionForm, DeclineForm, EligibilityForm, ProposeForm, answer_value

FormT = TypeVar("FormT", bound=forms.Form)


@dataclass
class BountyPanel:
    """What ``triage/panels/bounty.html`` draws. Forms are bound ones coming back with errors, or blank."""

    bounty: Bounty
    program: Program
    range: tuple[Decimal, Decimal] | None
    answers: list[tuple[str, bool | None]]
    eligibility_form: EligibilityForm
    decline_form: DeclineForm | None
    propose_form: ProposeForm | None
    decision_form: DecisionForm
    can_approve: bool
    cannot_approve: str
    can_pay: bool
    needs_admin: bool
    note: str | None = field(repr=False)
    paid_by: str
    # A refused post whose form is no longer offered (the page was stale): its errors, shown on top.
    stray_errors: list[str] = field(default_factory=list)


def context(request: HttpRequest, report: Report, bound: Mapping[str, forms.Form]) -> dict[str, Any]:
    """Context for ``triage/panels/bounty.html``: ``bounty_panel``, None when the program pays no bounties.

    ``bounty_refusal`` then holds the errors of a refused post, if any, for the page to show.
    """
    program = program_for(report)
    # Read only: the row is made by the first decision, not by looking at the page.
    bounty = (
        Bounty.objects.filter(report=report).select_related("proposed_by", "approved_by", "paid_by").first()
    )
    posted = bound.get("bounty")
    if bounty is None:
        if not program.offers_bounty:
            # No panel; but a refused post (the report left the bounty program meanwhile) is explained.
            return {"bounty_panel": None, "bounty_refusal": _errors(posted)}
        bounty = Bounty(report=report)
    version = {"version": bounty.version}
    answers = {name: getattr(bounty, name) for name in CRITERIA}
    settled = bounty.status in SETTLED
    all_yes = all(value is True for value in answers.values())
    any_no = any(value is False for value in answers.values())
    admin_needed = bounty.status == BountyStatus.PROPOSED and needs_admin(bounty, program)
    panel = BountyPanel(
        bounty=bounty,
        program=program,
        range=suggested_range(report),
        answers=[(CRITERIA[name], value) for name, value in answers.items()],
        eligibility_form=_pick(
            posted, EligibilityForm, {**{n: answer_value(v) for n, v in answers.items()}, **version}
        ),
        decline_form=_pick(posted, DeclineForm, version) if any_no and not settled else None,
        propose_form=_pick(posted, ProposeForm, _proposal_initial(bounty, program))
        if all_yes and not settled
        else None,
        decision_form=_pick(posted, DecisionForm, version),
        can_approve=False,
        cannot_approve="",
        can_pay=bounty.status == BountyStatus.APPROVED,
        needs_admin=admin_needed,
        note=open_field(bounty, "note", key=report.data_key_plain()) if bounty.pk else None,
        paid_by=_name(bounty.paid_by) if bounty.status == BountyStatus.PAID else "",
    )
    if bounty.status == BountyStatus.PROPOSED:
        if bounty.proposed_by_id == request.user.pk:
            panel.cannot_approve = "You proposed this award: someone else must approve it."
        elif admin_needed and not is_admin(request.user):
            panel.cannot_approve = "Above the approval threshold: an admin must approve this award."
        else:
            panel.can_approve = True
    shown: list[forms.Form | None] = [panel.eligibility_form, panel.decline_form, panel.propose_form]
    if panel.can_pay or panel.can_approve:
        shown.append(panel.decision_form)
    if posted is not None and posted.errors and not any(form is posted for form in shown):
        panel.stray_errors = _errors(posted)
    return {"bounty_panel": panel}


def _errors(form: forms.Form | None) -> list[str]:
    """Every error message of ``form`` (none for no form)."""
    if form is None:
        return []
    return [str(message) for problems in form.errors.values() for message in problems]


def _pick(posted: forms.Form | None, form_class: type[FormT], initial: dict[str, Any]) -> FormT:
    """The posted form if it is of this kind (it came back with errors), else a blank one."""
    if isinstance(posted, form_class):
        return posted
    return form_class(initial=initial)


def _proposal_initial(bounty: Bounty, program: Program) -> dict[str, Any]:
    return {
        "amount": bounty.amount,
        "currency": bounty.currency or program.currency,
        "version": bounty.version,
    }


def _name(user: User | None) -> str:
    return (user.full_name or user.email) if user is not None else ""
