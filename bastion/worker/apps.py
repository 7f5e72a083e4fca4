"""App configuration for the background worker."""

from django.apps import AppConfig


class WorkerConfig(AppConfig):
    name = "bastion.worker"
    label = "worker"
    verbose_name = "Background worker"
