"""The advisory services: draft, revise, review, schedule, check, publish, update and withdraw.

Typed functions with keyword arguments and an explicit ``actor``; each writes its audit row inside
its own transaction. Split by step: ``drafting`` (create, edit, read, diff), ``review`` (second
person), ``scheduling`` (the date, the embargo, telling the reporters), ``checklist`` (what must
hold), ``publishing`` (publish, update, withdraw), ``access`` (who may load which advisory).
"""

from bastion.disclosure.services.advisories._base import AdvisoryRejected, StaleAdvisoryEdit, may_see_advisory
from bastion.disclosure.services.advisories.access import advisories_for, advisories_of_report, advisory_for
from bastion.disclosure.services.advisories.checklist import Checklist, ChecklistItem, prepublish_checklist
from bastion.disclosure.services.advisories.drafting import (
    FieldDiff,
    create_advisory,
    draft_from_reports,
    edit_advisory,
    open_advisory,
    open_revision,
    revision_diff,
    revisions_of,
)
from bastion.disclosure.services.advisories.publishing import (
    PublicationBlocked,
    publish_advisory,
    update_published_advisory,
    withdraw_advisory,
)
from bastion.disclosure.services.advisories.review import (
    approve_advisory,
    review_note,
    send_back,
    submit_for_review,
)
from bastion.disclosure.services.advisories.scheduling import (
    default_publish_at,
    embargo_end,
    schedule_publication,
)

__all__ = [
    "AdvisoryRejected",
    "Checklist",
    "ChecklistItem",
    "FieldDiff",
    "PublicationBlocked",
    "StaleAdvisoryEdit",
    "advisories_for",
    "advisories_of_report",
    "advisory_for",
    "approve_advisory",
    "create_advisory",
    "default_publish_at",
    "draft_from_reports",
    "edit_advisory",
    "embargo_end",
    "may_see_advisory",
    "open_advisory",
    "open_revision",
    "prepublish_checklist",
    "publish_advisory",
    "review_note",
    "revision_diff",
    "revisions_of",
    "schedule_publication",
    "send_back",
    "submit_for_review",
    "update_published_advisory",
    "withdraw_advisory",
]
