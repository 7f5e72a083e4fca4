"""The audit app: an append-only, hash-chained record of who did what."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Registers ``bastion.audit`` under the label ``audit`` (table names ``audit_*``)."""

    name = "bastion.audit"
    label = "audit"
    verbose_name = "Audit trail"
    default_auto_field = "django.db.models.BigAutoField"
