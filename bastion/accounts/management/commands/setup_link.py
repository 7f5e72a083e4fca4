"""``bastion setup-link``: print a one-time link that creates the first admin account."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from bastion.accounts.services import issue_setup_link


class Command(BaseCommand):
    help = "Print a one-time link that creates the first admin account (only while there is no staff)."

    def handle(self, *args: Any, **options: Any) -> None:
        url = issue_setup_link(actor=None)
        if url is None:
            self.stdout.write(
                "An active staff account already exists, so no setup link was issued. "
                "Ask an administrator to invite you from the Team page."
            )
            return
        hours = settings.SETUP_LINK_HOURS
        self.stdout.write(f"Open this link within {hours} hours to create the first admin account:")
        self.stdout.write(f"  {url}")
        self.stdout.write("It works once. Any earlier setup link no longer works.")
