"""The core records: a report, its reporter, the conversation, files, the receipt and the timeline.

Every piece of report content (title, description, messages, file names, the reporter's identity)
is a BinaryField holding a value sealed under the report's data key (``vault.DataKey``, subject
``"report:<uid>"``), bound by AAD to its model, field and row ``uid`` (see :mod:`.sealing`).
Nothing here decrypts on attribute access: opening is explicit, in the services, where the staff
read is audited. Shredding the data key makes all of a report's content unreadable at once.

Only the reports services write these rows (DESIGN.md §3); other apps call them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from bastion.accounts.models import validate_time_zone
from bastion.reports import identifiers
from bastion.reports.models.casework import Severity
from bastion.reports.workflow import Status


class CreditPreference(models.TextChoices):
    """How the reporter wants to be thanked in advisories and the Hall of Thanks."""

    NAME = "name", "By name"
    HANDLE = "handle", "By handle"
    ANONYMOUS = "anonymous", "Anonymously"


class Channel(models.TextChoices):
    """The way a report came in."""

    WEB = "web", "Web form"
    API = "api", "API"
    EMAIL = "email", "Email"


class Reporter(models.Model):
    """Who sent a report: one row per report, sealed under that report's data key.

    One row per report, not one per person: shredding a report then shreds its reporter's identity
    too, and no table links a person's reports together except the keyed ``email_digest``. An
    anonymous report has a Reporter whose sealed fields are all NULL, so the portal can still let
    that reporter add a key or choose a time zone later.

    The public key is kept sealed, and so is its fingerprint (it is read from the key when opened):
    a fingerprint in clear names its owner on any keyserver, which would undo the care taken to keep
    the address out of the database.
    """

    sealed_under = "report__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    name = models.BinaryField(null=True)  # sealed
    handle = models.BinaryField(null=True)  # sealed
    email = models.BinaryField(null=True)  # sealed
    # HMAC of the normalised address (identifiers.email_digest); "" when no address was given.
    email_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    public_key = models.BinaryField(null=True)  # sealed, ASCII-armored
    credit_preference = models.CharField(
        max_length=16, choices=CreditPreference.choices, default=CreditPreference.ANONYMOUS
    )
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Whether the reporter lets us name them to an upstream project we hand the flaw to
    # (None: not asked yet, which a hand-off treats as no).
    upstream_consent = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"reporter {self.uid}"

    @property
    def has_email(self) -> bool:
        """Whether an address was given (known without opening anything)."""
        return bool(self.email_digest)

    @property
    def has_public_key(self) -> bool:
        """Whether the reporter gave a public key, so their mail is encrypted."""
        return self.public_key is not None


class ReportQuerySet(models.QuerySet["Report"]):
    """Sets of reports."""

    def for_email(self, address: str) -> ReportQuerySet:
        """Reports whose reporter gave ``address`` (by its keyed digest, under every honoured secret)."""
        return self.filter(reporter__email_digest__in=identifiers.email_digests(address))

    def awaiting_acknowledgement(self) -> ReportQuerySet:
        """Reports with an address that have not been acknowledged yet, and may be (RFC 3834)."""
        unanswerable = ReceivedMail.objects.filter(message=None).exclude(no_reply="").values("report")
        return (
            self.filter(acknowledged_at__isnull=True)
            .exclude(reporter__email_digest="")
            .exclude(pk__in=unanswerable)
        )


class Report(models.Model):
    """One vulnerability report: sealed title and content, its state, and the handles on it.

    ``content`` is the canonical JSON of the submission's other fields (description, product,
    version, steps, impact; see :func:`bastion.reports.receipts.content_json`). ``uid`` names the
    data key (``"report:<uid>"``) and binds every sealed value; ``tracking_id`` is the public name.
    ``submission_sha256`` is the hash the signed receipt states. An idempotency key is stored only
    as a digest (unique), beside ``request_digest`` (a keyed HMAC of the whole request, see
    ``identifiers.request_digests``): the same key with the same request is a retry
    of this report, with a different request it is a conflict.
    """

    Status = Status

    sealed_under = "data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    tracking_id = models.CharField(max_length=16, unique=True, default=identifiers.new_tracking_id)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # PROTECT: a report's key is shredded (emptied in place), never deleted from under it.
    data_key = models.ForeignKey("vault.DataKey", on_delete=models.PROTECT, related_name="+")
    reporter = models.OneToOneField(Reporter, on_delete=models.PROTECT, related_name="report")
    title = models.BinaryField()  # sealed
    content = models.BinaryField()  # sealed canonical JSON
    policy_version = models.PositiveIntegerField()
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    submission_sha256 = models.CharField(max_length=64)
    idempotency_key_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    request_digest = models.CharField(max_length=64, blank=True)
    # Rotating it (rotate_portal_token) revokes every portal link issued so far.
    portal_nonce = models.CharField(max_length=64, default=identifiers.new_nonce, editable=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    deletion_requested_at = models.DateTimeField(null=True, blank=True)
    # An admin decides a deletion request: approved means the data key was shredded; refused keeps
    # the report, with a reason the reporter is shown (sealed, like everything staff write).
    deletion_decided_at = models.DateTimeField(null=True, blank=True)
    deletion_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    deletion_refusal = models.BinaryField(null=True)  # sealed; NULL unless refused

    # --- triage: clear metadata the inbox filters on (see casework.py); written by the services ---
    # The asset says which program's terms apply; without one, the default program's.
    asset = models.ForeignKey(
        "reports.Asset", on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_reports",
    )
    labels = models.ManyToManyField("reports.Label", blank=True, related_name="reports")
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True, default="")
    # Severity follows the CVSS score unless staff set it by hand, with a (sealed) reason.
    severity_overridden = models.BooleanField(default=False)
    severity_reason = models.BinaryField(null=True)  # sealed
    cvss_v3 = models.CharField("CVSS 3.1 vector", max_length=200, blank=True)
    cvss_v4 = models.CharField("CVSS 4.0 vector", max_length=300, blank=True)
    cvss_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cwe_id = models.PositiveIntegerField("CWE", null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="duplicates"
    )
    # The duplicate's reporter shares the original's credit (the advisory names both).
    duplicate_credit = models.BooleanField(default=False)
    # Bumped by every staff edit: a form or API call carrying an older version is a stale edit.
    version = models.PositiveIntegerField(default=1)
    # The earliest due time among the report's running clocks (NULL: none running).
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    breached_at = models.DateTimeField(null=True, blank=True)  # first breach of any target
    first_response_at = models.DateTimeField(null=True, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Closed and handed to an ordinary issue tracker as a public bug (scrubbed export).
    public_bug_at = models.DateTimeField(null=True, blank=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        # One per inbox filter, newest first: a filtered page at a million rows is an index walk.
        indexes = [
            models.Index(fields=["status", "-received_at"], name="report_status_recent"),
            models.Index(fields=["assignee", "-received_at"], name="report_assignee_recent"),
            models.Index(fields=["severity", "-received_at"], name="report_severity_recent"),
            models.Index(fields=["asset", "-received_at"], name="report_asset_recent"),
            models.Index(fields=["channel", "-received_at"], name="report_channel_recent"),
            # The metrics count closes by month; without it that is a scan of every report.
            models.Index(fields=["closed_at"], name="report_closed"),
            models.Index(fields=["cwe_id", "-received_at"], name="report_cwe_recent"),
        ]

    def __str__(self) -> str:
        return self.tracking_id

    def data_key_plain(self) -> bytes:
        """The report's plain data key, unwrapped now (never cached: see ``DataKey.unwrap``)."""
        return self.data_key.unwrap()


