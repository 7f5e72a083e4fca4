"""A report's states and the one table of moves between them.

The states follow ISO/IEC 30111's phases loosely: a report arrives (``new``), may wait on the
reporter (``needs_more_info``), is verified (``triaged``) and then closed one way or another. Every
closed state can be reopened, because a fix turns out incomplete, or a report marked duplicate or
spam was not. Nothing else in the code decides what may follow what: ask :func:`can_transition`.
"""

from __future__ import annotations

from django.db import models


class Status(models.TextChoices):
    """Where a report stands. Values are stored and shown to reporters: never rename one."""

    NEW = "new", "New"
    NEEDS_MORE_INFO = "needs_more_info", "Needs more information"
    TRIAGED = "triaged", "Triaged"
    RETESTING = "retesting", "Retesting"
    RESOLVED = "resolved", "Resolved"
    INFORMATIVE = "informative", "Informative"
    DUPLICATE = "duplicate", "Duplicate"
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    SPAM = "spam", "Spam"


_CLOSE_UNTRIAGED = {Status.INFORMATIVE, Status.DUPLICATE, Status.NOT_APPLICABLE, Status.SPAM}

TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.NEEDS_MORE_INFO, Status.TRIAGED, *_CLOSE_UNTRIAGED}),
    # Back to NEW when the reporter has answered and the report goes back into the inbox.
    Status.NEEDS_MORE_INFO: frozenset({Status.NEW, Status.TRIAGED, *_CLOSE_UNTRIAGED}),
    # Once verified, a report is real: it can no longer be spam, and only now can it be resolved
    # (directly, or after the reporter or staff retest the fix).
    Status.TRIAGED: frozenset(
        {
            Status.NEEDS_MORE_INFO,
            Status.RETESTING,
            Status.RESOLVED,
            Status.INFORMATIVE,
            Status.DUPLICATE,
            Status.NOT_APPLICABLE,
        }
    ),
    # A fix is being checked: it holds (resolved), or it does not and work goes on (triaged).
    Status.RETESTING: frozenset({Status.TRIAGED, Status.NEEDS_MORE_INFO, Status.RESOLVED}),
    # Reopened: the fix was incomplete or regressed. It was verified once, so it stays triaged.
    Status.RESOLVED: frozenset({Status.TRIAGED, Status.RETESTING}),
    Status.INFORMATIVE: frozenset({Status.NEW, Status.TRIAGED}),
    Status.DUPLICATE: frozenset({Status.NEW, Status.TRIAGED}),
    Status.NOT_APPLICABLE: frozenset({Status.NEW, Status.TRIAGED}),
    # Spam was never looked at as a report: a mistaken spam verdict goes back to the inbox.
    Status.SPAM: frozenset({Status.NEW}),
}

CLOSED: frozenset[Status] = frozenset(
    {Status.RESOLVED, Status.INFORMATIVE, Status.DUPLICATE, Status.NOT_APPLICABLE, Status.SPAM}
)


def can_transition(current: Status | str, target: Status | str) -> bool:
    """Whether a report in ``current`` may move to ``target``. Staying put is not a move."""
    return Status(target) in TRANSITIONS[Status(current)]


def allowed_next(current: Status | str) -> list[Status]:
    """The states a report in ``current`` may move to, in the order the choices are declared."""
    moves = TRANSITIONS[Status(current)]
    return [status for status in Status if status in moves]


def is_closed(status: Status | str) -> bool:
    """True for the end states (resolved and the four ways of closing without a fix)."""
    return Status(status) in CLOSED
