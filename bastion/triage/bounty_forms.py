"""The bounty panel's forms: eligibility, decline, propose, and the approve / paid buttons.

They only shape input. Every rule (the order of steps, four eyes, the admin threshold, a note for
an amount outside the table) lives in ``reports.services.bounty``, whose refusals the views put
back beside the field. Each form carries ``version``, the bounty's version when the page was
drawn: a decision made by someone else meanwhile makes this one stale, and nothing is saved.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from bastion.triage.forms import PageForm

# A tri-state answer: not assessed yet, yes, no. The select posts strings; the form gives None/True/False.
ANSWERS = [("", "Not assessed"), ("yes", "Yes"), ("no", "No")]
_ANSWER_VALUES = {"": None, "yes": True, "no": False}


def answer_value(value: bool | None) -> str:
    """The select's value for a stored answer."""
    return "" if value is None else ("yes" if value else "no")


def _answer(label: str, help_text: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=ANSWERS,
        coerce=lambda value: _ANSWER_VALUES[value],
        empty_value=None,
        required=False,
        help_text=help_text,
    )


class BountyForm(PageForm):
    """What every bounty form carries: the bounty's version when the page was drawn."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class EligibilityForm(BountyForm):
    """The three eligibility answers, each yes, no or not assessed yet."""

    id_prefix = "bounty_eligibility"

    in_scope = _answer("In scope", "The asset and the kind of issue are covered by the program.")
    first_to_report = _answer("First to report", "No earlier report of the same issue (see duplicates).")
    policy_followed = _answer("Policy followed", "Tested within the rules: no data taken, no harm done.")

    def answers(self) -> dict[str, Any]:
        """The cleaned answers, as the service takes them."""
        return {name: self.cleaned_data[name] for name in ("in_scope", "first_to_report", "policy_followed")}


class DeclineForm(BountyForm):
    """Not eligible: the reason, which the reporter reads (posted to them as a reply)."""

    id_prefix = "bounty_decline"

    note = forms.CharField(
        label="Why not (sent to the reporter)",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Markdown. Posted to the reporter at once, with the criteria answered “no”.",
        error_messages={"required": "Tell the reporter why the report earns no bounty."},
    )


class ProposeForm(BountyForm):
    """An award proposal: amount, currency (the program's by default) and an optional note."""

    id_prefix = "bounty_propose"

    # Loose on purpose: sign, decimals and range are the service's rules, stated in its words.
    amount = forms.DecimalField(
        label="Amount",
        min_value=Decimal("0.01"),
        error_messages={"invalid": "Give the amount as a number, such as 500 or 1250.50."},
    )
    currency = forms.CharField(label="Currency", max_length=3, min_length=3)
    note = forms.CharField(
        label="Note to the reporter",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent once the award is approved. Required for an amount outside the suggested range.",
    )


class DecisionForm(BountyForm):
    """A button that moves the award one step (approve, mark paid): only the version is posted."""

    id_prefix = "bounty_decision"
