"""Outbound mail: rendering a message from its templates, and the local outbox backend.

Each message is a pair of plain-text templates, ``templates/emails/<name>/subject.txt`` and
``body.txt``. An app sends one with one function per message that enqueues a task taking the
object's id (DESIGN.md §4.7, §5)::

    # reports/emails.py
    def send_acknowledgement(report: Report) -> None:
        enqueue_on_commit(email_acknowledgement, report.pk)

    # reports/tasks.py
    @retryable(max_attempts=8)
    def email_acknowledgement(report_id: int) -> None:
        report = Report.objects.get(pk=report_id)
        if report.acknowledged_at:  # idempotent: a retry after a successful send stops here
            return
        render_email("acknowledgement", {"report": report}, to=[report.reporter_email]).send()
        ...

This module knows no app and holds no models (import-linter enforces it).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.template import Context, Engine

# RFC 3834 §5: marks our mail as automatic, so well-behaved responders don't auto-reply to it and
# mail loops between two robots stop at the first hop. X-Auto-Response-Suppress is Microsoft
# Exchange's equivalent, which ignores Auto-Submitted.
AUTOMATIC_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


def _render_text(template_name: str, context: Mapping[str, Any]) -> str:
    """Render a text template with autoescaping off: HTML entities have no place in mail text."""
    template = Engine.get_default().get_template(template_name)
    return template.render(Context(dict(context), autoescape=False))


def render_email(
    name: str,
    context: Mapping[str, Any],
    *,
    to: Sequence[str],
    from_email: str | None = None,
    reply_to: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """Build the message ``name`` from ``templates/emails/<name>/{subject,body}.txt``.

    The templates also see ``site_name`` and ``base_url``. The subject is folded onto one line
    (a newline in a header is header injection, and Django would refuse it anyway). The message
    is marked auto-generated (RFC 3834) and gets its Message-ID now, on the sender's domain: Django
    would otherwise mint a new one, on the machine's host name, each time the message is
    serialised. ``headers`` may override it, e.g. with a Message-ID derived from an object id so
    that a resend is recognisably the same message.
    """
    full_context = {"site_name": settings.SITE_NAME, "base_url": settings.BASE_URL, **context}
    subject = " ".join(_render_text(f"emails/{name}/subject.txt", full_context).split())
    body = _render_text(f"emails/{name}/body.txt", full_context).strip("\n") + "\n"
    sender = from_email or settings.DEFAULT_FROM_EMAIL
    domain = sender.rpartition("@")[2].strip(">") or "localhost"
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=sender,
        to=list(to),
        reply_to=list(reply_to),
        headers={**AUTOMATIC_HEADERS, "Message-ID": make_msgid(domain=domain), **(headers or {})},
    )


class OutboxBackend(BaseEmailBackend):
    """Writes each message as an ``.eml`` file in ``OUTBOX_DIR``: the zero-configuration mail sink.

    Each file is complete or absent: it is written under a temporary name, fsynced, then renamed
    into place, so whatever reads the outbox (a person, a relay script, a test) never sees half a
    message, and a message the backend reported as sent survives a power cut. Files are 0600 in a
    0700 directory: mail can carry magic links to reporters' portals.
    """

    def __init__(
        self, *, fail_silently: bool = False, outbox_dir: str | Path | None = None, **kwargs: Any
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.outbox_dir = Path(outbox_dir if outbox_dir is not None else settings.OUTBOX_DIR)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Write each message that has recipients; return how many were written."""
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            try:
                self._write(message.message().as_bytes())
            except OSError:
                if not self.fail_silently:
                    raise
            else:
                sent += 1
        return sent

    def _write(self, data: bytes) -> Path:
        self.outbox_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self.outbox_dir / f"{stamp}-{secrets.token_hex(6)}.eml"
        # mkstemp creates the file 0600 whatever the umask; the dot prefix keeps readers that
        # glob *.eml from picking up a file still being written.
        fd, temp_name = tempfile.mkstemp(dir=self.outbox_dir, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(self.outbox_dir)
        return target


def _fsync_directory(path: Path) -> None:
    """Make a rename durable: the new directory entry lives in the directory's own blocks."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
