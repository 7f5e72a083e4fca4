"""What the vault's custody of reports adds to them: retention rules for closed reports.

A report's content is destroyed by shredding its data key (``vault.DataKey.destroyed_at``): the
row and its clear metadata stay as a tombstone. Shredding happens on an approved deletion request
(``Report.deletion_*``), on a :class:`RetentionRule`, or by ``bastion shred``; see
:mod:`bastion.reports.services.shredding`.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from bastion.reports.workflow import CLOSED, Status

# Ten years: a longer rule is a mistake, not a policy.
MAX_RETENTION_DAYS = 3650


class RetentionRule(models.Model):
    """Shred reports closed in ``status`` once ``after_days`` have passed since they were closed."""

    status = models.CharField(
        max_length=20, unique=True, choices=[(s.value, s.label) for s in Status if s in CLOSED]
    )
    after_days = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RETENTION_DAYS)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["status"]

    def __str__(self) -> str:
        return f"shred {self.get_status_display()} reports {self.after_days} days after closing"
