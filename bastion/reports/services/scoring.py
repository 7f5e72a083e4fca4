"""Scoring and classifying a report: CVSS vectors, severity, CWE, asset and labels, in one audited edit.

Severity follows the score unless staff say otherwise, and saying otherwise takes a reason: the
reason is what a reporter disputing their bounty, or a lead reading the metrics, will want to see.
It is sealed under the report's key like everything else a person writes about a report; the
timeline and the audit log say only *that* the severity was overridden, never why.

With both vectors set, the score (and so the severity) is the CVSS 4.0 one: 4.0 is the current
standard, its single score already takes threat and environmental metrics into account, and it
rates cases 3.1 scores alike (e.g. attack requirements, subsequent-system impact) apart. The 3.1
vector is kept alongside because bounty programs and trackers still ask for it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from django.core.validators import slug_re
from django.db import transaction
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports import clocks
from bastion.reports.cwe import clean_cwe
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Asset, Label, Report, Severity, TimelineKind
from bastion.reports.scoring import score_v3, score_v4
from bastion.reports.sealing import open_field, seal_field
from bastion.reports.services._shared import add_timeline, clean_text, require_staff_reader
from bastion.reports.services.casework import bump_version, locked_and_checked

MAX_REASON = 2000
MAX_LABELS = 20
MAX_LABEL_LENGTH = 40  # Label.name


class Unchanged(enum.Enum):
    """The type of :data:`UNCHANGED`: "leave this as it is", as opposed to ``None`` ("clear it")."""

    UNCHANGED = "unchanged"


UNCHANGED: Final = Unchanged.UNCHANGED


@dataclass(frozen=True)
class _Asked:
    """What the caller asked for, validated (each field UNCHANGED, or the clean new value)."""

    cvss_v3: str | Unchanged
    cvss_v4: str | Unchanged
    cwe_id: int | Unchanged | None
    severity: Severity | Unchanged | None
    reason: str | None
    asset: Asset | Unchanged | None
    labels: list[str] | Unchanged


def classify_report(
    *,
    report: Report,
    actor: ActorArg,
    cvss_v3: str | Unchanged = UNCHANGED,
    cvss_v4: str | Unchanged = UNCHANGED,
    cwe_id: int | str | Unchanged | None = UNCHANGED,
    severity: Severity | str | Unchanged | None = UNCHANGED,
    severity_reason: str | Unchanged | None = UNCHANGED,
    asset: Asset | Unchanged | None = UNCHANGED,
    labels: Iterable[str] | Unchanged = UNCHANGED,
    expected_version: int | None = None,
    ip: str | None = None,
) -> Report:
    """Score and classify ``report``; triagers and admins only. Returns ``report``, updated.

    Every argument left at ``UNCHANGED`` stays as it is. ``""`` clears a vector; ``None`` clears the
    CWE or the asset. ``labels`` is the full new set of label names (an unknown name is created).
    ``severity=None`` (or ``""``) makes the severity follow the score again; a severity that differs
    from the score's is an override and needs ``severity_reason`` (sealed), unless it is the
    override already in place, which keeps its reason. Everything is validated before anything is
    written (ReportRejected naming the field); then the row is locked and its version checked
    (StaleEdit when ``expected_version`` is not current), so nothing is overwritten silently.
    A save that changes nothing writes nothing (not even a new version).
    """
    require_staff_reader(actor)
    asked = _validated(
        cvss_v3=cvss_v3,
        cvss_v4=cvss_v4,
        cwe_id=cwe_id,
        severity=severity,
        severity_reason=severity_reason,
        asset=asset,
        labels=labels,
        current_asset_id=report.asset_id,
    )
    with transaction.atomic():
        return _apply(report, asked, actor=actor, expected_version=expected_version, ip=ip)


def _apply(
    report: Report, asked: _Asked, *, actor: ActorArg, expected_version: int | None, ip: str | None
) -> Report:
    """The write itself, inside the caller's transaction: lock, compare, store, describe, audit."""
    locked = locked_and_checked(report, expected_version=expected_version)
    updates = _updates(locked, asked)
    label_names = _label_change(locked, asked.labels)
    changed = sorted({*updates, *(["labels"] if label_names is not None else [])})
    if not changed:
        return report  # nothing to save: no new version, so no one else's open form turns stale
    bump_version(locked, report)
    if "severity_reason" in updates:
        key = locked.data_key_plain()
        updates["severity_reason"] = seal_field(
            locked, "severity_reason", updates["severity_reason"], key=key
        )
    if updates:
        Report.objects.filter(pk=locked.pk).update(**updates)
    for name, value in updates.items():
        setattr(locked, name, value)
        setattr(report, name, value)
    if label_names is not None:
        locked.labels.set(_labels_named(label_names))
    data = _described(locked, changed, label_names)
    add_timeline(locked, TimelineKind.CLASSIFIED, public=False, **data)
    record(event=Event.REPORT_CLASSIFIED, actor=actor, target=locked, data=data, ip=ip)
    if "asset_id" in updates or "asset" in updates:
        # Another asset may mean another program, whose targets then apply (severity included).
        clocks.on_program_change(locked, at=timezone.now())
    elif "severity" in updates:
        clocks.on_severity_change(locked, at=timezone.now())
    return report


