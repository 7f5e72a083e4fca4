"""The vault app: per-report data keys and the sealing layer for data at rest."""

from django.apps import AppConfig


class VaultConfig(AppConfig):
    """Registers ``bastion.vault`` under the label ``vault`` (table names ``vault_*``)."""

    name = "bastion.vault"
    label = "vault"
    verbose_name = "Vault"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bastion.vault import checks  # noqa: F401  (registers the deploy checks)
        from bastion.vault.backup import recipients  # noqa: F401  (registers the drill key for rotation)
