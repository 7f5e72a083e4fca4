"""State changes for staff accounts: typed functions with keyword arguments and an explicit actor.

Views, commands and tasks all call these; none of them takes a request. Each change and its audit
row commit in one transaction.
"""

from bastion.accounts.services.invitations import (
    accept_invitation,
    invite_staff,
    open_invitation,
    revoke_invitation,
)
from bastion.accounts.services.setup import complete_setup, issue_setup_link, open_setup_link
from bastion.accounts.services.team import change_role, deactivate_staff, reactivate_staff, update_profile

__all__ = [
    "accept_invitation",
    "change_role",
    "complete_setup",
    "deactivate_staff",
    "invite_staff",
    "issue_setup_link",
    "open_invitation",
    "open_setup_link",
    "reactivate_staff",
    "revoke_invitation",
    "update_profile",
]
