"""Handing a report to an upstream project, and following the upstream until it is fixed.

``send_handoff`` mails the packet PGP/MIME, encrypted to the upstream's key and signed by the org
key, through the worker (the task gets the Handoff's id; it opens the sealed packet itself).
``export_handoff`` gives staff the same packet as a zip (Markdown summary and CSAF draft) to hand
in on the upstream's own channel: HackerOne, GitHub private vulnerability reporting, a CERT.
Either way the Handoff row records what went (sections, whether the reporter's identity went),
the reporter's timeline says so, and the upstream joins the report's embargo as a party.

Every packet is built by opening the report, which is a staff read audited by ``open_report``;
only staff who may see the report (``reports.access.may_see``: an embargo narrows that to the
staff granted on it) may hand it over or follow it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from bastion.accounts.models import User
from bastion.accounts.permissions import is_admin, is_triager
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.disclosure.handoff import (
    HandoffRefused,
    Packet,
    PacketFacts,
    StaleHandoff,
    check_status_move,
    clean_cve_id,
    clean_ghsa_id,
    clean_url,
    make_packet,
)
from bastion.disclosure.handoff_tasks import email_handoff
from bastion.disclosure.models import Channel, Handoff, HandoffStatus, UpstreamContact
from bastion.lib.openpgp import KeyRejected, RejectReason, parse_public_key
from bastion.reports.access import holds_grant, may_see
from bastion.reports.models import Embargo, PartyKind, Report
from bastion.reports.sealing import open_json, seal_json
from bastion.reports.services import post_message
from bastion.reports.services.embargo import add_party
from bastion.reports.services.handoff_events import (
    clean_sections,
    note_forwarded_upstream,
    note_upstream_status,
    open_for_handoff,
)
from bastion.worker.queue import enqueue_on_commit

ZIP_TYPE = "application/zip"


@dataclass(frozen=True)
class HandoffExport:
    """A packet to download: the Handoff it belongs to, the file's name and its bytes."""

    handoff: Handoff
    filename: str
    content: bytes = field(repr=False)
    content_type: str = ZIP_TYPE


# --- Who may --------------------------------------------------------------------------------------


def _staff_on(actor: ActorArg, report: Report) -> User:
    """``actor`` as a staff member who may see ``report``; PermissionDenied otherwise."""
    if not (isinstance(actor, User) and is_triager(actor)):
        raise PermissionDenied("Only triagers and admins hand reports to upstream projects.")
    if not may_see(actor, report):
        raise PermissionDenied("You may not see this report (it is under embargo and you hold no grant).")
    return actor


def _may_hand_over(user: User, report: Report) -> None:
    """Under a running embargo, only those who may bind parties to it hand the report over: staff
    granted on it, or an admin. Who broke the glass came to look, not to widen the circle."""
    if running_embargo(report) is not None and not (is_admin(user) or holds_grant(user, report)):
        raise PermissionDenied(
            "This report is under embargo: only staff granted on it, or an admin, may hand it to an "
            "upstream project (which then joins the embargo). Ask one of them for a grant."
        )


def report_of_handoff(uid: uuid.UUID) -> Report | None:
    """The report handed off as ``uid`` by mail (our hand-off mail's Message-ID names it), if any.

    Only a hand-off that was mailed can be answered by mail: one exported for HackerOne or GitHub
    never sent that Message-ID, so a reply naming it is not the upstream's.
    """
    mailed = Handoff.objects.filter(uid=uid, channel=Channel.EMAIL, sent_at__isnull=False)
    handoff = mailed.select_related("report").first()
    return handoff.report if handoff is not None else None


def handoffs_of(report: Report) -> list[Handoff]:
    """``report``'s hand-offs, newest first, with their contacts (clear metadata only)."""
    return list(Handoff.objects.filter(report=report).select_related("contact", "created_by"))


def running_embargo(report: Report) -> Embargo | None:
    """The report's embargo if it is in force now."""
    return Embargo.objects.running().filter(report=report).first()


# --- The packet -----------------------------------------------------------------------------------


def _clean_deadline(deadline: datetime | None) -> datetime | None:
    if deadline is None:
        return None
    if timezone.is_naive(deadline):
        raise HandoffRefused("deadline", "Give the deadline with its time zone.")
    if deadline <= timezone.now():
        raise HandoffRefused("deadline", "This deadline has already passed; choose a time in the future.")
    return deadline