def opened_severity_reason(*, report: Report, actor: ActorArg) -> str | None:
    """Why staff overrode ``report``'s severity (None: not overridden, or no reason kept).

    Not audited on its own: it is shown on the report page, whose opening ``open_report`` records
    as the read of the report's content. Call it only alongside that read.
    """
    require_staff_reader(actor)
    if not report.severity_overridden:
        return None
    return open_field(report, "severity_reason", key=report.data_key_plain())


# --- Validation (before anything is written) ------------------------------------------------------


def _validated(
    *,
    cvss_v3: str | Unchanged,
    cvss_v4: str | Unchanged,
    cwe_id: int | str | Unchanged | None,
    severity: Severity | str | Unchanged | None,
    severity_reason: str | Unchanged | None,
    asset: Asset | Unchanged | None,
    labels: Iterable[str] | Unchanged,
    current_asset_id: int | None,
) -> _Asked:
    reason = None
    if not isinstance(severity_reason, Unchanged) and severity_reason is not None:
        reason = clean_text(severity_reason, field="severity_reason", max_length=MAX_REASON) or None
    return _Asked(
        cvss_v3=cvss_v3 if isinstance(cvss_v3, Unchanged) else _vector(cvss_v3, version=3),
        cvss_v4=cvss_v4 if isinstance(cvss_v4, Unchanged) else _vector(cvss_v4, version=4),
        cwe_id=cwe_id if isinstance(cwe_id, Unchanged) else clean_cwe(cwe_id),
        severity=severity if isinstance(severity, Unchanged) else _severity(severity),
        reason=reason,
        asset=asset if isinstance(asset, Unchanged) else _asset(asset, current_asset_id),
        labels=labels if isinstance(labels, Unchanged) else clean_labels(labels),
    )


def _vector(value: str, *, version: int) -> str:
    if not (value or "").strip():
        return ""
    return (score_v4(value) if version == 4 else score_v3(value)).vector


def _severity(value: Severity | str | None) -> Severity | None:
    if value is None or value == "":
        return None
    if value not in Severity.values:
        choices = ", ".join(Severity.values)
        raise ReportRejected("severity", f'"{value}" is not a severity. Choose one of: {choices}.')
    return Severity(value)


def _asset(asset: Asset | None, current_asset_id: int | None) -> Asset | None:
    # An archived asset keeps the reports already filed under it, but takes no new ones.
    if asset is not None and asset.archived and asset.pk != current_asset_id:
        raise ReportRejected(
            "asset", f"{asset.name} is archived: file the report under a current asset, or none."
        )
    return asset


