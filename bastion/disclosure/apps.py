"""The disclosure app: the way out, from an embargoed report to a published advisory."""

from django.apps import AppConfig


class DisclosureConfig(AppConfig):
    """Upstream hand-off, advisories, the Hall of Thanks, CSAF/OSV/CVE exports, security.txt, feeds."""

    name = "bastion.disclosure"
    label = "disclosure"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Replies to our hand-off mail are an upstream's: kept for staff on the handed-off report."""
        from bastion.reports.third_party_mail import register_third_party_mail

        register_third_party_mail("handoff", "bastion.disclosure.services.handoff.report_of_handoff")