def build_packet(
    *,
    report: Report,
    contact: UpstreamContact,
    sections: Sequence[str],
    include_identity: bool,
    actor: ActorArg,
    deadline: datetime | None = None,
    ip: str | None = None,
) -> Packet:
    """The redacted packet for ``contact``: the chosen sections of the report, scrubbed of the
    reporter unless ``include_identity`` (which needs their consent), with our tracking ID, the
    embargo end (UTC), who to contact, and a CSAF draft (TLP:AMBER) of the same facts.

    Opening the report is audited (REPORT_VIEWED). Refusals (no consent, no section, a shredded
    report) come before anything is opened.
    """
    user = _staff_on(actor, report)
    chosen = tuple(clean_sections(sections))
    if report.data_key.is_destroyed:
        raise HandoffRefused(
            "sections", "This report's content was destroyed: there is nothing to hand over."
        )
    text = open_for_handoff(report=report, actor=user, share_identity=include_identity, ip=ip)
    embargo = running_embargo(report)
    facts = PacketFacts(
        project=contact.project,
        ecosystem=contact.ecosystem,
        packages=tuple(contact.packages.split()),
        severity=str(report.get_severity_display()) if report.severity else "",
        cvss_v3=report.cvss_v3,
        cvss_v4=report.cvss_v4,
        cwe_id=report.cwe_id,
        embargo_ends_at=embargo.ends_at if embargo else None,
        deadline=deadline,
        sender_name=user.full_name,
        reply_to=settings.DEFAULT_FROM_EMAIL,
        publisher=settings.PUBLISHER_NAME,
        references=our_references(),
        prepared_at=timezone.now(),
    )
    return make_packet(text, facts, chosen)


def our_references() -> tuple[str, ...]:
    """Our disclosure policy and our OpenPGP key, as absolute URLs (the packet's references)."""
    base = settings.BASE_URL.rstrip("/")
    return (base + reverse("intake:policy"), base + reverse("intake:security_key"))


def check_mailable(contact: UpstreamContact) -> None:
    """HandoffRefused (naming ``contact``) unless an encrypted mail can go to ``contact`` now."""
    project = contact.project
    if not contact.email:
        raise HandoffRefused("contact", f"{project} has no email address in the directory; add one first.")
    if not contact.public_key:
        raise HandoffRefused(
            "contact",
            f"{project} has no OpenPGP key in the directory, and the packet is only ever sent encrypted. "
            "Add their key to the directory, or export the packet for their own channel.",
            code="no_key",
        )
    update = "ask them for a current one and update the directory"
    if contact.key_expires_at is not None and contact.key_expires_at <= timezone.now():
        raise HandoffRefused(
            "contact",
            f"The key for {project} expired on {contact.key_expires_at:%Y-%m-%d}; {update}.",
            code="key_expired",
        )
    try:
        parse_public_key(contact.public_key)  # revoked since, or an encryption subkey that lapsed
    except KeyRejected as exc:
        expired = exc.reason == RejectReason.EXPIRED
        why = "has expired" if expired else f"cannot be used ({str(exc.reason).replace('_', ' ')})"
        code = "key_expired" if expired else "key_unusable"
        raise HandoffRefused("contact", f"The key for {project} {why}; {update}.", code=code) from None


def _record(
    *,
    report: Report,
    contact: UpstreamContact,
    packet: Packet,
    channel: str,
    deadline: datetime | None,
    user: User,
    sent_at: datetime | None,
) -> Handoff:
    """Save the Handoff with its sealed packet, tell the reporter's timeline, bind the upstream to the
    embargo. Inside the caller's transaction."""
    handoff = Handoff(
        uid=uuid.uuid4(),
        report=report,
        contact=contact,
        channel=channel,
        status=HandoffStatus.NOTIFIED,
        deadline=deadline,
        identity_shared=packet.identity_shared,
        shared=list(packet.sections),
        created_by=user,
        sent_at=sent_at,
    )
    handoff.packet = seal_json(handoff, "packet", packet.to_json(), key=report.data_key_plain())
    handoff.save(force_insert=True)
    note_forwarded_upstream(
        report=report,
        project=contact.project,
        shared=packet.sections,
        identity_shared=packet.identity_shared,
        actor=user,
    )
    embargo = running_embargo(report)
    if embargo is not None:
        # Bound to the embargo, the upstream is told its end and reminded of it like every party.
        add_party(
            embargo=embargo,
            kind=PartyKind.UPSTREAM,
            label=contact.project,
            email=contact.email or None,
            actor=user,
        )
    return handoff


