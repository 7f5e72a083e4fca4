"""Embargoes: setting, moving and lifting one; its parties and their acknowledgements; who may see it.

An embargo is one UTC instant with a stated reason (sealed). While it runs, only staff granted on
the report see it (:mod:`bastion.reports.access`); anyone else among the triagers and admins may
break the glass, with a reason, for ``settings.BREAK_GLASS_HOURS``, and the setter and the admins
are told. Each change is audited, written on the report's timeline (the entries the reporter sees
carry the keys ``portal.timeline`` reads: ``ends_at``, ``party``), and mailed to the parties after
commit (:mod:`bastion.reports.embargo_tasks`). Who may do what: :mod:`.rules`.
"""

from bastion.reports.services.embargo.grants import break_glass, grant_access, revoke_access
from bastion.reports.services.embargo.lifecycle import (
    acknowledge_embargo,
    add_party,
    lift_embargo,
    move_embargo,
    set_embargo,
)
from bastion.reports.services.embargo.reading import (
    EmbargoState,
    PartyState,
    embargo_state,
    opened_embargo_reason,
    opened_grant_reasons,
    reporter_party,
)
from bastion.reports.services.embargo.rules import (
    MAX_REASON,
    MIN_BREAK_GLASS_REASON,
    NewParty,
    StaleEmbargo,
)

__all__ = [
    "MAX_REASON",
    "MIN_BREAK_GLASS_REASON",
    "EmbargoState",
    "NewParty",
    "PartyState",
    "StaleEmbargo",
    "acknowledge_embargo",
    "add_party",
    "break_glass",
    "embargo_state",
    "grant_access",
    "lift_embargo",
    "move_embargo",
    "opened_embargo_reason",
    "opened_grant_reasons",
    "reporter_party",
    "revoke_access",
    "set_embargo",
]
