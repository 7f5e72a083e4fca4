"""What Bastion publishes: export documents, imported thanks, and the signed security.txt.

All of it is public by definition, so it is stored in clear and served without decrypting
anything.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class DocumentKind(models.TextChoices):
    """The machine-readable forms an advisory is published in."""

    CSAF = "csaf", "CSAF 2.0"
    OSV = "osv", "OSV"
    CVE = "cve", "CVE JSON 5.1 (CNA container)"


class PublishedDocument(models.Model):
    """One published export of one advisory, with its SHA-256 and detached OpenPGP signature.

    ``path`` is where it is served under its kind's root (for CSAF, ``2026/bastion-sa-2026-0001.json``
    below ``/.well-known/csaf/white/``). Rewritten in place when the advisory is updated.
    """

    advisory = models.ForeignKey("disclosure.Advisory", on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=8, choices=DocumentKind.choices)
    path = models.CharField(max_length=200)
    content = models.TextField()
    sha256 = models.CharField(max_length=64)
    signature = models.TextField()  # armored, detached, by the org key
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "path"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "path"], name="published_document_path"),
            models.UniqueConstraint(fields=["advisory", "kind"], name="published_document_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.path}"


class ThanksEntry(models.Model):
    """A Hall of Thanks entry that predates Bastion's credit ledger, imported by an admin."""

    name = models.CharField(max_length=200)
    link = models.URLField(max_length=500, blank=True)
    year = models.PositiveIntegerField(db_index=True)
    note = models.CharField(max_length=300, blank=True)
    imported_at = models.DateTimeField(default=timezone.now, editable=False)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-year", "name"]
        verbose_name_plural = "thanks entries"
        constraints = [models.UniqueConstraint(fields=["name", "year"], name="thanks_entry_name_year")]

    def __str__(self) -> str:
        return f"{self.name} ({self.year})"


class SecurityTxt(models.Model):
    """One signed security.txt (RFC 9116); the newest is served.

    ``text`` is the whole cleartext-signed document as served, so what was served on a given day
    stays provable. A new one is made before ``expires_at`` comes close, or when settings change.
    """

    text = models.TextField()
    expires_at = models.DateTimeField()
    signed_at = models.DateTimeField(default=timezone.now, editable=False)
    key_fingerprint = models.CharField(max_length=64)
    body_sha256 = models.CharField(max_length=64)  # of the unsigned body, to see when settings changed
    # The signing key's own expiry (NULL: it has none): Expires never goes past it.
    key_expires_at = models.DateTimeField(null=True, blank=True)
    # When admins were told that this document's Expires, or its key's expiry, is 30 days off: set by
    # a conditional UPDATE, so each alert goes once however many workers run the check. A new row
    # signed by the same key inherits ``key_alerted_at`` (that key's lapse was already announced).
    expiry_alerted_at = models.DateTimeField(null=True, blank=True)
    key_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-signed_at", "-id"]
        get_latest_by = "signed_at"

    def __str__(self) -> str:
        return f"security.txt signed {self.signed_at:%Y-%m-%d}"
