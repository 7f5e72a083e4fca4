"""Taking a report from a stranger on the web: limits, flood control and the challenge, then submit.

The web form and the JSON API share :func:`receive_report`, so both channels enforce the same
size limits, count the same flood counters and ask for the same proof-of-work. What gets stored is
:func:`bastion.reports.services.submit_report`'s business; this module only decides whether the
request may reach it. :func:`request_portal_links` is the same gate in front of "email me my links".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from bastion.audit.services import Actor
from bastion.intake.challenge import verify_challenge
from bastion.intake.flood import check_flood, email_digest
from bastion.intake.services import current_policy_version
from bastion.reports.models import Channel
from bastion.reports.services import IncomingFile, Submission, SubmitResult, send_portal_links, submit_report

# The Markdown fields that INTAKE_MAX_BODY_CHARS caps; the one-line fields have the services'
# own, much lower, limit (and a clear message for it).
LONG_FIELDS = ("description", "steps", "impact", "public_key")


class TooLarge(Exception):
    """The request is over a size limit (HTTP 413). ``field`` names what was too large."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(message)


class FloodRefused(Exception):
    """Too many attempts from this address: refused outright (HTTP 429) until the window ends."""

    def __init__(self) -> None:
        super().__init__(
            "Too many reports from your network in a short time. Please try again in an hour, "
            "or send your report by e-mail."
        )


class ChallengeRequired(Exception):
    """The submission needs a solved proof-of-work challenge and brought none (or a bad one)."""

    def __init__(self) -> None:
        super().__init__(
            "We are receiving many reports right now, so this one needs a short anti-spam check "
            "(proof of work in your browser, or a solved challenge from /security/challenge)."
        )


@dataclass(frozen=True)
class Gate:
    """What the visitor brought besides the report: their address and the anti-abuse signals."""

    ip: str
    altcha: object = None
    honeypot_tripped: bool = False


def check_limits(submission: Submission, attachments: Sequence[IncomingFile], sizes: Sequence[int]) -> None:
    """TooLarge naming the first limit ``submission`` is over (characters per field, file count, bytes)."""
    limit = settings.INTAKE_MAX_BODY_CHARS
    for name in LONG_FIELDS:
        length = len(getattr(submission, name))
        if length > limit:
            raise TooLarge(name, f"This field is {length:,} characters long; the limit is {limit:,}.")
    most = settings.INTAKE_MAX_ATTACHMENTS
    if len(attachments) > most:
        raise TooLarge("attachments", f"You attached {len(attachments)} files; the limit is {most}.")
    cap = settings.INTAKE_MAX_ATTACHMENT_BYTES
    for size in sizes:
        if size > cap:
            raise TooLarge(
                "attachments", f"An attachment is {size:,} bytes; the limit is {cap:,} bytes per file."
            )


def _admit(gate: Gate, *, email: str) -> None:
    """Count the attempt; FloodRefused or ChallengeRequired if it may not go ahead as it is."""
    verdict = check_flood(ip=gate.ip, email_digest=email_digest(email) if email.strip() else None)
    if not verdict.allowed:
        raise FloodRefused()
    # A filled honeypot costs a bot the same proof of work as a flood, rather than a silent drop:
    # a person whose browser autofilled it loses nothing but a second of CPU.
    if (verdict.needs_challenge or gate.honeypot_tripped) and not verify_challenge(gate.altcha):
        raise ChallengeRequired()


def receive_report(
    *,
    submission: Submission,
    attachments: Sequence[IncomingFile],
    sizes: Sequence[int],
    channel: Channel,
    gate: Gate,
    idempotency_key: str | None,
) -> SubmitResult:
    """Check limits, count the attempt, ask for the challenge if due, then submit the report.

    Raises TooLarge, FloodRefused, ChallengeRequired, or what ``submit_report`` raises
    (ReportRejected naming a field, IdempotencyConflict). Nothing is stored unless it returns.
    """
    check_limits(submission, attachments, sizes)
    _admit(gate, email=submission.email)
    return submit_report(
        submission=submission,
        attachments=attachments,
        channel=channel,
        policy_version=current_policy_version(),
        actor=Actor.anonymous(),
        ip=_address(gate.ip),
        idempotency_key=idempotency_key,
    )


def request_portal_links(*, email: str, ip: str) -> None:
    """Mail ``email`` its portal links, unless this address or IP is asking too often.

    Returns nothing on purpose: the caller must answer the same whether the address is known,
    unknown or throttled, or the page would tell a stranger who has reported to us. The attempt
    counts against intake's flood counters, per IP and per address; over a limit nothing is sent.
    """
    email = email.strip()
    verdict = check_flood(ip=ip, email_digest=email_digest(email) if email else None)
    if not email or "@" not in email or len(email) > 254 or not verdict.allowed or verdict.needs_challenge:
        return
    send_portal_links(email=email, actor=Actor.anonymous(), ip=_address(ip))


def _address(ip: str) -> str | None:
    """``ip`` if it parses as an address (what the audit trail stores), else None."""
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return None
