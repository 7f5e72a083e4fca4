"""The reports app: the core records and services."""

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Registers ``bastion.reports`` under the label ``reports`` (table names ``reports_*``)."""

    name = "bastion.reports"
    label = "reports"
    verbose_name = "Reports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Have the audit screen mask reports under embargo from readers not granted on them."""
        # Registered, not imported by audit: audit sits below reports and may not ask it directly.
        from bastion.audit.concealment import register_concealer
        from bastion.reports.access import hidden_from_audit

        register_concealer("reports", hidden_from_audit, label="a report under embargo")
