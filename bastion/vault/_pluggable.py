"""Loading the deployment's choice of a swappable piece (key provider, blob storage) from settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string


def from_setting(name: str, protocol: Any) -> Any:
    """The instance the class named by setting ``name`` makes with ``from_settings()``.

    ImproperlyConfigured, naming the setting, when the path does not import or what it makes does
    not satisfy ``protocol`` (a runtime-checkable Protocol).
    """
    dotted = getattr(settings, name)
    try:
        factory = import_string(dotted)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{name}: cannot import {dotted!r}") from exc
    made = factory.from_settings()
    if not isinstance(made, protocol):
        raise ImproperlyConfigured(f"{name}: {dotted!r} does not give a {protocol.__name__}")
    return made
