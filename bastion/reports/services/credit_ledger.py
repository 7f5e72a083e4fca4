"""What the credit ledger's services share: the shapes, the rules of a credit, and its sealed history.

:mod:`.credits` changes and reads credits, :mod:`.credit_publication` publishes them; both build on
this module, which changes nothing by itself. A credit's person (name, handle, link) is sealed under
its report's data key; so is every CreditChange's before, after and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db.models import F

from bastion.accounts.models import User
from bastion.audit.services import Actor, ActorArg
from bastion.reports.access import may_see
from bastion.reports.errors import ReportRejected, StaleEdit
from bastion.reports.models import Report, TimelineKind
from bastion.reports.models.credit import Appearance, Credit, CreditChange, CreditType, PublicCredit
from bastion.reports.sealing import open_json, seal_field, seal_json
from bastion.reports.services._shared import add_timeline, require_staff_reader
from bastion.reports.services._shared import clean_text as _clean_text

ANONYMOUS_NAME = "Anonymous"
MAX_NAME = 200  # the published_name column
MAX_HANDLE = 100
MAX_LINK = 500  # the published_link column
MAX_REASON = 2000
# What a correction may change (the keys of correct_credit's ``changes``).
CORRECTABLE = ("credit_type", "appearance", "name", "handle", "link")
# The types the Hall of Thanks lists: the people who found and reported a flaw. Analysts,
# coordinators and remediation people are credited in the advisory itself.
THANKED_TYPES = (CreditType.FINDER, CreditType.REPORTER)

_HTTPS_URL = URLValidator(schemes=["https"])


class StaleCredit(StaleEdit):
    """Someone else changed this credit since the form was loaded (HTTP 409); nothing was saved."""

    def __init__(self, expected: int, current: int) -> None:
        # StaleEdit's own message speaks of the report; this one names the credit.
        ValidationError.__init__(
            self,
            f"Someone else changed this credit while you were editing it (you had version {expected}, "
            f"it is now at version {current}). Nothing was saved: reload the page, check their "
            "change, then make yours again.",
            code="stale_edit",
        )
        self.expected = expected
        self.current = current


@dataclass(frozen=True)
class CreditPerson:
    """Who a credit names: what they are called, their handle, and a link (all optional)."""

    name: str = field(default="", repr=False)
    handle: str = field(default="", repr=False)
    link: str = field(default="", repr=False)

    def to_json(self) -> dict[str, str]:
        """What is sealed in ``Credit.person``."""
        return {"name": self.name, "handle": self.handle, "link": self.link}


@dataclass(frozen=True)
class OpenedCredit:
    """One credit with its person opened, and the line it would be published as."""

    credit: Credit
    person: CreditPerson
    public: PublicCredit

    @property
    def is_confirmed(self) -> bool:
        """Whether the line shown was agreed to (by the reporter, or by the staff who added it)."""
        return self.credit.confirmed_at is not None

    @property
    def is_published(self) -> bool:
        """Whether an advisory has published this credit."""
        return self.credit.published_at is not None

    @property
    def is_withdrawn(self) -> bool:
        """Whether staff withdrew it (it is then neither published nor thanked)."""
        return self.credit.withdrawn_at is not None


@dataclass(frozen=True)
class ReporterCredit:
    """What the portal shows the reporter: their credit, its public line, and the types recorded."""

    credit: Credit
    person: CreditPerson
    public: PublicCredit
    types: tuple[str, ...]  # the labels of every credit recorded for them on this report

    @property
    def is_confirmed(self) -> bool:
        """Whether they confirmed the line as it stands."""
        return self.credit.confirmed_at is not None

    @property
    def is_withdrawn(self) -> bool:
        """Whether the security team withdrew their credit."""
        return self.credit.withdrawn_at is not None


@dataclass(frozen=True)
class HistoryEntry:
    """One change to a credit, opened: what it was before and after, who did it, and why."""

    action: str
    actor: str
    at: datetime
    before: dict[str, Any] = field(repr=False)
    after: dict[str, Any] = field(repr=False)
    reason: str = field(default="", repr=False)


# --- Rules --------------------------------------------------------------------------------------


def clean_person(
    appearance: str, *, name: str = "", handle: str = "", link: str = ""
) -> tuple[Appearance, CreditPerson]:
    """The appearance and person to store, or ReportRejected naming the field to fix.

    A name, a handle or a link is required only by the appearance that shows it; a link must be a
    full ``https://`` address (an ``http:`` or ``javascript:`` link is never published).
    """
    try:
        chosen = Appearance(appearance)
    except ValueError:
        raise ReportRejected(
            "appearance", "Choose how to appear: by name, by handle, with a link, or anonymously."
        ) from None
    person = CreditPerson(
        name=_clean_text(name or "", field="name", max_length=MAX_NAME, one_line=True),
        handle=_clean_text(handle or "", field="handle", max_length=MAX_HANDLE, one_line=True),
        link=_clean_text(link or "", field="link", max_length=MAX_LINK, one_line=True),
    )
    if person.link:
        try:
            _HTTPS_URL(person.link)
        except ValidationError:
            raise ReportRejected(
                "link", "A link must be a full https:// address, such as https://example.com/you."
            ) from None
    if chosen == Appearance.NAME and not person.name:
        raise ReportRejected("name", "To be credited by name, give the name to show.", code="no_name")
    if chosen == Appearance.HANDLE and not person.handle:
        raise ReportRejected("handle", "To be credited by handle, give the handle to show.", code="no_handle")
    if chosen == Appearance.LINK and not person.link:
        raise ReportRejected("link", "To be credited with a link, give the https:// address.", code="no_link")
    if chosen == Appearance.LINK and not (person.name or person.handle):
        raise ReportRejected("name", "A link needs a name or a handle to show with it.", code="no_name")
    return chosen, person


def public_credit(credit_type: str, appearance: str, person: CreditPerson) -> PublicCredit:
    """The line a credit is published as, reduced to what its person chose (see the module's rule)."""
    if appearance == Appearance.NAME:
        return PublicCredit(name=person.name, credit_type=credit_type)
    if appearance == Appearance.HANDLE:
        return PublicCredit(name=person.handle, credit_type=credit_type)
    if appearance == Appearance.LINK:
        return PublicCredit(name=person.name or person.handle, credit_type=credit_type, link=person.link)
    return PublicCredit(name=ANONYMOUS_NAME, credit_type=credit_type)


def clean_type(value: str) -> CreditType:
    """A credit type from the CVE/OSV taxonomy, or ReportRejected listing them."""
    try:
        return CreditType(value)
    except ValueError:
        labels = ", ".join(str(label).lower() for label in CreditType.labels)
        raise ReportRejected("credit_type", f"Choose a credit type: {labels}.") from None


def clean_reason(reason: str) -> str:
    """The reason for a correction or withdrawal: required, kept (sealed) in the history."""
    text = _clean_text(reason or "", field="reason", max_length=MAX_REASON)
    if not text:
        raise ReportRejected(
            "reason", "Say why: the reason is kept with the credit's history.", code="required"
        )
    return text


def require_open(report: Report) -> None:
    """ReportRejected for a shredded report: there is no key left to seal a change with."""
    if report.data_key.is_destroyed:
        raise ReportRejected("credit", "This report's content was destroyed, so its credits cannot change.")


def require_staff_on(actor: ActorArg, report: Report) -> User:
    """``actor`` as a staff reader who may see ``report`` (an embargo may hide it), or PermissionDenied."""
    user = require_staff_reader(actor)
    if not may_see(user, report):
        raise PermissionDenied("You may not see this report.")
    return user


# --- Sealing and history ------------------------------------------------------------------------


def open_person(credit: Credit, key: bytes) -> CreditPerson:
    """Who ``credit`` names, opened with its report's plain data key."""
    data = open_json(credit, "person", key=key)
    return CreditPerson(name=data.get("name", ""), handle=data.get("handle", ""), link=data.get("link", ""))


def snapshot(credit: Credit, person: CreditPerson) -> dict[str, Any]:
    """The credit's public-facing state, as a CreditChange keeps it (sealed)."""
    return {
        "credit_type": credit.credit_type,
        "appearance": credit.appearance,
        **person.to_json(),
        "confirmed": credit.confirmed_at is not None,
        "withdrawn": credit.withdrawn_at is not None,
    }


def actor_label(actor: ActorArg) -> str:
    """Who made a change, as the history shows it: the audit trail's label for the same actor."""
    if actor is None:
        return Actor.system().label
    if isinstance(actor, Actor):
        return actor.label
    return str(getattr(actor, "email", "") or "staff")


def keep_change(
    credit: Credit,
    action: str,
    *,
    actor: ActorArg,
    key: bytes,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None = None,
) -> CreditChange:
    """Keep one change in the credit's history, its before, after and reason sealed."""
    change = CreditChange(credit=credit, action=action, actor=actor_label(actor)[:200])
    change.before = seal_json(change, "before", before, key=key) if before is not None else None
    change.after = seal_json(change, "after", after, key=key) if after is not None else None
    change.reason = seal_field(change, "reason", reason, key=key)
    change.save(force_insert=True)
    return change


def locked_credit(credit: Credit, *, seen_version: int | None) -> Credit:
    """``credit``'s row locked for this transaction, its version checked (StaleCredit).

    Call inside ``transaction.atomic()``; :func:`save_credit` bumps the version when it writes.
    """
    locked = Credit.objects.select_for_update().select_related("report__data_key").get(pk=credit.pk)
    if seen_version is not None and seen_version != locked.version:
        raise StaleCredit(seen_version, locked.version)
    return locked


def save_credit(locked: Credit, credit: Credit, now: datetime, *fields: str) -> None:
    """Write ``fields`` of ``locked`` and bump its version; the caller's instance follows."""
    locked.updated_at = now
    values = {name: getattr(locked, name) for name in (*fields, "updated_at")}
    Credit.objects.filter(pk=locked.pk).update(version=F("version") + 1, **values)
    locked.version += 1
    for name, value in {**values, "version": locked.version}.items():
        setattr(credit, name, value)


def audit_data(credit: Credit, **extra: object) -> dict[str, object]:
    """What an audit row says of a credit: ids, type, appearance and states, never who it names."""
    return {
        "credit": str(credit.uid),
        "type": credit.credit_type,
        "appearance": credit.appearance,
        "reporter": credit.is_reporter,
        **extra,
    }


def note_on_timeline(credit: Credit, action: str) -> None:
    """A change to the reporter's credit is on their timeline; any other is on the staff's only."""
    confirmed = credit.confirmed_at is not None
    add_timeline(
        credit.report,
        TimelineKind.CREDIT_UPDATED,
        public=credit.is_reporter,
        confirmed=confirmed,
        action=action,
    )


def refresh_published(credit: Credit, person: CreditPerson) -> list[str]:
    """Set a published credit's clear public form from its current choice; the fields changed."""
    line = public_credit(credit.credit_type, credit.appearance, person)
    name = "" if credit.appearance == Appearance.ANONYMOUS else line.name
    if (credit.published_name, credit.published_link) == (name, line.link):
        return []
    credit.published_name, credit.published_link = name, line.link
    return ["published_name", "published_link"]


def note_republication(credit: Credit, *, actor: ActorArg, key: bytes) -> None:
    """Say in the history that the published advisory no longer matches the ledger."""
    keep_change(
        credit,
        "republish",
        actor=actor,
        key=key,
        before=None,
        after=None,
        reason="The credit was published before this change: republish the advisory so its exports follow.",
    )