class Visibility(models.TextChoices):
    """Who sees a message: the reporter too, or staff only."""

    PUBLIC = "public", "Reporter and staff"
    INTERNAL = "internal", "Staff only (internal note)"


class AuthorKind(models.TextChoices):
    """Who wrote a message."""

    REPORTER = "reporter", "Reporter"
    STAFF = "staff", "Staff"
    SYSTEM = "system", "System"


class Message(models.Model):
    """One entry in a report's conversation: a reply either way, or a staff-only internal note."""

    sealed_under = "report__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(max_length=10, choices=AuthorKind.choices)
    # PROTECT: staff accounts are deactivated, never deleted, and messages keep their author.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    visibility = models.CharField(max_length=10, choices=Visibility.choices)
    body = models.BinaryField()  # sealed
    created_at = models.DateTimeField(default=timezone.now)
    # Set once the reporter was told of this (staff, public) message: the mail task's idempotency.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"message {self.uid} on {self.report_id}"


class Attachment(models.Model):
    """A file sent with a report or a message, stored as a sealed blob under a random name.

    The original file name and the client's content type live in sealed ``meta``; the name on disk
    is random (``vault.new_blob_name``), so a hostile file name never reaches the filesystem.
    ``sha256`` and ``size`` describe the plaintext and appear in the signed receipt.
    """

    sealed_under = "report__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    blob_name = models.CharField(max_length=32, unique=True, editable=False)
    meta = models.BinaryField()  # sealed JSON: {"filename": ..., "content_type": ...}
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"attachment {self.uid} on {self.report_id}"

    @property
    def is_internal(self) -> bool:
        """True when it belongs to a staff-only note, so the reporter must not see it."""
        return self.message is not None and self.message.visibility == Visibility.INTERNAL


class Receipt(models.Model):
    """The signed statement that a report was received: what, when, under which policy.

    ``statement`` is the OpenPGP cleartext-signed text (tracking ID, time, policy version, channel,
    the submission's SHA-256 and each attachment's). It holds hashes, never content, so it is stored
    in clear; the reporter can verify it with ``gpg --verify`` against the org key.
    """

    report = models.OneToOneField(Report, on_delete=models.CASCADE, related_name="receipt")
    statement = models.TextField()
    org_key_fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"receipt for {self.report_id}"


