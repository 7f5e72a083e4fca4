"""The triage app: the staff side of reports."""

from django.apps import AppConfig


class TriageConfig(AppConfig):
    """The staff inbox, the report page and the actions taken from it."""

    name = "bastion.triage"
    label = "triage"
    default_auto_field = "django.db.models.BigAutoField"
