"""The triage workspace's own records: canned responses and saved inbox views.

Neither holds report content. Canned responses are the team's wording for each move (staff edit
them, and edit the pre-filled text again before it is sent); a saved view is an inbox query string.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from bastion.reports.workflow import Status


class CannedResponse(models.Model):
    """The reporter-facing message a status change starts from, as the team wrote it.

    ``status`` is the state a report moves to; the one marked ``is_default`` for that state
    pre-fills the status form. ``{tracking_id}`` in the body is replaced when the form is shown.
    """

    status = models.CharField(max_length=20, choices=Status.choices)
    title = models.CharField(max_length=120)
    body = models.TextField(max_length=10_000)
    is_default = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["status", "-is_default", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(is_default=True), name="one_default_canned_per_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"


class SavedView(models.Model):
    """A named inbox filter: the inbox's query string, kept for one person or shared with the team."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_name_per_owner")]

    def __str__(self) -> str:
        return self.name
