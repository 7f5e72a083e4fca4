"""The credit ledger: who is thanked for a report, how they chose to appear, and every change.

A credit is tied to a report and its receipt (the proof of when that person reported). The
person's name, handle and link are sealed under the report's data key until an advisory
publishes them; only then is the public form copied into clear columns (``published_*``), which
the Hall of Thanks and the exports read. A correction never overwrites silently: each change
keeps a :class:`CreditChange` with the sealed before and after and the reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import models
from django.utils import timezone


class CreditType(models.TextChoices):
    """The credit taxonomy shared by CVE JSON 5 (``credits[].type``), OSV and GHSA."""

    FINDER = "finder", "Finder"
    REPORTER = "reporter", "Reporter"
    ANALYST = "analyst", "Analyst"
    COORDINATOR = "coordinator", "Coordinator"
    REMEDIATION_DEVELOPER = "remediation developer", "Remediation developer"
    REMEDIATION_REVIEWER = "remediation reviewer", "Remediation reviewer"
    REMEDIATION_VERIFIER = "remediation verifier", "Remediation verifier"
    TOOL = "tool", "Tool"
    SPONSOR = "sponsor", "Sponsor"
    OTHER = "other", "Other"


class Appearance(models.TextChoices):
    """How a credited person appears in public."""

    NAME = "name", "By name"
    HANDLE = "handle", "By handle"
    LINK = "link", "By name or handle, with a link"
    ANONYMOUS = "anonymous", "Anonymously"


@dataclass(frozen=True)
class PublicCredit:
    """A credit as published: the name shown (already reduced to what the person chose), a link.

    Defined here, below the disclosure app, because the ledger (``reports``) produces it and the
    advisories and exports (``disclosure``) consume it; ``disclosure.content`` re-exports it.
    """

    name: str
    credit_type: str = "finder"  # a CreditType value
    link: str = ""


class CreditQuerySet(models.QuerySet["Credit"]):
    """Sets of credits."""

    def current(self) -> CreditQuerySet:
        """Credits not withdrawn."""
        return self.filter(withdrawn_at__isnull=True)

    def published(self) -> CreditQuerySet:
        """Credits an advisory has made public (what the Hall of Thanks lists)."""
        return self.current().filter(published_at__isnull=False)


class Credit(models.Model):
    """One person's credit on one report, of one type.

    ``person`` is sealed JSON ``{"name", "handle", "link"}``. The reporter's own credit
    (``is_reporter``) follows their choice in the portal, and publication waits for their
    ``confirmed_at``; credits staff add (analyst, coordinator, …) are confirmed by the staff member
    who adds them. ``version`` makes two people editing one credit a stale edit, not a lost one.
    """

    sealed_under = "report__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    report = models.ForeignKey("reports.Report", on_delete=models.PROTECT, related_name="credits")
    receipt = models.ForeignKey("reports.Receipt", on_delete=models.PROTECT, related_name="credits")
    credit_type = models.CharField(max_length=24, choices=CreditType.choices, default=CreditType.FINDER)
    is_reporter = models.BooleanField(default=False)
    appearance = models.CharField(max_length=10, choices=Appearance.choices, default=Appearance.ANONYMOUS)
    person = models.BinaryField()  # sealed JSON
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    # Set when an advisory publishes this credit: the public form, in clear (it is public now).
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    published_name = models.CharField(max_length=200, blank=True)
    published_link = models.URLField(max_length=500, blank=True)

    objects = CreditQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.credit_type} credit on {self.report_id}"


class CreditChange(models.Model):
    """One change to a credit (set, chosen, confirmed, corrected, withdrawn), kept forever.

    ``before`` and ``after`` are sealed JSON snapshots of the credit's public-facing fields;
    ``reason`` (sealed) says why a correction was made. ``actor`` is the audit actor's label.
    """

    sealed_under = "credit__report__data_key"  # the key its BinaryFields are sealed under
    uid = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    credit = models.ForeignKey(Credit, on_delete=models.CASCADE, related_name="changes")
    action = models.CharField(max_length=16)
    actor = models.CharField(max_length=200)
    before = models.BinaryField(null=True)  # sealed JSON
    after = models.BinaryField(null=True)  # sealed JSON
    reason = models.BinaryField(null=True)  # sealed
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} on credit {self.credit_id}"
