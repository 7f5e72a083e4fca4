"""Why an account link or a team change was refused, in words a person can act on."""

from __future__ import annotations

from django.core.exceptions import ValidationError

_SETUP_ADVICE = "Run `bastion setup-link` on the server for a new one."
_INVITATION_ADVICE = "Ask an administrator to invite you again."

# reason → (HTTP status, headline, advice). 404 when we cannot tell the link apart from a typo or
# a guess (revealing more would confirm that a link exists); 410 when it existed and is spent.
_SETUP_REASONS: dict[str, tuple[int, str, str]] = {
    "malformed": (
        404,
        "This setup link is not valid.",
        "Check that you copied the whole link. " + _SETUP_ADVICE,
    ),
    "unknown": (
        404,
        "This setup link is not valid.",
        "Check that you copied the whole link. " + _SETUP_ADVICE,
    ),
    "used": (410, "This setup link has already been used.", _SETUP_ADVICE),
    "expired": (410, "This setup link has expired.", _SETUP_ADVICE),
    "admin_exists": (
        410,
        "This instance already has staff accounts.",
        "Setup links only create the first admin. Ask an administrator for an invitation.",
    ),
}
_INVITATION_REASONS: dict[str, tuple[int, str, str]] = {
    "malformed": (404, "This invitation link is not valid.", "Check that you copied the whole link."),
    "unknown": (404, "This invitation link is not valid.", "Check that you copied the whole link."),
    "used": (410, "This invitation has already been used.", "Sign in with the account you created."),
    "expired": (410, "This invitation has expired.", _INVITATION_ADVICE),
    "revoked": (410, "This invitation has been withdrawn.", _INVITATION_ADVICE),
    "account_exists": (
        410,
        "An account with this address already exists.",
        "Sign in instead, or ask an administrator for help.",
    ),
}


class LinkRejected(Exception):
    """A setup or invitation link that cannot be used; ``reason`` is a short machine word."""

    def __init__(self, kind: str, reason: str) -> None:
        reasons = _SETUP_REASONS if kind == "setup" else _INVITATION_REASONS
        self.kind = kind
        self.reason = reason
        self.status, self.headline, self.advice = reasons[reason]
        super().__init__(f"{kind} link rejected: {reason}")


class TeamRuleError(ValidationError):
    """A team change that would break a rule (e.g. leave the instance without an active admin)."""
