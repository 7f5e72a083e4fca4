"""The embargo panel on the report page, its forms, and the break-glass page.

The end is shown on the viewer's wall clock (their profile's zone) with the UTC instant beside
it, and typed the same way: a date and time *and* the zone they are in, so "14:00" never means two
things. Parties that have not acknowledged the current end are flagged. The embargo's reason and
break-glass reasons are opened here as part of the page's one audited read (``open_report``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from bastion.accounts.models import User, time_zone_names
from bastion.accounts.permissions import is_admin
from bastion.lib.when import YEAR_REFUSAL, as_read_in, plausible_year, zone_named
from bastion.reports.access import holds_grant
from bastion.reports.embargo_tasks import utc_text
from bastion.reports.models import AccessGrant, Embargo, GrantKind, PartyKind, Report
from bastion.reports.services.embargo import (
    MIN_BREAK_GLASS_REASON,
    EmbargoState,
    embargo_state,
    opened_embargo_reason,
    opened_grant_reasons,
)
from bastion.triage.forms import PageForm

PANEL = "embargo"
REASON_ROWS = 3
# Accepted spellings of a wall-clock time: what <input type="datetime-local"> sends, and by hand.
_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def wall_clock_instant(text: str, zone_name: str) -> datetime:
    """The UTC instant the wall-clock ``text`` names in zone ``zone_name``; ValidationError if none.

    A time the clocks skip (spring forward) does not exist, and one they pass twice (fall back)
    is ambiguous: both are refused with a message saying so, rather than guessed.
    """
    naive = None
    for layout in _FORMATS:
        try:
            naive = datetime.strptime(text.strip(), layout)
            break
        except ValueError:
            continue
    if naive is None:
        raise forms.ValidationError("Give a date and time, like 2027-03-14 16:00.", code="invalid")
    if not plausible_year(naive.year):
        raise forms.ValidationError(YEAR_REFUSAL, code="invalid")
    zone = ZoneInfo(zone_name)
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    # A skipped time does not survive the round trip through UTC; a repeated one has two offsets.
    back = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != naive:
        raise forms.ValidationError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone_name} (the clocks go forward): "
            "pick another time.",
            code="nonexistent",
        )
    if early.utcoffset() != late.utcoffset():
        raise forms.ValidationError(
            f"{naive:%Y-%m-%d %H:%M} happens twice in {zone_name} (the clocks go back): give it in UTC.",
            code="ambiguous",
        )
    return early.astimezone(UTC)


class EndForm(PageForm):
    """An end instant as a person types it: a wall-clock time and the zone it is read in."""

    ends_at = forms.CharField(
        label="Ends at",
        max_length=32,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        error_messages={"required": "Give the date and time the embargo ends."},
    )
    time_zone = forms.ChoiceField(
        label="In time zone", help_text="Stored as a UTC instant; shown to each reader in theirs."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zones = self.fields["time_zone"]
        assert isinstance(zones, forms.ChoiceField)
        zones.choices = [(name, name) for name in time_zone_names()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("ends_at") and cleaned.get("time_zone"):
            try:
                cleaned["ends_at_utc"] = wall_clock_instant(cleaned["ends_at"], cleaned["time_zone"])
            except forms.ValidationError as error:
                self.add_error("ends_at", error)
        return cleaned


def _reason_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        widget=forms.Textarea(attrs={"rows": REASON_ROWS}),
        help_text=help_text,
        error_messages={"required": "Give the reason."},
    )


class SetEmbargoForm(EndForm):
    """Put the report under embargo: when it ends, and why."""

    id_prefix = "embargo_set"
    reason = _reason_field(
        "Reason", "Staff only, sealed with the report: why until then (fix date, upstream)."
    )


class MoveEmbargoForm(EndForm):
    """Move the end: the new instant, why, and the version the editor saw."""

    id_prefix = "embargo_move"
    reason = _reason_field(
        "Reason", "Replaces the embargo's reason; the move and this reason stay as an internal note."
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class LiftEmbargoForm(PageForm):
    """End the embargo now, and why."""

    id_prefix = "embargo_lift"
    reason = _reason_field(
        "Why lift it now", "Kept as an internal note. The parties are told it no longer binds them."
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class PartyForm(PageForm):
    """Bind an upstream project or an internal team to the embargo."""

    id_prefix = "embargo_party"
    kind = forms.ChoiceField(
        label="Party",
        choices=[(PartyKind.UPSTREAM.value, "Upstream project"), (PartyKind.INTERNAL.value, "Internal team")],
    )
    label = forms.CharField(label="Name", max_length=200, help_text="e.g. Rails security team")
    email = forms.CharField(
        label="Email",
        required=False,
        max_length=254,
        help_text="Optional: where notices and reminders go. Without one, record their acknowledgement here.",
    )


class StaffChoiceField(forms.ModelChoiceField[User]):
    """A staff member, shown by name and address (the address alone reads poorly in a list)."""

    def label_from_instance(self, obj: User) -> str:
        return f"{obj.get_full_name()} <{obj.email}>" if obj.full_name else obj.email


class GrantForm(PageForm):
    """Let another triager or admin see the report while it is embargoed."""

    id_prefix = "embargo_grant"
    user = StaffChoiceField(
        label="Grant access to",
        queryset=User.objects.none(),
        error_messages={"invalid_choice": "Choose an active triager or admin who is not granted yet."},
    )

    def __init__(self, *args: Any, report: Report | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        granted = AccessGrant.objects.in_force().filter(report=report, kind=GrantKind.GRANT).values("user")
        field = self.fields["user"]
        assert isinstance(field, StaffChoiceField)
        field.queryset = User.objects.assignable().exclude(pk__in=granted).order_by("full_name", "email")


class BreakGlassForm(PageForm):
    """Why someone not granted must look at an embargoed report now."""

    id_prefix = "break_glass"
    reason = forms.CharField(
        label="Why must you see it now?",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            f"At least {MIN_BREAK_GLASS_REASON} characters. Sealed with the report, read by those granted "
            "on it; the security lead and the embargo's setter are told you looked."
        ),
        error_messages={"required": "Give the reason: breaking the glass always has one."},
    )


@dataclass(frozen=True)
class GrantRow:
    """One grant in force, with its break-glass reason opened (empty for a plain grant)."""

    grant: AccessGrant
    reason: str
    expires: str


@dataclass
class EmbargoPanel:
    """What ``triage/panels/embargo.html`` draws."""

    state: EmbargoState | None
    zone: str
    ends_local: str = ""
    ends_utc: str = ""
    ends_iso: str = ""
    reason: str = ""
    can_manage: bool = False  # may move, lift, add parties, record acknowledgements, grant, revoke
    grants: list[GrantRow] = field(default_factory=list)
    forms: dict[str, forms.Form] = field(default_factory=dict)

    @property
    def embargo(self) -> Embargo | None:
        """The embargo, running or not; None if the report never had one."""
        return self.state.embargo if self.state is not None else None


def _zone(request: HttpRequest) -> str:
    return zone_named(getattr(request.user, "time_zone", "") or "UTC")[1]


def context(request: HttpRequest, report: Report, bound: Mapping[str, forms.Form]) -> dict[str, Any]:
    """Context for ``triage/panels/embargo.html``: ``embargo_panel``."""
    user = request.user
    zone = _zone(request)
    state = embargo_state(report)
    panel = EmbargoPanel(state=state, zone=zone)
    initial = {"time_zone": zone}
    # Setting needs only the sight of the report; anything else, a plain grant or the admin role.
    panel.can_manage = is_admin(user) or holds_grant(user, report)
    if state is None or not state.is_running:
        panel.forms["set"] = SetEmbargoForm(initial=initial)
    if state is None:
        _keep_bound(panel, bound)
        return {"embargo_panel": panel}
    embargo = state.embargo
    panel.ends_local = as_read_in(embargo.ends_at, zone)
    panel.ends_utc = utc_text(embargo.ends_at)
    panel.ends_iso = embargo.ends_at.isoformat()
    panel.reason = opened_embargo_reason(embargo=embargo, actor=user)
    reasons = opened_grant_reasons(report=report, grants=state.grants, actor=user)
    panel.grants = [
        GrantRow(
            grant=grant,
            reason=reasons.get(grant.pk, ""),
            expires=as_read_in(grant.expires_at, zone) if grant.expires_at else "",
        )
        for grant in state.grants
    ]
    if state.is_running and panel.can_manage:
        local = embargo.ends_at.astimezone(ZoneInfo(zone))
        move_initial = {**initial, "ends_at": f"{local:%Y-%m-%dT%H:%M}", "version": embargo.version}
        panel.forms["move"] = MoveEmbargoForm(initial=move_initial)
        panel.forms["party"] = PartyForm()
        panel.forms["lift"] = LiftEmbargoForm(initial={"version": embargo.version})
    if panel.can_manage:
        panel.forms["grant"] = GrantForm(report=report)
    _keep_bound(panel, bound)
    return {"embargo_panel": panel}


def _keep_bound(panel: EmbargoPanel, bound: Mapping[str, forms.Form]) -> None:
    """Show a refused form with its errors and text, even where the state no longer offers it
    (someone lifted the embargo while this move was being typed): the refusal says why.
    """
    for name in ("set", "move", "party", "lift", "grant"):
        if f"{PANEL}_{name}" in bound:
            panel.forms[name] = bound[f"{PANEL}_{name}"]


def break_glass_page(
    request: HttpRequest, report: Report, *, form: BreakGlassForm | None = None, status: int = 200
) -> HttpResponse:
    """The break-glass form for ``report``, which ``request.user`` may not see: clear metadata only.

    Also the answer (404) to a triager or admin who opens such a report's page: it does not exist
    *for them*, and this is how they may still get in.
    """
    embargo = Embargo.objects.select_related("set_by").get(report=report)
    zone = _zone(request)
    context = {
        "report": report,
        "form": form or BreakGlassForm(),
        "hours": settings.BREAK_GLASS_HOURS,
        "ends_local": as_read_in(embargo.ends_at, zone),
        "ends_utc": utc_text(embargo.ends_at),
        "setter": embargo.set_by,
        "now": timezone.now(),
    }
    return render(request, "triage/break_glass.html", context, status=status)
