"""What triage adds to a report: the program and asset it belongs to, labels, clocks and the bounty.

These rows hold metadata in clear (states, vectors, ids, amounts, times), never report content:
the inbox filters and sorts on them at a million reports without opening anything. Anything a
person writes about a report (an override reason, a bounty note) is sealed like the rest.

A **program** is a promise with its own terms: which response targets apply, counted in calendar
hours or business hours, whether it pays bounties and how much. One default program always
exists (made by the migration); an **asset** belongs to one program, and a report on that asset
follows its program's terms.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from bastion.lib import lean


class Severity(models.TextChoices):
    """How bad a report is. Follows the CVSS score unless staff override it with a reason."""

    NONE = "none", "None"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


# Hours; every one is configurable per program (Program.targets overrides any of them).
DEFAULT_TARGETS: dict[str, object] = {
    "first_response": 24,
    "first_response_bounty": 72,
    "triage": 120,
    "bounty_decision": 336,
    "resolution": {"critical": 168, "high": 720, "medium": 2160, "low": 4320, "none": 4320},
}


class ProgramQuerySet(models.QuerySet["Program"]):
    """Sets of programs."""

    def default(self) -> Program:
        """The program a report without an asset follows.

        The migration makes it; it is made again here if it is gone (a test database flushed
        between tests, an admin's slip in the shell), because intake must never fail for want of
        terms. Two makers at once meet the one-default constraint: the loser reads the winner's.
        """
        # Read for every new report: the lean read, not the query compiler.
        found = lean.get(self.model, using=self.db, is_default=True)
        if found is None:
            try:
                with transaction.atomic():
                    return self.create(is_default=True, slug="default", name="Security program")
            except IntegrityError:
                return self.get(is_default=True)
        return found


class Program(models.Model):
    """The terms a report is worked under: response targets, working hours, bounties.

    ``targets`` holds hours by clock (see ``DEFAULT_TARGETS``; a missing key takes the default).
    ``business_hours`` is ``None`` for calendar hours (the default: attackers keep no office
    hours), or ``{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}`` counted in
    ``time_zone``, skipping the dates in ``holidays`` (ISO dates).
    ``bounty_table`` maps a severity to ``[min, max]`` in ``currency``; awards above
    ``approval_threshold`` need an admin's approval.
    """

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    is_default = models.BooleanField(default=False)
    offers_bounty = models.BooleanField(default=False)
    targets = models.JSONField(default=dict, blank=True)
    business_hours = models.JSONField(null=True, blank=True)
    holidays = models.JSONField(default=list, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    bounty_table = models.JSONField(default=dict, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    approval_threshold = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("1000"))
    # needs-more-info: warn the reporter after this many hours of silence, close after the second.
    needs_info_warn_hours = models.PositiveIntegerField(default=24 * 7)
    needs_info_close_hours = models.PositiveIntegerField(default=24 * 14)
    # Hand new reports round-robin to the triagers who are on duty.
    auto_assign = models.BooleanField(default=False)
    # Opt-in: publish rolling 90-day response figures at /security/stats.
    publish_stats = models.BooleanField(default=False)

    objects = ProgramQuerySet.as_manager()

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_program"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def target_hours(self, clock: str, severity: str = "") -> float | None:
        """Hours allowed for ``clock`` (for ``resolution``, by severity); None when there is no target."""
        value = self.targets.get(clock, DEFAULT_TARGETS.get(clock))
        if isinstance(value, dict):
            fallback = DEFAULT_TARGETS["resolution"]
            assert isinstance(fallback, dict)
            value = value.get(severity or "none", fallback.get(severity or "none"))
        return None if value is None else float(value)


class Asset(models.Model):
    """Something the program covers (a host, an app, a library); staff file each report under one."""

    name = models.CharField(max_length=120, unique=True)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="assets")
    description = models.CharField(max_length=300, blank=True)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    """A free tag staff put on reports to group and filter them (``needs-poc``, ``payments``)."""

    name = models.SlugField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ClockKind(models.TextChoices):
    """The response targets a report is measured against."""

    FIRST_RESPONSE = "first_response", "First response"
    TRIAGE = "triage", "Triage"
    BOUNTY_DECISION = "bounty_decision", "Bounty decision"
    RESOLUTION = "resolution", "Resolution"


class ClockQuerySet(models.QuerySet["Clock"]):
    """Sets of clocks."""

    def running(self) -> ClockQuerySet:
        """Clocks still counting: not met, not stopped, not paused."""
        return self.filter(met_at__isnull=True, stopped_at__isnull=True, paused_at__isnull=True)


class Clock(models.Model):
    """One response target on one report: when it started, when it is due, and what came of it.

    ``target_seconds`` is working time (calendar or business, as the program counts); ``due_at``
    is the wall-clock instant that works out to, recomputed on resume. While paused (the report
    waits on its reporter) ``due_at`` is NULL and ``remaining_seconds`` keeps what was left.
    A clock ends once: ``met_at`` (the target was met, even late) or ``stopped_at`` (no longer
    applies, e.g. the report was closed). A reporter's new message starts a fresh first-response
    clock; the old row stays as history, so at most one clock of a kind is open per report.
    """

    report = models.ForeignKey("reports.Report", on_delete=models.CASCADE, related_name="clocks")
    kind = models.CharField(max_length=16, choices=ClockKind.choices)
    started_at = models.DateTimeField(default=timezone.now)
    target_seconds = models.PositiveIntegerField()
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    remaining_seconds = models.PositiveIntegerField(null=True, blank=True)
    warned_half_at = models.DateTimeField(null=True, blank=True)
    warned_late_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    objects = ClockQuerySet.as_manager()

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "kind"],
                condition=Q(met_at__isnull=True, stopped_at__isnull=True),
                name="one_open_clock_per_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} clock on {self.report_id}"

    @property
    def is_open(self) -> bool:
        """Still counting or paused: neither met nor stopped."""
        return self.met_at is None and self.stopped_at is None


class BountyStatus(models.TextChoices):
    """Where a report's bounty stands: decided in steps, each by a named person."""

    PENDING = "pending", "Not decided"
    INELIGIBLE = "ineligible", "Not eligible"
    PROPOSED = "proposed", "Award proposed"
    APPROVED = "approved", "Award approved"
    PAID = "paid", "Paid"


class Bounty(models.Model):
    """A report's bounty: eligibility (in scope, first to report, policy followed) and the award.

    One row per report in a bounty program. An award moves proposed → approved → paid, each step
    with its person (``*_by``) and time (``*_at``); one above the program's threshold is approved
    by an admin only.
    ``note`` (sealed under the report's key) is the reason the reporter is given.
    """

    sealed_under = "report__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    report = models.OneToOneField("reports.Report", on_delete=models.CASCADE, related_name="bounty")
    in_scope = models.BooleanField(null=True)
    first_to_report = models.BooleanField(null=True)
    policy_followed = models.BooleanField(null=True)
    status = models.CharField(max_length=12, choices=BountyStatus.choices, default=BountyStatus.PENDING)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    note = models.BinaryField(null=True)  # sealed
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    proposed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name_plural = "bounties"

    def __str__(self) -> str:
        return f"bounty on {self.report_id} ({self.status})"