class TimelineKind(models.TextChoices):
    """What a timeline entry records."""

    SUBMITTED = "submitted", "Report received"
    STATUS_CHANGED = "status_changed", "Status changed"
    MESSAGE = "message", "Message"
    ATTACHMENT_ADDED = "attachment_added", "File added"
    REPORTER_UPDATED = "reporter_updated", "Reporter details updated"
    PORTAL_LINK_ROTATED = "portal_link_rotated", "Portal link replaced"
    DELETION_REQUESTED = "deletion_requested", "Deletion requested"
    DELETION_REFUSED = "deletion_refused", "Deletion request refused"
    SHREDDED = "shredded", "Content destroyed"
    # Triage. Staff-only entries (public=False) show on the report page, never in the portal.
    ASSIGNED = "assigned", "Assigned"
    CLASSIFIED = "classified", "Severity and classification changed"
    CLOCK_BREACHED = "clock_breached", "Response target missed"
    MARKED_DUPLICATE = "marked_duplicate", "Marked as a duplicate"
    BOUNTY_DECIDED = "bounty_decided", "Bounty decision"
    PUBLIC_BUG = "public_bug", "Handed over as a public bug"
    # Coordination and disclosure.
    EMBARGO_SET = "embargo_set", "Embargo set"
    EMBARGO_CHANGED = "embargo_changed", "Embargo end moved"
    EMBARGO_LIFTED = "embargo_lifted", "Embargo lifted"
    EMBARGO_ACKNOWLEDGED = "embargo_acknowledged", "Embargo acknowledged"
    FORWARDED_UPSTREAM = "forwarded_upstream", "Forwarded to upstream"
    UPSTREAM_UPDATED = "upstream_updated", "Upstream status changed"
    CREDIT_UPDATED = "credit_updated", "Credit updated"
    ADVISORY_PLANNED = "advisory_planned", "Publication date planned"
    ADVISORY_PUBLISHED = "advisory_published", "Advisory published"


class TimelineEntryQuerySet(models.QuerySet["TimelineEntry"]):
    """Sets of timeline entries."""

    def public(self) -> TimelineEntryQuerySet:
        """What the reporter's timeline shows."""
        return self.filter(public=True)


class TimelineEntry(models.Model):
    """One dated event in a report's life, as the reporter's timeline and the staff view show it.

    The reporter's portal reads this table, never the audit log (which is staff-only and holds
    other reports' events). ``data`` holds states and ids, never plaintext: e.g. old and new status.
    """

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=24, choices=TimelineKind.choices)
    public = models.BooleanField(default=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TimelineEntryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "timeline entries"

    def __str__(self) -> str:
        return f"{self.kind} on {self.report_id}"


class MailState(models.TextChoices):
    """What became of an email."""

    ACCEPTED = "accepted", "Accepted"  # a new report, or a message on one
    QUARANTINED = "quarantined", "Quarantined (could not be decrypted)"
    FLOODED = "flooded", "Held in the flood bucket"


class ReceivedMail(models.Model):
    """One email as it arrived: the original, sealed whole, what reading it found, and where it went.

    Accepted mail is sealed under its report's data key, so shredding the report shreds the
    original too. Quarantined and flooded mail belongs to no report yet and has a key of its own.
    ``envelope`` (sealed JSON) holds the sender, subject, Message-ID, authentication results and
    MIME defects; the clear columns hold only what staff filter and judge by, never content.
    ``dedupe_digest`` (the Message-ID's digest, or the raw bytes' without one) makes a delivery
    seen twice one message. The original is zlib-compressed before sealing: a mailbomb held in the
    flood bucket takes a fraction of its size.
    """

    sealed_under = "data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    state = models.CharField(max_length=12, choices=MailState.choices, db_index=True)
    source = models.CharField(max_length=10)  # mailgate, lmtp or imap
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    dedupe_digest = models.CharField(max_length=64, unique=True)
    report = models.ForeignKey(
        Report, on_delete=models.CASCADE, null=True, blank=True, related_name="received_mails"
    )
    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="received_mail"
    )
    data_key = models.ForeignKey("vault.DataKey", on_delete=models.PROTECT, related_name="+")
    raw = models.BinaryField()  # sealed, zlib-compressed
    envelope = models.BinaryField()  # sealed JSON
    size = models.PositiveIntegerField()
    encryption = models.CharField(max_length=10, blank=True)  # none, pgp_mime, inline
    signature = models.CharField(max_length=12, blank=True)  # none, good, bad, unknown_key
    signer_fingerprint = models.CharField(max_length=64, blank=True)
    dkim = models.CharField(max_length=12, blank=True)
    no_reply = models.CharField(max_length=16, blank=True)  # why we must not auto-reply (RFC 3834)
    problem = models.CharField(max_length=16, blank=True)  # quarantine reason, or a threading note
    handled_at = models.DateTimeField(null=True, blank=True)  # staff released or dismissed it

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"mail {self.uid} ({self.state})"
