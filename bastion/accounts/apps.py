"""Staff accounts: users, roles, mandatory MFA, invitations and the first-admin setup link."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "bastion.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"

    def ready(self) -> None:
        from bastion.accounts import sealed_secrets, signals  # noqa: F401 - importing sealed_secrets registers it

        signals.connect()
