"""The intake app: the public security policy, the org key download and flood control."""

from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """Registers ``bastion.intake`` under the label ``intake`` (table names ``intake_*``)."""

    name = "bastion.intake"
    label = "intake"
    verbose_name = "Intake"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bastion.intake import checks  # noqa: F401  (registers the flood-limit settings check)
