"""Advisories: drafts sealed until publication, their revisions, review, and the public change log.

Before publication an advisory is embargoed information: its content (title included) is sealed
JSON under the advisory's own data key (``vault.DataKey``, subject ``"advisory:<uid>"``). At
publication the public form is copied to ``published`` in clear, which is what the public pages,
feeds and exports read; it is public by then.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from bastion.disclosure.content import AdvisoryContent, PublicationMeta, PublicCredit, RevisionEntry


class AdvisoryState(models.TextChoices):
    """An advisory's life: drafted, reviewed by a second person, published, maybe withdrawn."""

    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


class AdvisoryQuerySet(models.QuerySet["Advisory"]):
    """Sets of advisories."""

    def public(self) -> AdvisoryQuerySet:
        """Advisories the public may read: published once (``published`` is set), withdrawn ones too.

        An advisory being updated after publication is back in DRAFT/IN_REVIEW/APPROVED for its
        next revision, yet its last published form stays public: visibility is ``published``,
        never ``state``.
        """
        return self.filter(published__isnull=False, published_at__isnull=False)

    def due_for_publication(self, now: datetime) -> AdvisoryQuerySet:
        """Never-published advisories whose planned instant has come (withdrawn ones excluded)."""
        return self.filter(published_at__isnull=True, publish_at__isnull=False, publish_at__lte=now).exclude(
            state=AdvisoryState.WITHDRAWN
        )


class Advisory(models.Model):
    """A security advisory about one or more reports.

    ``content`` is the sealed JSON of :class:`bastion.disclosure.content.AdvisoryContent`.
    ``version`` makes two staff editing one advisory a refused stale edit (``updated_by`` names who
    made the change that made it stale). ``publish_at`` is the scheduled instant (never before the
    reports' embargo ends unless the lead overrode it, with ``override_reason``);
    ``reporter_notified_at`` records that the reporters were told the date, and
    ``notified_publish_at`` which date they were told (moving the date re-notifies).
    ``blocked_publish_at`` is the planned instant for which a blocked publication was already
    announced to staff, so the every-minute task says it once per date.

    ``state`` is the editorial state of the latest revision. After the first publication an edit
    sends it back through review (DRAFT, IN_REVIEW, APPROVED) while the last published form stays
    public; ``published`` is what the public side reads (see :meth:`public_content`).

    ``published`` holds ``{"identifier", "content": AdvisoryContent JSON, "credits": [PublicCredit],
    "revisions": [RevisionEntry], "initial_release", "current_release", "withdrawn",
    "withdrawn_reason", "url"}`` with ISO 8601 UTC instants.
    """

    sealed_under = "data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    identifier = models.CharField(max_length=40, unique=True)  # e.g. BASTION-SA-2026-0001
    state = models.CharField(
        max_length=12, choices=AdvisoryState.choices, default=AdvisoryState.DRAFT, db_index=True
    )
    reports = models.ManyToManyField("reports.Report", related_name="+")
    data_key = models.ForeignKey("vault.DataKey", on_delete=models.PROTECT, related_name="+")
    content = models.BinaryField()  # sealed JSON
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_revision = models.PositiveIntegerField(null=True, blank=True)
    publish_at = models.DateTimeField(null=True, blank=True, db_index=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    override_reason = models.BinaryField(null=True)  # sealed
    # The embargo end the override was given against: a later or new embargo voids it.
    override_embargo_ends_at = models.DateTimeField(null=True, blank=True)
    reporter_notified_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The public form: the AdvisoryContent JSON as last published, plus credits, in clear.
    published = models.JSONField(null=True, blank=True)
    published_revision = models.PositiveIntegerField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)  # public
    # Why a never-published draft was abandoned: not public, so sealed like the draft itself.
    abandoned_reason = models.BinaryField(null=True)  # sealed
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    notified_publish_at = models.DateTimeField(null=True, blank=True)
    blocked_publish_at = models.DateTimeField(null=True, blank=True)
    # A reviewer who sends a draft back says why, for its author (sealed like the content).
    sent_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sent_back_at = models.DateTimeField(null=True, blank=True)
    sent_back_reason = models.BinaryField(null=True)  # sealed

    objects = AdvisoryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "advisories"

    def __str__(self) -> str:
        return self.identifier

    def data_key_plain(self) -> bytes:
        """The advisory's plain data key, unwrapped now (never cached: see ``DataKey.unwrap``)."""
        return self.data_key.unwrap()

    @property
    def is_public(self) -> bool:
        """Whether a published form exists (the public pages show it, withdrawn or not)."""
        return self.published_at is not None and self.published is not None

    def public_content(self) -> AdvisoryContent | None:
        """The content as last published (clear), or None before the first publication."""
        if not self.published:
            return None
        return AdvisoryContent.from_json(self.published.get("content") or {})

    def publication_meta(self) -> PublicationMeta | None:
        """The export metadata as last published (dates, revisions, credits, withdrawal), or None."""
        data = self.published
        if not data:
            return None
        return PublicationMeta(
            identifier=self.identifier,
            initial_release=str(data.get("initial_release", "")),
            current_release=str(data.get("current_release", "")),
            revisions=tuple(RevisionEntry(**entry) for entry in data.get("revisions", ())),
            credits=tuple(PublicCredit(**credit) for credit in data.get("credits", ())),
            withdrawn=bool(data.get("withdrawn")),
            withdrawn_reason=str(data.get("withdrawn_reason", "")),
            url=str(data.get("url", "")),
        )


class AdvisoryRevision(models.Model):
    """One saved state of an advisory's content (sealed under the advisory's key), numbered from 1.

    The diff between revisions is computed when shown, from the opened contents.
    """

    sealed_under = "advisory__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    content = models.BinaryField()  # sealed JSON
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["advisory", "number"]
        constraints = [
            models.UniqueConstraint(fields=["advisory", "number"], name="advisory_revision_number"),
        ]

    def __str__(self) -> str:
        return f"{self.advisory_id} r{self.number}"


class AdvisoryChange(models.Model):
    """One entry of an advisory's public change log: published, updated, withdrawn."""

    advisory = models.ForeignKey(Advisory, on_delete=models.CASCADE, related_name="changes")
    revision = models.PositiveIntegerField()
    summary = models.CharField(max_length=500)  # public
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["advisory", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.advisory_id}: {self.summary}"
