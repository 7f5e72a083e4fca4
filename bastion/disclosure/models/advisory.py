"""Advisories: drafts sealed until publication, their revisions, review, and the public change log.

Before publication an advisory is embargoed information: its content (title included) is sealed
JSON under the advisory's own data key (``vault.DataKey``, subject ``"advisory:<uid>"``). At
publication the public form is copied to ``published`` in clear, which is what the public pages,
feeds and exports read; it is public by then.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class AdvisoryState(models.TextChoices):
    """An advisory's life: drafted, reviewed by a second person, published, maybe withdrawn."""

    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Advisory(models.Model):
    """A security advisory about one or more reports.

    ``content`` is the sealed JSON of :class:`bastion.disclosure.content.AdvisoryContent`.
    ``version`` makes two staff editing one advisory a refused stale edit. ``publish_at`` is the
    scheduled instant (never before the reports' embargo ends unless the lead overrode it, with
    ``override_reason``); ``reporter_notified_at`` records that the reporters were told the date.
    """

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
    reporter_notified_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The public form: the AdvisoryContent JSON as last published, plus credits, in clear.
    published = models.JSONField(null=True, blank=True)
    published_revision = models.PositiveIntegerField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_reason = models.TextField(blank=True)  # public

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "advisories"

    def __str__(self) -> str:
        return self.identifier


class AdvisoryRevision(models.Model):
    """One saved state of an advisory's content (sealed under the advisory's key), numbered from 1.

    The diff between revisions is computed when shown, from the opened contents.
    """

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
