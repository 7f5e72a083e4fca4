"""Upstream coordination: the directory of upstream contacts, and each hand-off of a report to one.

The directory (who Rails, Ruby or a library's security team are, their addresses and OpenPGP keys)
is not report content and is stored in clear. A hand-off's packet (the redacted summary we sent)
is report content and is sealed under the report's data key.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Channel(models.TextChoices):
    """How an upstream prefers to receive a report."""

    EMAIL = "email", "Encrypted email"
    HACKERONE = "hackerone", "HackerOne"
    GITHUB = "github", "GitHub private vulnerability reporting"
    CERT = "cert", "A CERT/CSIRT"
    OTHER = "other", "Their own channel"


class UpstreamContact(models.Model):
    """An upstream project's security contact: names, address, OpenPGP key with expiry, channel.

    ``public_key`` is the armored key; its fingerprint and expiry are read from it when it is saved,
    so an expired key is refused at hand-off time with a message saying so.
    """

    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    project = models.CharField(max_length=200)  # "Ruby on Rails"
    ecosystem = models.CharField(max_length=40, blank=True)  # OSV ecosystem: RubyGems, npm, PyPI, …
    packages = models.TextField(blank=True)  # one package name per line
    contact_name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    public_key = models.TextField(blank=True)
    key_fingerprint = models.CharField(max_length=64, blank=True)
    key_expires_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    channel_url = models.URLField(max_length=500, blank=True)
    notes = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project"]

    def __str__(self) -> str:
        return self.project


class HandoffStatus(models.TextChoices):
    """Where the upstream is with the flaw we handed them."""

    NOTIFIED = "notified", "Notified"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    FIX_IN_PROGRESS = "fix_in_progress", "Fix in progress"
    FIXED = "fixed", "Fixed"
    PUBLISHED = "published", "Published"


class Handoff(models.Model):
    """One report handed to one upstream: what was shared, the upstream's status, deadline and IDs.

    ``shared`` lists the sections of the packet that were shared (for the reporter's portal, which
    says "forwarded to upstream" and what went); ``identity_shared`` records that the reporter
    consented to their identity going along. ``packet`` is the packet as sent (sealed Markdown).
    """

    sealed_under = "report__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    report = models.ForeignKey("reports.Report", on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(UpstreamContact, on_delete=models.PROTECT, related_name="handoffs")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=16, choices=HandoffStatus.choices, default=HandoffStatus.NOTIFIED)
    deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    ghsa_id = models.CharField("GHSA ID", max_length=40, blank=True)
    cve_id = models.CharField("CVE ID", max_length=20, blank=True)
    tracking_url = models.URLField(max_length=500, blank=True)
    identity_shared = models.BooleanField(default=False)
    shared = models.JSONField(default=list, blank=True)
    packet = models.BinaryField(null=True)  # sealed under the report's data key
    sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    status_changed_at = models.DateTimeField(default=timezone.now)
    reminders_sent = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"hand-off of {self.report_id} to {self.contact_id}"
