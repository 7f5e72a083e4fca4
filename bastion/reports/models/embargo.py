"""Embargoes: the agreement that nothing about a report goes public before one UTC instant.

An embargo narrows who may see a report while it runs: only staff granted on it (an
:class:`AccessGrant` of kind GRANT) or staff who broke the glass (kind BREAK_GLASS, with a sealed
reason, audited, and time-limited). It lives in ``reports`` because it decides who may load a
report at all, which every way in and out asks (triage's access helpers, disclosure's publishing
rule), and those apps may not import one another.

The instant is stored in UTC and only ever shown converted to the viewer's zone, with the UTC
instant beside it: "ends 14:00 UTC" read as local time is the time-zone confusion this prevents.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class EmbargoQuerySet(models.QuerySet["Embargo"]):
    """Sets of embargoes."""

    def running(self, now: object | None = None) -> EmbargoQuerySet:
        """Embargoes in force at ``now``: not lifted, and not yet at their end."""
        at = now or timezone.now()
        return self.filter(lifted_at__isnull=True, ends_at__gt=at)


class Embargo(models.Model):
    """One report's embargo: its end instant (UTC), the stated reason (sealed), and who set it.

    ``ends_at`` may be moved; each move bumps ``version`` and makes every party's acknowledgement
    stale (a party acknowledged an instant, not an embargo). ``lifted_at`` ends it early.
    ``reminders_sent`` lists the reminder steps (seconds before the end) already sent, claimed by
    a conditional UPDATE so two workers never send one twice.
    """

    sealed_under = "report__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    report = models.OneToOneField("reports.Report", on_delete=models.CASCADE, related_name="embargo")
    ends_at = models.DateTimeField(db_index=True)
    reason = models.BinaryField()  # sealed under the report's data key
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    reminders_sent = models.JSONField(default=list, blank=True)

    objects = EmbargoQuerySet.as_manager()

    def __str__(self) -> str:
        return f"embargo on {self.report_id} until {self.ends_at:%Y-%m-%d %H:%M} UTC"

    def is_running(self, now: object | None = None) -> bool:
        """Whether the embargo is in force at ``now``."""
        at = now or timezone.now()
        return self.lifted_at is None and self.ends_at > at  # type: ignore[operator]


class PartyKind(models.TextChoices):
    """Who is bound by an embargo."""

    REPORTER = "reporter", "Reporter"
    UPSTREAM = "upstream", "Upstream project"
    INTERNAL = "internal", "Internal team"


class EmbargoParty(models.Model):
    """A party bound by an embargo, and whether they acknowledged its current end instant.

    ``acknowledged_ends_at`` is the instant they agreed to: when the embargo moves, it no longer
    matches ``embargo.ends_at`` and the party shows as unacknowledged again. ``label`` names the
    party ("Reporter", "Rails security team"); it is a name, not report content.
    """

    sealed_under = "embargo__report__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    embargo = models.ForeignKey(Embargo, on_delete=models.CASCADE, related_name="parties")
    kind = models.CharField(max_length=10, choices=PartyKind.choices)
    label = models.CharField(max_length=200)
    email = models.BinaryField(null=True)  # sealed: where reminders go (None: the reporter's own)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "embargo parties"

    def __str__(self) -> str:
        return f"{self.label} ({self.kind}) on {self.embargo_id}"

    @property
    def is_acknowledged(self) -> bool:
        """Whether the party acknowledged the embargo's current end instant."""
        return self.acknowledged_ends_at is not None and self.acknowledged_ends_at == self.embargo.ends_at


class GrantKind(models.TextChoices):
    """How a staff member came to see an embargoed report."""

    GRANT = "grant", "Granted"
    BREAK_GLASS = "break_glass", "Break-glass"


class AccessGrantQuerySet(models.QuerySet["AccessGrant"]):
    """Sets of access grants."""

    def in_force(self, now: object | None = None) -> AccessGrantQuerySet:
        """Grants not revoked and not expired at ``now``."""
        at = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=at)
        )


class AccessGrant(models.Model):
    """Staff member ``user`` may see embargoed report ``report``: granted, or by break-glass.

    A break-glass grant carries a sealed reason and an expiry; it is audited when taken and
    reported to the report's lead. A plain grant lasts until revoked.
    """

    sealed_under = "report__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    report = models.ForeignKey("reports.Report", on_delete=models.CASCADE, related_name="access_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=GrantKind.choices)
    reason = models.BinaryField(null=True)  # sealed; required for break-glass
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessGrantQuerySet.as_manager()

    class Meta:
        ordering = ["-granted_at", "-id"]
        indexes = [models.Index(fields=["user", "report"], name="grant_user_report")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id} on {self.report_id}"
