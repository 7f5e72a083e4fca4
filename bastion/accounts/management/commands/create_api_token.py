"""``bastion create-api-token EMAIL --scope reports:read``: make a personal API token, print it once.

For scripts and first set-up on the server; staff otherwise make their own tokens on the profile
page. The token is printed to stdout once and stored only as a hash: whoever runs this command
hands it to its owner.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from bastion.accounts.models import ApiScope, User, normalize_email_address
from bastion.accounts.services.api_tokens import ApiTokenRejected, clean_scopes, create_api_token
from bastion.audit.services import Actor

SCOPES = ", ".join(scope.value for scope in ApiScope)


class Command(BaseCommand):
    help = "Create a personal API token for a staff member and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", metavar="USERNAME", help="The staff member's e-mail address.")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            default=[],
            metavar="SCOPE",
            help=f"A scope the token carries (repeat for more): {SCOPES}.",
        )
        parser.add_argument("--name", default="", help="What the token is for (default: “command line”).")
        parser.add_argument(
            "--expires-days", type=int, default=None, metavar="N", help="Stop working after N days."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email = normalize_email_address(options["username"])
        user = User.objects.filter(email=email).first()
        if user is None:
            raise CommandError(
                f"No staff account has the address {email}. Check the spelling on the Team page."
            )
        if not user.is_active:
            raise CommandError(f"{email} is deactivated; an admin must reactivate the account first.")
        if not options["scopes"]:
            raise CommandError(f"Give at least one --scope: {SCOPES}.")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be a whole number of days, 1 or more.")
        try:
            scopes = clean_scopes(options["scopes"])
            token, plaintext = create_api_token(
                user=user,
                name=options["name"] or "command line",
                scopes=scopes,
                expires_at=timezone.now() + timedelta(days=days) if days else None,
                actor=Actor.system(),
            )
        except ApiTokenRejected as error:
            raise CommandError(" ".join(error.messages)) from None
        expiry = f"until {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "until revoked"
        self.stdout.write(f"API token for {email} ({', '.join(token.scopes)}), valid {expiry}:")
        self.stdout.write(f"  {plaintext}")
        self.stdout.write(
            "It is shown only this once. Send it as `Authorization: Bearer <token>`; "
            "revoke it on the profile page."
        )
