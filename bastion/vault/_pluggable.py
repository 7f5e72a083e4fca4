"""Loading the deployment's choice of a swappable piece (key provider, blob storage) from settings."""

from __future__ import annotations

import functools
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
        factory = _import(dotted)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{name}: cannot import {dotted!r}") from exc
    made = factory.from_settings()
    if not _satisfies(made, protocol):
        raise ImproperlyConfigured(f"{name}: {dotted!r} does not give a {protocol.__name__}")
    return made


# Every sealed field and file asks for the key provider or the storage: importing the path and
# checking a runtime Protocol (a hasattr per member) each time cost more than the AES itself.
_import = functools.cache(import_string)


_SATISFIES: dict[tuple[type, Any], bool] = {}


def _satisfies(made: object, protocol: Any) -> bool:
    """``isinstance(made, protocol)``, worked out once per class: the protocols name methods only."""
    key = (type(made), protocol)
    if key not in _SATISFIES:
        _SATISFIES[key] = isinstance(made, protocol)
    return _SATISFIES[key]
