"""Why a reports service refused, in words a person can act on. No message ever quotes report content."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class ReportRejected(ValidationError):
    """A submission (or an update) with a bad field. ``field`` names it, as the form or API calls it.

    A ``ValidationError`` keyed by field, so forms and the API can put the message beside the field
    (``error.message_dict``). Nothing was saved when this is raised.
    """

    def __init__(self, field: str, message: str, *, code: str = "invalid") -> None:
        self.field = field
        self.reason = code
        super().__init__({field: [ValidationError(message, code=code)]})


class IdempotencyConflict(Exception):
    """The idempotency key was already used for a different submission (HTTP 409).

    A retry must send exactly the same request; a new report needs a new key.
    """

    def __init__(self) -> None:
        super().__init__(
            "This idempotency key was already used for a different submission. "
            "Send a new key with a new report, or resend the original request unchanged."
        )


class PortalTokenRejected(Exception):
    """A portal link that opens nothing. ``reason`` is for the audit trail and logs only.

    Every reason looks the same from outside (a 404): telling "no such report" apart from "wrong
    token" would let a guesser confirm tracking IDs.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"portal link rejected: {reason}")


class TransitionRefused(ValidationError):
    """A status change the workflow does not allow; the message lists the moves that are allowed."""

    def __init__(self, current: str, target: str, allowed: list[str]) -> None:
        self.current = current
        self.target = target
        self.allowed = allowed
        options = ", ".join(allowed) or "none"
        super().__init__(
            f"A report cannot move from {current} to {target}. From {current} it can move to: {options}.",
            code="transition_refused",
        )


class StaleEdit(ValidationError):
    """Someone else changed the report since this edit's form (or API read) was loaded (HTTP 409).

    Nothing was saved: the edit carried ``expected`` as the report's version, and it is now
    ``current``. Reload, look at their change, and make yours again if it still applies.
    """

    def __init__(self, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        super().__init__(
            f"Someone else changed this report while you were editing it (you had version {expected}, "
            f"it is now at version {current}). Nothing was saved: reload the report, check their "
            "change, then make yours again.",
            code="stale_edit",
        )
