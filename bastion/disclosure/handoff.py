"""The hand-off packet and the upstream's progress, as pure values and rules (no database, no I/O).

A packet is what we give an upstream project whose code has the flaw: a Markdown summary a person
reads (redacted: the sections staff chose, the reporter scrubbed out unless they consented) and a
CSAF 2.0 draft (TLP:AMBER, ``tracking.status`` draft) a tool reads. Both are built from the same
opened text (:class:`bastion.reports.services.handoff_events.HandoffText`), so they never disagree
about what was shared. The services (``services/handoff.py``) open the report, seal the packet and
send or export it.

The upstream's status moves forward (notified → acknowledged → fix in progress → fixed →
published), skipping steps when the upstream does; moving back means something went wrong (a fix
that did not hold) and needs a reason.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from bastion.disclosure.content import AdvisoryContent, AffectedPackage, PublicationMeta, PublicCredit
from bastion.disclosure.exports.csaf import build_csaf
from bastion.disclosure.models import HandoffStatus
from bastion.reports.services.handoff_events import HandoffText

# The labels people read for the reports app's SECTIONS (the values the timeline stores).
SECTION_LABELS = {
    "summary": "Summary",
    "reproduction": "Steps to reproduce",
    "versions": "Affected versions we saw",
    "impact": "Impact",
}

STATUS_ORDER = (
    HandoffStatus.NOTIFIED,
    HandoffStatus.ACKNOWLEDGED,
    HandoffStatus.FIX_IN_PROGRESS,
    HandoffStatus.FIXED,
    HandoffStatus.PUBLISHED,
)
# Once the upstream fixed or published, there is nothing left to chase them for.
SETTLED = (HandoffStatus.FIXED, HandoffStatus.PUBLISHED)

# GitHub's advisory IDs: three groups of four from a 20-letter alphabet without look-alikes.
GHSA_ID = re.compile(r"^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$")
CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,19}$")
MAX_REASON = 2000
_url = URLValidator(schemes=["https", "http"])


class HandoffRefused(ValidationError):
    """A hand-off (or an update of one) we will not make; ``field`` names the form field at fault.

    Keyed by field like the reports' own refusals, so a form shows it beside the field. Nothing was
    saved or sent when this is raised.
    """

    def __init__(self, field: str, message: str, *, code: str = "invalid") -> None:
        self.field = field
        self.reason = code
        super().__init__({field: [ValidationError(message, code=code)]})


class StaleHandoff(ValidationError):
    """Someone else updated the hand-off since this form was loaded (HTTP 409). Nothing was saved."""

    def __init__(self, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(
            f"Someone else updated this hand-off while you were editing it (you had version {expected}, "
            f"it is now at version {current}). Nothing was saved: reload the page, check their change, "
            "then make yours again.",
            code="stale_edit",
        )


# --- The packet -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PacketFacts:
    """What the packet says beside the report's text: clear metadata, the embargo, who to contact."""

    project: str
    ecosystem: str = ""
    packages: tuple[str, ...] = ()
    severity: str = ""  # the label, "High"
    cvss_v3: str = ""
    cvss_v4: str = ""
    cwe_id: int | None = None
    embargo_ends_at: datetime | None = None
    deadline: datetime | None = None
    sender_name: str = ""
    reply_to: str = ""
    publisher: str = ""
    # Our policy and our key: where the upstream reads how we disclose, and checks our signature.
    references: tuple[str, ...] = ()
    prepared_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Packet:
    """One hand-off packet: the redacted Markdown summary and the CSAF draft, and what they hold."""

    tracking_id: str
    project: str
    sections: tuple[str, ...]
    identity_shared: bool
    markdown: str = field(repr=False)
    csaf: dict[str, Any] = field(repr=False)

    def csaf_json(self) -> str:
        """The CSAF draft as the file an upstream's tools read (indented, UTF-8, newline-terminated)."""
        return json.dumps(self.csaf, indent=2, ensure_ascii=False) + "\n"

    @property
    def markdown_name(self) -> str:
        """The Markdown file's name: the tracking ID only, never anything from the report's text."""
        return f"{self.tracking_id}-handoff.md"

    @property
    def csaf_name(self) -> str:
        """The CSAF draft's file name."""
        return f"{self.tracking_id}-csaf-draft.json"

    def to_json(self) -> dict[str, Any]:
        """What is sealed on the Handoff row, and read back by :meth:`from_json`."""
        return {
            "tracking_id": self.tracking_id,
            "project": self.project,
            "sections": list(self.sections),
            "identity_shared": self.identity_shared,
            "markdown": self.markdown,
            "csaf": self.csaf,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Packet:
        """The packet sealed by :meth:`to_json`."""
        return cls(
            tracking_id=str(data["tracking_id"]),
            project=str(data["project"]),
            sections=tuple(data.get("sections", ())),
            identity_shared=bool(data.get("identity_shared")),
            markdown=str(data["markdown"]),
            csaf=dict(data["csaf"]),
        )

    def zip_bytes(self, *, at: datetime) -> bytes:
        """A zip of the two files, for an upstream's own channel (HackerOne, GitHub, a CERT).

        The entries are dated ``at`` (the hand-off), so the same packet always zips the same.
        """
        stamp = at.astimezone(UTC).timetuple()[:6]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, text in ((self.markdown_name, self.markdown), (self.csaf_name, self.csaf_json())):
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, text.encode("utf-8"))
        return buffer.getvalue()


