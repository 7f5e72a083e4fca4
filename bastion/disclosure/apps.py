"""The disclosure app: the way out, from an embargoed report to a published advisory."""

from django.apps import AppConfig


class DisclosureConfig(AppConfig):
    """Upstream hand-off, advisories, the Hall of Thanks, CSAF/OSV/CVE exports, security.txt, feeds."""

    name = "bastion.disclosure"
    label = "disclosure"
    default_auto_field = "django.db.models.BigAutoField"