def _audit_data(handoff: Handoff) -> dict[str, object]:
    return {
        "handoff": str(handoff.uid),
        "contact": str(handoff.contact.uid),
        "channel": handoff.channel,
        "sections": list(handoff.shared),
        "identity_shared": handoff.identity_shared,
        "deadline": handoff.deadline.isoformat() if handoff.deadline else None,
    }


def _prepare(
    *,
    report: Report,
    contact: UpstreamContact,
    sections: Sequence[str],
    include_identity: bool,
    deadline: datetime | None,
    actor: ActorArg,
    by_mail: bool,
    ip: str | None,
) -> tuple[User, datetime | None, Packet]:
    """What every hand-off checks and builds first: who hands over, the deadline, the packet."""
    user = _staff_on(actor, report)
    if not contact.active:
        raise HandoffRefused("contact", f"{contact.project} is marked inactive in the directory.")
    _may_hand_over(user, report)
    if by_mail:
        check_mailable(contact)
    when = _clean_deadline(deadline)
    packet = build_packet(
        report=report,
        contact=contact,
        sections=sections,
        include_identity=include_identity,
        actor=user,
        deadline=when,
        ip=ip,
    )
    return user, when, packet


def send_handoff(
    *,
    report: Report,
    contact: UpstreamContact,
    sections: Sequence[str],
    include_identity: bool,
    deadline: datetime | None,
    actor: ActorArg,
    ip: str | None = None,
) -> Handoff:
    """Hand ``report`` to ``contact`` by encrypted email; the new Handoff (status notified).

    Refused (HandoffRefused naming ``contact``) without an address or a usable key: an expired key
    is refused with its date. The mail is queued with the commit and goes out from the worker,
    which sets ``sent_at``. Audited HANDOFF_SENT.
    """
    user, when, packet = _prepare(
        report=report,
        contact=contact,
        sections=sections,
        include_identity=include_identity,
        deadline=deadline,
        actor=actor,
        by_mail=True,
        ip=ip,
    )
    with transaction.atomic():
        handoff = _record(
            report=report,
            contact=contact,
            packet=packet,
            channel=Channel.EMAIL,
            deadline=when,
            user=user,
            sent_at=None,
        )
        record(event=Event.HANDOFF_SENT, actor=user, target=report, data=_audit_data(handoff), ip=ip)
        enqueue_on_commit(email_handoff, handoff.pk)
    return handoff


def export_handoff(
    *,
    report: Report,
    contact: UpstreamContact,
    sections: Sequence[str],
    include_identity: bool,
    deadline: datetime | None,
    actor: ActorArg,
    ip: str | None = None,
) -> HandoffExport:
    """Hand ``report`` to ``contact`` through their own channel: the packet as a zip to download.

    The Handoff is recorded as handed over now (staff upload it there); its channel is the
    contact's, or "their own channel" when the contact's usual one is email. Audited
    HANDOFF_EXPORTED.
    """
    user, when, packet = _prepare(
        report=report,
        contact=contact,
        sections=sections,
        include_identity=include_identity,
        deadline=deadline,
        actor=actor,
        by_mail=False,
        ip=ip,
    )
    channel = Channel.OTHER if contact.channel == Channel.EMAIL else contact.channel
    now = timezone.now()
    with transaction.atomic():
        handoff = _record(
            report=report,
            contact=contact,
            packet=packet,
            channel=channel,
            deadline=when,
            user=user,
            sent_at=now,
        )
        data = {**_audit_data(handoff), "again": False}
        record(event=Event.HANDOFF_EXPORTED, actor=user, target=report, data=data, ip=ip)
    return HandoffExport(handoff=handoff, filename=_zip_name(packet), content=packet.zip_bytes(at=now))


def _zip_name(packet: Packet) -> str:
    return f"{packet.tracking_id}-handoff.zip"


def _packet_reader(actor: ActorArg, handoff: Handoff) -> User:
    """Who opens ``handoff``'s sealed packet: staff who may see its report, while its content exists."""
    user = _staff_on(actor, handoff.report)
    if handoff.report.data_key.is_destroyed:
        raise HandoffRefused("packet", "This report's content was destroyed, and the packet with it.")
    return user


def _sealed_packet(handoff: Handoff) -> Packet:
    """The packet as it was sealed at hand-over (audit the read first, in the same transaction)."""
    return Packet.from_json(open_json(handoff, "packet", key=handoff.report.data_key_plain()))


