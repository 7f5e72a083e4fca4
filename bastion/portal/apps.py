"""The reporter's side: a magic link (no account) to a report's status, timeline and conversation."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The portal app: views over the reports services, no models of its own."""

    name = "bastion.portal"
    label = "portal"
    default_auto_field = "django.db.models.BigAutoField"
