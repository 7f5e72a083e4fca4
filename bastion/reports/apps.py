"""The reports app: the core records and services."""

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Registers ``bastion.reports`` under the label ``reports`` (table names ``reports_*``)."""

    name = "bastion.reports"
    label = "reports"
    verbose_name = "Reports"
    default_auto_field = "django.db.models.BigAutoField"