def open_packet(*, handoff: Handoff, actor: ActorArg, ip: str | None = None) -> Packet:
    """The packet as it was handed over, for staff who may see the report (audited REPORT_VIEWED)."""
    user = _packet_reader(actor, handoff)
    with transaction.atomic():
        data = {"scope": "handoff_packet", "handoff": str(handoff.uid)}
        record(event=Event.REPORT_VIEWED, actor=user, target=handoff.report, data=data, ip=ip)
        return _sealed_packet(handoff)


def download_packet(*, handoff: Handoff, actor: ActorArg, ip: str | None = None) -> HandoffExport:
    """The packet of an earlier hand-off as a zip again (audited HANDOFF_EXPORTED, ``again``)."""
    user = _packet_reader(actor, handoff)
    with transaction.atomic():
        data = {**_audit_data(handoff), "again": True}
        record(event=Event.HANDOFF_EXPORTED, actor=user, target=handoff.report, data=data, ip=ip)
        packet = _sealed_packet(handoff)
    at = handoff.sent_at or handoff.created_at
    return HandoffExport(handoff=handoff, filename=_zip_name(packet), content=packet.zip_bytes(at=at))


# --- Following the upstream ------------------------------------------------------------------------


def update_handoff(
    *,
    handoff: Handoff,
    status: str,
    deadline: datetime | None,
    ghsa_id: str,
    cve_id: str,
    tracking_url: str,
    actor: ActorArg,
    seen_version: int,
    reason: str = "",
    ip: str | None = None,
) -> Handoff:
    """Record where the upstream is: status, deadline, their IDs; the updated Handoff.

    Status moves forward freely (skipping steps is fine: upstreams do); moving back needs a
    ``reason``, kept as an internal note on the report (never in the audit row). A new status goes
    on the reporter's timeline. A form loaded at an older ``seen_version`` is refused
    (StaleHandoff); a moved deadline earns its reminders anew. Nothing changed, nothing recorded.
    """
    report = handoff.report
    user = _staff_on(actor, report)
    values: dict[str, object] = {
        "ghsa_id": clean_ghsa_id(ghsa_id),
        "cve_id": clean_cve_id(cve_id),
        "tracking_url": clean_url(tracking_url, field="tracking_url"),
    }
    with transaction.atomic():
        locked = Handoff.objects.select_for_update().select_related("contact").get(pk=handoff.pk)
        if locked.version != seen_version:
            raise StaleHandoff(seen_version, locked.version)
        check_status_move(locked.status, status, reason)
        if deadline != locked.deadline:
            values["deadline"] = _clean_deadline(deadline)
        values["status"] = status
        changed = sorted(name for name, value in values.items() if getattr(locked, name) != value)
        if not changed and not reason.strip():
            return locked
        now = timezone.now()
        previous = locked.status
        for name, value in values.items():
            setattr(locked, name, value)
        locked.version += 1
        extra = ["version"]
        if "deadline" in changed:
            locked.reminders_sent = []
            extra.append("reminders_sent")
        if "status" in changed:
            locked.status_changed_at = now
            extra.append("status_changed_at")
            label = str(HandoffStatus(status).label)
            note_upstream_status(
                report=report, project=locked.contact.project, status=status, status_label=label, actor=user
            )
        locked.save(update_fields=[*changed, *extra])
        if reason.strip():
            _note_reason(report, locked, previous, reason, user)
        data = {
            "handoff": str(locked.uid),
            "changed": changed,
            "from_status": previous,
            "to_status": locked.status,
            "deadline": locked.deadline.isoformat() if locked.deadline else None,
            "ghsa_id": locked.ghsa_id,
            "cve_id": locked.cve_id,
        }
        record(event=Event.HANDOFF_UPDATED, actor=user, target=report, data=data, ip=ip)
    return locked


def _note_reason(report: Report, handoff: Handoff, previous: str, reason: str, user: User) -> None:
    """The reason for an upstream's status change, kept sealed as an internal note on the report."""
    moved = (
        f"from {HandoffStatus(previous).label.lower()} to {HandoffStatus(handoff.status).label.lower()}"
        if previous != handoff.status
        else f"(still {HandoffStatus(handoff.status).label.lower()})"
    )
    body = f"Upstream {handoff.contact.project}: status {moved}.\n\n{reason.strip()}"
    post_message(report=report, body=body, visibility="internal", actor=user)