def utc_text(moment: datetime) -> str:
    """An instant as the packet states it: UTC, with the zone said, so no reader guesses."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def iso_utc(moment: datetime) -> str:
    """An instant in ISO 8601, UTC, to the second (CSAF's date-time)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def make_packet(text: HandoffText, facts: PacketFacts, sections: tuple[str, ...]) -> Packet:
    """The packet for ``text`` with only ``sections`` in it (they are already cleaned and ordered)."""
    return Packet(
        tracking_id=text.tracking_id,
        project=facts.project,
        sections=sections,
        identity_shared=text.identity_shared,
        markdown=packet_markdown(text, facts, sections),
        csaf=build_csaf(packet_content(text, facts, sections), packet_meta(text, facts)),
    )


def _reporter_line(text: HandoffText) -> str:
    if not text.identity_shared:
        return "not shared: the reporter did not agree to be named. Credit questions go through us."
    names = [text.reporter_name, f"@{text.reporter_handle}" if text.reporter_handle else ""]
    shown = " ".join(name for name in names if name) or "the reporter gave no name"
    return f"{shown}, named with their consent (please credit them as such)."


def packet_markdown(text: HandoffText, facts: PacketFacts, sections: tuple[str, ...]) -> str:
    """The Markdown summary an upstream maintainer reads first."""
    title = text.title if "summary" in sections and text.title else f"Security report {text.tracking_id}"
    packages = f" ({facts.ecosystem}: {', '.join(facts.packages)})" if facts.packages else ""
    embargo = (
        f"until {utc_text(facts.embargo_ends_at)}. Please keep this private until then."
        if facts.embargo_ends_at
        else "none set yet. Please keep this private and agree a disclosure date with us."
    )
    lines = [
        f"# {title}",
        "",
        "**TLP:AMBER**: for the people who need it to fix the flaw, in your organisation only.",
        "",
        f"- **From:** {facts.publisher} security team",
        f"- **Our tracking ID:** {text.tracking_id} (quote it in every reply)",
        f"- **For:** {facts.project}{packages}",
        f"- **Embargo:** {embargo}",
    ]
    if facts.deadline:
        lines.append(f"- **We ask for a fix or a status update by:** {utc_text(facts.deadline)}")
    lines += [
        f"- **Reporter:** {_reporter_line(text)}",
        f"- **Your contact:** {facts.sender_name or 'the security team'}, {facts.reply_to}",
        f"- **Prepared:** {utc_text(facts.prepared_at)}",
    ]
    for section in sections:
        body = _section_text(section, text, facts)
        if body:
            lines += ["", f"## {SECTION_LABELS[section]}", "", body]
    shared = ", ".join(SECTION_LABELS[name].lower() for name in sections)
    lines += [
        "",
        "---",
        "",
        f"This packet holds only what we chose to share ({shared}); ask us for more. "
        "A CSAF 2.0 draft (TLP:AMBER) of the same facts comes with it.",
    ]
    return "\n".join(lines) + "\n"


def _section_text(section: str, text: HandoffText, facts: PacketFacts) -> str:
    if section == "summary":
        return text.description
    if section == "reproduction":
        return text.steps or "_The report gave no steps to reproduce._"
    if section == "versions":
        rows = [("Product", text.product), ("Version", text.version)]
        listed = [f"- **{name}:** {value}" for name, value in rows if value]
        return "\n".join(listed) or "_The report named no product or version._"
    # impact: the reporter's words, then our own assessment (clear metadata, ours to share).
    facts_rows = [
        ("Severity (our assessment)", facts.severity),
        ("CVSS", facts.cvss_v4 or facts.cvss_v3),
        ("CWE", f"CWE-{facts.cwe_id}" if facts.cwe_id else ""),
    ]
    assessed = "\n".join(f"- **{name}:** {value}" for name, value in facts_rows if value)
    return "\n\n".join(part for part in (text.impact, assessed) if part)


def packet_content(text: HandoffText, facts: PacketFacts, sections: tuple[str, ...]) -> AdvisoryContent:
    """The advisory content the CSAF draft states: the shared sections only, nothing else."""
    described = []
    if "reproduction" in sections and text.steps:
        described.append(f"Steps to reproduce:\n\n{text.steps}")
    if "impact" in sections and text.impact:
        described.append(f"Impact:\n\n{text.impact}")
    single = facts.packages[0] if len(facts.packages) == 1 and facts.ecosystem else ""
    affected = AffectedPackage(
        product=single or facts.project,
        vendor=facts.project,
        ecosystem=facts.ecosystem if single else "",
        package=single,
        affected_versions=text.version if "versions" in sections else "",
    )
    impact = "impact" in sections
    return AdvisoryContent(
        title=text.title if "summary" in sections and text.title else f"Security report {text.tracking_id}",
        summary=text.description if "summary" in sections else "",
        description="\n\n".join(described),
        affected=(affected,),
        cvss_v3=facts.cvss_v3 if impact else "",
        cvss_v4=facts.cvss_v4 if impact else "",
        cwe_id=facts.cwe_id if impact else None,
        references=facts.references,
    )


def packet_meta(text: HandoffText, facts: PacketFacts) -> PublicationMeta:
    """The CSAF draft's tracking: our tracking ID, now, draft, TLP:AMBER; the reporter credited if named."""
    now = iso_utc(facts.prepared_at)
    credits: tuple[PublicCredit, ...] = ()
    name = text.reporter_name or text.reporter_handle
    if text.identity_shared and name:
        credits = (PublicCredit(name=name, credit_type="finder"),)
    return PublicationMeta(
        identifier=text.tracking_id,
        initial_release=now,
        current_release=now,
        credits=credits,
        status="draft",
        tlp="AMBER",
    )


# --- The upstream's progress ---------------------------------------------------------------------


def check_status_move(current: str, new: str, reason: str) -> None:
    """HandoffRefused if moving from ``current`` back to ``new`` comes without a reason."""
    order = [status.value for status in STATUS_ORDER]
    if new not in order:
        raise HandoffRefused("status", "Choose one of the listed statuses.")
    if order.index(new) < order.index(current) and not reason.strip():
        raise HandoffRefused(
            "reason",
            f"Moving the upstream back from {HandoffStatus(current).label.lower()} to "
            f"{HandoffStatus(new).label.lower()} needs a reason (say what happened, e.g. the fix did "
            "not hold). It is kept as an internal note on the report.",
            code="reason_required",
        )
    if len(reason) > MAX_REASON:
        raise HandoffRefused("reason", f"Keep the reason under {MAX_REASON:,} characters.", code="too_long")


def clean_ghsa_id(value: str) -> str:
    """A GitHub advisory ID in its canonical case (``GHSA-xxxx-xxxx-xxxx``), or "" for none."""
    text = value.strip()
    if not text:
        return ""
    canonical = "GHSA" + text[4:].lower() if text[:4].upper() == "GHSA" else text
    if not GHSA_ID.fullmatch(canonical):
        raise HandoffRefused(
            "ghsa_id",
            "A GHSA ID looks like GHSA-j8r2-6x86-q33q: three groups of four letters and digits "
            "(from 23456789cfghjmpqrvwx). Copy it from the upstream's advisory page.",
        )
    return canonical


def clean_cve_id(value: str) -> str:
    """A CVE ID in its canonical case (``CVE-2026-12345``), or "" for none."""
    text = value.strip().upper()
    if not text:
        return ""
    if not CVE_ID.fullmatch(text):
        raise HandoffRefused(
            "cve_id", "A CVE ID looks like CVE-2026-12345: CVE, the year, then four or more digits."
        )
    return text


def clean_url(value: str, *, field: str) -> str:
    """An http(s) URL, or "" for none; HandoffRefused naming ``field`` otherwise."""
    text = value.strip()
    if not text:
        return ""
    try:
        _url(text)
    except ValidationError:
        raise HandoffRefused(field, "Give a full web address starting with https://.") from None
    if len(text) > 500:
        raise HandoffRefused(field, "This address is over 500 characters; give a shorter one.")
    return text