def clean_labels(names: Iterable[str]) -> list[str]:
    """Label names as they will be stored: lower case, no duplicates, sorted; ReportRejected if bad.

    A label is a slug (letters, digits, hyphens, underscores; at most 40), so it reads the same in
    a URL filter and in the inbox. Lower case, so "Payments" and "payments" are one label.
    """
    if isinstance(names, str):
        raise TypeError("labels is an iterable of names, not one string")
    cleaned = sorted({str(name).strip().lower() for name in names if str(name).strip()})
    for name in cleaned:
        if len(name) > MAX_LABEL_LENGTH or not slug_re.fullmatch(name):
            shown = name if len(name) <= MAX_LABEL_LENGTH else name[:MAX_LABEL_LENGTH] + "…"
            raise ReportRejected(
                "labels",
                f'"{shown}" cannot be a label: use letters, digits, hyphens and underscores only, '
                f"at most {MAX_LABEL_LENGTH} characters (for example needs-poc).",
            )
    if len(cleaned) > MAX_LABELS:
        raise ReportRejected("labels", f"A report takes at most {MAX_LABELS} labels; this is {len(cleaned)}.")
    return cleaned


# --- Working out the change (inside the lock, against the row as it is now) -----------------------


def _updates(report: Report, asked: _Asked) -> dict[str, Any]:
    """The columns to write: only those whose value changes."""
    new: dict[str, Any] = {}
    v3 = report.cvss_v3 if isinstance(asked.cvss_v3, Unchanged) else asked.cvss_v3
    v4 = report.cvss_v4 if isinstance(asked.cvss_v4, Unchanged) else asked.cvss_v4
    scored = score_v4(v4) if v4 else score_v3(v3) if v3 else None
    new["cvss_v3"], new["cvss_v4"] = v3, v4
    new["cvss_score"] = scored.score if scored else None
    if not isinstance(asked.cwe_id, Unchanged):
        new["cwe_id"] = asked.cwe_id
    if not isinstance(asked.asset, Unchanged):
        new["asset"] = asked.asset
    new.update(_severity_updates(report, asked, scored.severity if scored else ""))
    return {name: value for name, value in new.items() if _differs(getattr(report, name), value, name)}


def _severity_updates(report: Report, asked: _Asked, from_score: str) -> dict[str, Any]:
    wanted = asked.severity
    if isinstance(wanted, Unchanged):
        if report.severity_overridden:
            # An override stands until staff lift it; a new reason may restate why.
            return {} if asked.reason is None else {"severity_reason": asked.reason}
        return {"severity": from_score}
    if wanted is None or wanted == from_score:
        return {"severity": from_score, "severity_overridden": False, "severity_reason": None}
    keeps_override = report.severity_overridden and report.severity == wanted
    if asked.reason is None and not keeps_override:
        shown = Severity(from_score).label.lower() if from_score else "no severity (there is no CVSS vector)"
        raise ReportRejected(
            "severity_reason",
            f"The score gives {shown}; say why this report is {wanted.label.lower()} instead.",
            code="reason_required",
        )
    updates: dict[str, Any] = {"severity": wanted, "severity_overridden": True}
    if asked.reason is not None:
        updates["severity_reason"] = asked.reason
    return updates


def _differs(old: Any, new: Any, name: str) -> bool:
    if name == "severity_reason":
        return new is not None or old is not None  # a sealed value never compares equal; a new one is new
    if name == "cvss_score" and old is not None and new is not None:
        return Decimal(old) != Decimal(new)
    return bool(old != new)


def _label_change(report: Report, names: list[str] | Unchanged) -> list[str] | None:
    """The new label names, or None when the set stays as it is."""
    if isinstance(names, Unchanged):
        return None
    current = sorted(report.labels.values_list("name", flat=True))
    return None if current == names else names


def _labels_named(names: list[str]) -> list[Label]:
    # get_or_create: two staff adding the same new label at once both end up with the one row
    # (the unique name makes the loser's INSERT fail, and get_or_create then reads the winner's).
    return [Label.objects.get_or_create(name=name)[0] for name in names]


def _described(report: Report, changed: list[str], labels: list[str] | None) -> dict[str, Any]:
    """What the timeline and audit row say: which fields changed, and the new metadata (never the reason)."""
    data: dict[str, Any] = {"fields": changed}
    for name in ("cvss_v3", "cvss_v4", "cwe_id", "severity_overridden"):
        if name in changed:
            data[name] = getattr(report, name)
    if "severity" in changed:
        data["severity"] = str(report.severity)
    if "cvss_score" in changed:
        data["cvss_score"] = None if report.cvss_score is None else str(report.cvss_score)
    if "asset" in changed:
        data["asset"] = report.asset_id
    if labels is not None:
        data["labels"] = labels
    return data
