"""``bastion org-key``: show the org OpenPGP key's fingerprint and expiry, generating it if missing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from bastion.intake.services import ensure_org_key

# Warn this long before expiry: enough time to rotate and republish security.txt.
EXPIRY_WARNING = timedelta(days=60)


class Command(BaseCommand):
    """Print the active org key; generate (and audit) it first if there is none."""

    help = "Show the organisation's OpenPGP key (fingerprint and expiry); generate it if there is none."

    def handle(self, *args: Any, **options: Any) -> None:
        """Ensure the key exists, then print what a researcher would compare against."""
        key, created = ensure_org_key(actor=None)
        if created:
            self.stdout.write(self.style.SUCCESS("Generated a new org OpenPGP key."))
        self.stdout.write(f"Fingerprint: {key.fingerprint}")
        self.stdout.write(f"User ID:     {', '.join(key.user_ids)}")
        if key.expires_at is None:
            self.stdout.write("Expires:     never")
            return
        self.stdout.write(f"Expires:     {key.expires_at:%Y-%m-%d %H:%M} UTC")
        now = timezone.now()
        if key.expires_at <= now:
            self.stderr.write(self.style.ERROR("The org key has expired: rotate it and republish it."))
        elif key.expires_at - now < EXPIRY_WARNING:
            self.stderr.write(
                self.style.WARNING(
                    f"The org key expires on {key.expires_at:%Y-%m-%d}: rotate it and republish it."
                )
            )
