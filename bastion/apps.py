"""The project package as an app: it owns the base templates, static assets and system checks."""

from django.apps import AppConfig


class BastionConfig(AppConfig):
    name = "bastion"
    verbose_name = "Bastion"

    def ready(self) -> None:
        from bastion import checks  # noqa: F401  (registers the system checks)
