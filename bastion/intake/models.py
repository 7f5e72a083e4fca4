"""Intake's tables: published policy versions, flood counters, and spent proof-of-work challenges."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

BODY_MAX_LENGTH = 20_000
SECTION_MAX_LENGTH = 10_000


class PolicyQuerySet(models.QuerySet["Policy"]):
    """Queries over policy versions."""

    def newest(self) -> Policy | None:
        """The highest version, i.e. the one in force; None only for an empty table."""
        return self.order_by("-version").first()


class Policy(models.Model):
    """One published version of the vulnerability disclosure policy; the newest is in force.

    Versions are immutable once saved: publishing an edit makes a new row (version N+1), and
    every earlier version stays, because a report records the version its reporter saw and the
    safe-harbor promise they relied on must stay provable. ``version`` is unique, which is also
    what settles two admins publishing at once (see ``services.publish_policy``).

    Text fields hold Markdown, rendered through :func:`bastion.lib.markdown.render_markdown`.
    """

    version = models.PositiveIntegerField(unique=True, validators=[MinValueValidator(1)])
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=BODY_MAX_LENGTH, help_text="Markdown")
    scope = models.TextField(max_length=SECTION_MAX_LENGTH, help_text="Markdown: what is in and out of scope")
    safe_harbor = models.TextField(max_length=SECTION_MAX_LENGTH, help_text="Markdown")
    first_response_hours = models.PositiveIntegerField(
        default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 30)]
    )
    triage_days = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    fix_targets = models.TextField(
        max_length=SECTION_MAX_LENGTH, help_text="Markdown: the fix target for each severity"
    )
    published_at = models.DateTimeField(default=timezone.now, editable=False)
    # Null only for the default version 1, which Bastion itself published. PROTECT: staff are
    # deactivated, never deleted, and who published a promise must stay on record.
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = PolicyQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        verbose_name_plural = "policies"
        constraints = [
            models.CheckConstraint(condition=models.Q(version__gte=1), name="intake_policy_version_gte_1")
        ]

    def __str__(self) -> str:
        return f"{self.title} (version {self.version})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert only: a published version is never edited in place."""
        if not self._state.adding:
            raise ValueError("a published policy version is immutable; publish a new version instead")
        super().save(*args, **kwargs)


class FloodCounter(models.Model):
    """How many intake attempts one key made in one fixed time window.

    ``scope`` is ``ip``, ``email``, ``global``, ``mail_sender`` or ``mail_global``; ``key_digest``
    is a keyed HMAC of the IP (or its /64) or of the e-mail address, so this table holds no
    addresses in the clear (empty for the global scopes). Rows are incremented by a single UPSERT
    (:mod:`bastion.intake.flood`) and pruned by a periodic task once their window is over.
    """

    scope = models.CharField(max_length=16)
    key_digest = models.CharField(max_length=64, blank=True)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # The UPSERT's conflict target: one row per key and window.
            models.UniqueConstraint(
                fields=["scope", "key_digest", "window_start"], name="intake_flood_one_row"
            )
        ]
        indexes = [models.Index(fields=["window_start"], name="intake_flood_prune_idx")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key_digest[:12]} @ {self.window_start:%Y-%m-%d %H:%M:%S}: {self.count}"


class UsedChallenge(models.Model):
    """A proof-of-work challenge that was already redeemed, kept until it would have expired anyway.

    Its nonce is unique, so redeeming is an INSERT that fails the second time: single use holds
    across processes and under concurrent submissions. After ``expires_at`` the challenge's own
    expiry refuses it, so the row can be pruned.
    """

    nonce = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"challenge {self.nonce[:12]} (until {self.expires_at:%Y-%m-%d %H:%M})"
