"""Per-subject data keys, stored only in wrapped (master-key-encrypted) form."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from bastion.vault.envelope import unwrap_data_key
from bastion.vault.errors import KeyDestroyed
from bastion.vault.keys import KeyProvider

SUBJECT_MAX_LENGTH = 200


class DataKey(models.Model):
    """One random 256-bit data key for one subject (``"report:<uuid>"``), wrapped by a master key.

    Everything sealed for the subject (fields, messages, attachments) is sealed under this key, so
    destroying it (:meth:`shred`) makes all of it unreadable at once: crypto-shredding. The plain
    key is never stored; ``wrapped`` is bound by AAD to ``subject`` and ``master_version``, so a
    wrapped key copied onto another row or relabelled with another version does not open.

    Master-key rotation rewraps ``wrapped`` in place under a newer ``master_version`` (the
    ``vault_datakey_rotation_idx`` index serves its "oldest version first, in id order" batches,
    which makes it resumable). The subject is unique so an intake retry can't mint a second key.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = models.CharField(max_length=SUBJECT_MAX_LENGTH, unique=True)
    # Empty once shredded. PostgreSQL hands BinaryField values back as memoryview: use bytes().
    wrapped = models.BinaryField(editable=False)
    master_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["master_version", "id"], name="vault_datakey_rotation_idx")]

    def __str__(self) -> str:
        state = "destroyed" if self.destroyed_at else f"master v{self.master_version}"
        return f"data key for {self.subject} ({state})"

    @property
    def is_destroyed(self) -> bool:
        """True once the key has been shredded."""
        return self.destroyed_at is not None

    def unwrap(self, *, provider: KeyProvider | None = None) -> bytes:
        """The plain data key; :class:`KeyDestroyed` after shredding, :class:`SealError` if altered.

        There is deliberately no cache of unwrapped keys: a plain key should live in memory only
        for the request or task that needs it, and a per-process cache would also keep serving a
        key after another process shredded it. Unwrapping costs one HKDF and one AES-GCM open
        (microseconds); add a short-lived, size-bounded cache only if a benchmark asks for it.
        """
        if self.is_destroyed:
            raise KeyDestroyed(f"the data key for {self.subject} was destroyed")
        return unwrap_data_key(
            self.wrapped, master_version=self.master_version, subject=self.subject, provider=provider
        )

    def shred(self, *, why: str = "key_destroyed") -> None:
        """Destroy the key: a shred-ledger line first, then overwrite the wrapped key. Idempotent.

        The ledger line (fsynced, beside the master key) is what keeps the key destroyed when an
        older backup is restored, so every destruction goes through it, before the database. The
        row stays, so "this content was destroyed on <date>" remains answerable. Reports are
        shredded through ``reports.services.shredding``, which also tidies what hung on the key.
        """
        from bastion.vault.shredding import shred_ledger  # the ledger module imports this one

        if not self.is_destroyed:
            shred_ledger().append(self.subject, why=why)
        now = timezone.now()
        # A conditional UPDATE, not save(): two concurrent shreds record one destruction time.
        DataKey.objects.filter(pk=self.pk, destroyed_at__isnull=True).update(wrapped=b"", destroyed_at=now)
        self.refresh_from_db(fields=["wrapped", "destroyed_at"])


class OrgKey(models.Model):
    """The organisation's OpenPGP key: reporters encrypt to it, receipts and security.txt are signed.

    The public half is stored as is (it is published). The secret half is stored only sealed
    (AES-256-GCM under a key derived with HKDF from the master key for the purpose "org-openpgp-key",
    bound by AAD to the fingerprint), so a database dump alone never yields the key. At most one
    row is ``active``: a partial unique constraint enforces it, and is also what makes lazy,
    concurrent first-use generation safe (see :mod:`bastion.vault.orgkey`). Retired keys stay, so
    mail encrypted to them can still be opened.
    """

    fingerprint = models.CharField(max_length=64, unique=True)
    armored_public = models.TextField()
    # seal_secret's token: the master version (4 bytes) then the AES-GCM token. Never plaintext.
    sealed_secret = models.BinaryField(editable=False)
    master_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Keys we generate always expire; a key imported later might not.
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="vault_orgkey_one_active"
            )
        ]

    def __str__(self) -> str:
        state = "active" if self.active else "retired"
        return f"org key {self.fingerprint} ({state})"


class BackupState(models.TextChoices):
    """Where a backup run stands: written to at least one destination, or not."""

    RUNNING = "running", "Running"
    STORED = "stored", "Stored"
    FAILED = "failed", "Failed"


class Backup(models.Model):
    """One ``bastion backup`` run: the catalogue entry of one encrypted archive.

    The archive itself (``name``) holds the database snapshot, the sealed files and a manifest; this
    row keeps the manifest's summary (counts and versions, never content) so the admin screen and
    the key-retirement rule can answer without opening an archive. ``master_versions`` are the
    master-key versions that wrapped some data key in the snapshot: while any copy of this archive
    is kept, those versions must not be retired.
    """

    name = models.CharField(max_length=120, unique=True)
    state = models.CharField(max_length=10, choices=BackupState.choices, default=BackupState.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)  # encrypted bytes
    sha256 = models.CharField(max_length=64, blank=True)  # of the encrypted archive
    manifest = models.JSONField(default=dict, blank=True)  # summary: format, counts, versions
    master_versions = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"backup {self.name} ({self.state})"


class CopyState(models.TextChoices):
    """One destination's copy of an archive."""

    STORED = "stored", "Stored"
    FAILED = "failed", "Failed"
    PRUNED = "pruned", "Pruned"


class BackupCopy(models.Model):
    """Where one archive was written (a directory, an S3 bucket), and whether it is still there."""

    backup = models.ForeignKey(Backup, on_delete=models.CASCADE, related_name="copies")
    destination = models.CharField(max_length=100)  # the configured destination's name
    location = models.CharField(max_length=500, blank=True)  # path or s3://bucket/key
    state = models.CharField(max_length=10, choices=CopyState.choices)
    error = models.TextField(blank=True)
    stored_at = models.DateTimeField(null=True, blank=True)
    pruned_at = models.DateTimeField(null=True, blank=True)
    # Object Lock retention the bucket applied, when it has it.
    retain_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["destination"]
        constraints = [
            models.UniqueConstraint(fields=["backup", "destination"], name="vault_backupcopy_one_per_place")
        ]

    def __str__(self) -> str:
        return f"{self.backup.name} on {self.destination} ({self.state})"


class RestoreDrill(models.Model):
    """One restore drill (``bastion backup --verify``): the newest archive restored into scratch and checked.

    ``checked`` counts what was opened (reports, messages, attachments, audit events, files);
    ``ok`` is None while it runs. ``error`` is the first failure, in words an operator can act on.
    """

    backup = models.ForeignKey(
        Backup, on_delete=models.SET_NULL, null=True, blank=True, related_name="drills"
    )
    archive = models.CharField(max_length=500)  # what was restored (name, and where it was read)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)
    checked = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        outcome = "running" if self.ok is None else ("passed" if self.ok else "failed")
        return f"restore drill of {self.archive} ({outcome})"
