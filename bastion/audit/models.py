"""The audit trail's one table.

Rows are written only by :func:`bastion.audit.services.record` and are never updated or deleted:
database triggers (migration 0002, SQL in :mod:`bastion.audit.triggers`) refuse both, and
:meth:`AuditEvent.save` / :meth:`AuditEvent.delete` refuse them earlier with a clearer message.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from bastion.audit.chain import canonical_json
from bastion.audit.events import ActorKind, Event

HASH_LENGTH = 64  # hex digits of a SHA-256 digest


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or remove an audit row through the ORM."""


class AuditEvent(models.Model):
    """One thing that happened, who did it, to what, and the hash linking it to the row before.

    ``data`` holds small metadata only (ids, counts, old/new role names, filter values). It must
    **never** hold report plaintext, message bodies, secrets, tokens or passwords: audit rows can't
    be deleted, so anything written here stays for good. Pass ids, not content.

    There is deliberately no foreign key to the user table: audit rows outlive the accounts they
    mention and must never cascade, so the actor is kept as an id plus a label snapshot.
    """

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(db_index=True)
    # No ``choices=`` on purpose: the vocabulary grows with every app, and choices on the field would
    # make each new Event member an audit migration. Values are checked in services.record instead.
    event = models.CharField(max_length=64, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # A snapshot (the email at the time, "system", a typed login): later renames don't rewrite history.
    actor_label = models.CharField(max_length=254)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=HASH_LENGTH)
    hash = models.CharField(max_length=HASH_LENGTH)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]
        constraints = [
            # Belt and braces for the writer lock in services.record: if two writers ever did chain
            # onto the same row (a fork), the second insert fails instead of silently splitting
            # the chain.
            models.UniqueConstraint(fields=["prev_hash"], name="audit_one_successor_per_event"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.event} by {self.actor_label}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert only: saving a row that already exists would be an update."""
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only; they cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        """Always refused: the trail keeps every event."""
        raise AppendOnlyError("audit events are append-only; they cannot be deleted")

    @property
    def event_label(self) -> str:
        """The event's human name, or its raw value if it predates or postdates this vocabulary."""
        try:
            return str(Event(self.event).label)
        except ValueError:
            return self.event

    @property
    def details(self) -> str:
        """``data`` as compact JSON for display.

        Not walked in the template: there a key named ``items`` would shadow the dict method.
        """
        return canonical_json(self.data) if self.data else ""
