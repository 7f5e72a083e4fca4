"""What the audit screen must not show a reader: references the app that owns them says are hidden.

The trail is complete and append-only, and reading it is itself audited, so nothing is ever left
out of it; but a row can name something its reader may not see. A report under a running embargo
is for the staff granted on it alone, down to its tracking ID, and an admin reading the trail is
no exception. Whether a reader may see a report is ``reports.access``'s rule, and ``audit`` sits
below ``reports`` (it may not import it). So the owning app registers a :data:`Concealer` here,
from its ``AppConfig.ready()``, the way apps register their sealed secrets with
``vault.rotation``; the screen asks every registered concealer once per page, and shows each
hidden reference as a label ("a report under embargo") in place of the target and of every
mention in the row's data. The row stays on the page, with its event, actor and time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

Reader = AbstractBaseUser | AnonymousUser
"""Whoever reads the screen, as a request carries them (audit knows no user model of its own)."""


@dataclass(frozen=True)
class Concealed:
    """What one reader may not see: targets by (type, id), and identifiers mentioned in data.

    ``words`` are whole identifiers (tracking IDs), replaced wherever a data value holds them.
    """

    targets: frozenset[tuple[str, str]] = frozenset()
    words: frozenset[str] = frozenset()


Concealer = Callable[[Reader], Concealed]
"""Given the reader, everything of one kind that they may not see."""


@dataclass(frozen=True)
class _Registered:
    concealer: Concealer
    label: str


_registered: dict[str, _Registered] = {}


def register_concealer(name: str, concealer: Concealer, *, label: str) -> None:
    """Have the audit screen hide from each reader what ``concealer`` returns, shown as ``label``.

    Registering a name again replaces it (an AppConfig's ready() may run more than once in tests).
    """
    _registered[name] = _Registered(concealer=concealer, label=label)


def unregister_concealer(name: str) -> None:
    """Stop asking the concealer registered as ``name`` (tests that register their own)."""
    _registered.pop(name, None)


@dataclass(frozen=True)
class Mask:
    """Every registered concealer's answer for one reader, ready to apply to a page of rows."""

    targets: dict[tuple[str, str], str] = field(default_factory=dict)  # (type, id) -> label
    words: dict[str, str] = field(default_factory=dict)  # identifier -> label
    pattern: re.Pattern[str] | None = None

    def target(self, target_type: str, target_id: str) -> str | None:
        """The label to show for this target, or None if the reader may see it."""
        return self.targets.get((target_type, target_id))

    def data(self, value: Any) -> tuple[Any, bool]:
        """``value`` with every hidden reference replaced by its label, and whether any was.

        A reference is an identifier (a word) anywhere, or a hidden target named by a
        ``target_type`` and ``target_id`` pair in one object (what an audit search records).
        """
        if self.pattern is None and not self.targets:
            return value, False
        pattern = self.pattern
        changed = False

        def walk(item: Any) -> Any:
            nonlocal changed
            if isinstance(item, str):
                if pattern is None:
                    return item
                replaced = pattern.sub(lambda found: f"({self.words[found.group(0)]})", item)
                changed = changed or replaced != item
                return replaced
            if isinstance(item, list):
                return [walk(element) for element in item]
            if isinstance(item, dict):
                walked = {walk(key): walk(element) for key, element in item.items()}
                label = self.target(str(item.get("target_type", "")), str(item.get("target_id", "")))
                if label is not None:
                    walked["target_id"] = f"({label})"
                    changed = True
                return walked
            return item

        return walk(value), changed

    def narrow(self, events: QuerySet[Any], *, by_target: bool, by_actor: bool) -> QuerySet[Any]:
        """Leave out the rows a search could find only through something hidden.

        Unfiltered, every row is listed (masked). But a search by target or by actor that lists
        masked rows would tell the reader that what they typed (a report's id, a tracking ID in
        "reporter of BST-...") is hidden, which is exactly what the mask keeps from them; so those
        searches do not find them, as if there were none.
        """
        if by_target and self.targets:
            hidden = Q()
            for target_type, target_id in self.targets:
                hidden |= Q(target_type=target_type, target_id=target_id)
            events = events.exclude(hidden)
        if by_actor and self.words:
            named = Q()
            for word in self.words:
                named |= Q(actor_label__contains=word)
            events = events.exclude(named)
        return events


def mask_for(reader: Reader) -> Mask:
    """What ``reader`` may not see, from every registered concealer (each asked once)."""
    targets: dict[tuple[str, str], str] = {}
    words: dict[str, str] = {}
    for entry in _registered.values():
        concealed = entry.concealer(reader)
        targets.update(dict.fromkeys(concealed.targets, entry.label))
        words.update(dict.fromkeys(concealed.words, entry.label))
    return Mask(targets=targets, words=words, pattern=_pattern(words))


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    # Longest first, and only whole identifiers: one ID must not match inside a longer one.
    ordered = sorted((word for word in words if word), key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, ordered)) + r")(?![\w-])")
