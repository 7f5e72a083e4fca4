"""Writing to and checking the audit trail.

``record()`` is the only way rows are written. Call it inside the transaction of the change it
describes, so the change and its audit row commit (or roll back) together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from bastion.audit.chain import GENESIS_HASH, HASHED_FIELDS, canonical_ip, clean_data, clean_text, row_hash
from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.lib import lean

# Key of the PostgreSQL advisory lock that serialises writers to the chain ("BASTAUDI" in ASCII).
# Any constant works, as long as nothing else in the database uses the same one.
CHAIN_LOCK_KEY = 0x4241_5354_4155_4449


class UserLike(Protocol):
    """A staff user: anything with a primary key and an email (``accounts.User``)."""

    @property
    def pk(self) -> Any: ...

    @property
    def email(self) -> str: ...


@dataclass(frozen=True)
class Actor:
    """An actor that is not a loaded user: Bastion itself, a visitor, a reporter, a typed login."""

    kind: ActorKind
    label: str
    id: int | None = None

    @classmethod
    def system(cls) -> Actor:
        """Bastion itself: commands, scheduled tasks, the mail gateway."""
        return cls(kind=ActorKind.SYSTEM, label="system")

    @classmethod
    def anonymous(cls) -> Actor:
        """An unauthenticated visitor whose identity we don't know."""
        return cls(kind=ActorKind.ANONYMOUS, label="anonymous")

    @classmethod
    def claimed(cls, login: str) -> Actor:
        """An unauthenticated visitor who typed ``login`` (a failed or locked-out sign-in).

        Recording the typed name is standard lockout forensics: it shows which accounts are being
        guessed. It is never the password; note that a user who types a password into the login
        box puts it here, which is why the audit screen is admin-only.
        """
        return cls(kind=ActorKind.ANONYMOUS, label=login.strip() or "anonymous")


@dataclass(frozen=True)
class Target:
    """A target that is not (or not yet) a model instance, e.g. an invitation by address."""

    type: str
    id: str = ""


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of walking the chain: where it first breaks, and why, if it does."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str = ""
    # The last good hash. Writing it down somewhere else (a ticket, a backup manifest) is what
    # lets a later check notice rows cut off the *end* of the trail, which no link can show.
    head_hash: str = GENESIS_HASH


ActorArg = UserLike | AnonymousUser | Actor | None
TargetArg = models.Model | Target | None


def record(
    *,
    event: Event,
    actor: ActorArg,
    target: TargetArg = None,
    data: Mapping[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one event to the trail and return it.

    ``actor`` is a user, an :class:`Actor`, an ``AnonymousUser`` or ``None`` (Bastion itself).
    ``data`` is small metadata: ids, names of things, before/after values of settings. **Never
    report plaintext, message bodies, secrets or passwords**: audit rows can never be deleted.
    """
    event = Event(event)
    who = _resolve_actor(actor)
    target_type, target_id = _resolve_target(target)
    fields: dict[str, Any] = {
        "event": event.value,
        "actor_id": who.id,
        "actor_label": clean_text(who.label, 254),
        "actor_kind": who.kind.value,
        "target_type": clean_text(target_type, 100),
        "target_id": clean_text(target_id, 100),
        "ip": canonical_ip(ip),
        "data": clean_data(data),
    }
    alias = router.db_for_write(AuditEvent)
    connection = connections[alias]
    # savepoint=False: inside the caller's transaction a failure here must abort the caller's
    # change too (no change without its audit row); outside one, this opens a transaction.
    with transaction.atomic(using=alias, savepoint=False):
        _lock_chain(connection)
        # Race: two writers that both read the same last row would both chain onto it, forking
        # the chain. The lock above makes read-last-row → insert one critical section per
        # transaction, held until commit; the unique prev_hash constraint is the backstop.
        last = lean.first(AuditEvent, ["id", "hash"], order_by="-id", using=alias)
        last_id, prev_hash = last if last else (0, GENESIS_HASH)
        # The row's own id is part of its hash, so the id must be known before the insert (an
        # insert-then-update is impossible: the triggers refuse updates). It is allocated under
        # the lock, so ids increase in chain order and verification can walk by id.
        fields["id"] = _next_id(connection, last_id)
        # Stamped under the lock too, so time order and chain order agree.
        fields["occurred_at"] = datetime.now(UTC)
        row = AuditEvent(**fields, prev_hash=prev_hash, hash=row_hash(prev_hash, fields))
        lean.insert(row, using=alias)
    return row


def verify_chain(*, using: str | None = None) -> VerifyResult:
    """Walk every row in id order and check each link and each row's own hash.

    Streams in chunks, so memory stays flat however long the trail is. It finds an edited row (its
    hash no longer matches its content), and a deleted, inserted or reordered row (the next row's
    ``prev_hash`` no longer matches). Gaps in ids alone prove nothing: a rolled-back transaction
    leaves one on PostgreSQL. Rows cut off the end are found only against a head hash recorded
    earlier (see :attr:`VerifyResult.head_hash`). ``using`` names another database, such as a
    restore drill's scratch copy.
    """
    alias = using or router.db_for_read(AuditEvent)
    rows = AuditEvent.objects.using(alias).order_by("id").values(*HASHED_FIELDS, "prev_hash", "hash")
    expected_prev = GENESIS_HASH
    previous_id: int | None = None
    checked = 0
    for row in rows.iterator(chunk_size=2000):
        if row["prev_hash"] != expected_prev:
            after = f"event #{previous_id}" if previous_id is not None else "the start of the trail"
            reason = f"its link does not match {after}: an event was deleted, inserted or reordered here"
            return VerifyResult(ok=False, checked=checked, first_bad_id=row["id"], reason=reason)
        if row_hash(row["prev_hash"], row) != row["hash"]:
            reason = "its content does not match its hash: the event was edited"
            return VerifyResult(ok=False, checked=checked, first_bad_id=row["id"], reason=reason)
        expected_prev = row["hash"]
        previous_id = row["id"]
        checked += 1
    return VerifyResult(ok=True, checked=checked, head_hash=expected_prev)


def verify_and_record(*, actor: ActorArg, ip: str | None = None) -> VerifyResult:
    """Verify the chain, then audit the check itself: verified, or tampering detected (with where)."""
    # Verified outside any transaction of ours: a long walk must not hold the writer lock.
    result = verify_chain()
    if result.ok:
        data: dict[str, Any] = {"checked": result.checked, "head_hash": result.head_hash}
        record(event=Event.AUDIT_VERIFIED, actor=actor, data=data, ip=ip)
    else:
        data = {"checked": result.checked, "first_bad_id": result.first_bad_id, "reason": result.reason}
        record(event=Event.AUDIT_TAMPERING_DETECTED, actor=actor, data=data, ip=ip)
    return result


def hold_chain_lock(*, using: str = "default") -> None:
    """Take the audit chain's writer lock now, for the rest of the current transaction.

    For a transaction that locks rows of its own before it may record (the mail flood counters):
    every other writer records first, so taking the chain lock first here keeps one lock order
    and PostgreSQL cannot deadlock the two. Re-entrant; on SQLite the write lock already serialises.
    """
    _lock_chain(connections[using])


def _lock_chain(connection: BaseDatabaseWrapper) -> None:
    """Take the chain's writer lock for the rest of the current transaction."""
    if connection.vendor == "postgresql":
        # Transaction-scoped: released by COMMIT or ROLLBACK, never leaked by an exception. Under
        # READ COMMITTED (Django's default) the next SELECT sees every row committed before the
        # lock was granted. A caller running REPEATABLE READ could read a stale last row; the
        # unique prev_hash constraint then makes its insert fail rather than fork the chain.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
    elif connection.vendor == "sqlite":
        # SQLite has one writer at a time. With transaction_mode IMMEDIATE (bastion.config) the
        # write lock is taken at BEGIN, so by the time we read the last row no other writer can
        # append. Under DEFERRED two transactions could both read before either writes.
        if getattr(connection, "transaction_mode", None) not in {"IMMEDIATE", "EXCLUSIVE"}:
            raise ImproperlyConfigured("SQLite must use transaction_mode IMMEDIATE for the audit chain")
    else:
        raise ImproperlyConfigured(f"the audit chain supports SQLite and PostgreSQL, not {connection.vendor}")


def _next_id(connection: BaseDatabaseWrapper, last_id: int) -> int:
    """The id for the next row, taken while holding the chain lock."""
    if connection.vendor == "postgresql":
        # Draw from the column's own sequence, so it stays in step for any other insert path; but
        # never below last_id + 1, so a row slipped in with an explicit id can't make every later
        # record() collide with it (which would block every audited action).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(seq, GREATEST(nextval(seq), %s)) FROM pg_get_serial_sequence(%s, 'id') AS seq",
                [last_id + 1, AuditEvent._meta.db_table],
            )
            (value,) = cursor.fetchone()
        return int(value)
    # SQLite: under the write lock the next id is simply one more than the last; rows are never
    # deleted, so this is what AUTOINCREMENT would have picked.
    return last_id + 1


def _resolve_actor(actor: ActorArg) -> Actor:
    if actor is None:
        return Actor.system()
    if isinstance(actor, Actor):
        return actor
    if isinstance(actor, AnonymousUser) or getattr(actor, "is_anonymous", False):
        return Actor.anonymous()
    return Actor(kind=ActorKind.STAFF, label=actor.email, id=int(actor.pk))


def _resolve_target(target: TargetArg) -> tuple[str, str]:
    if target is None:
        return "", ""
    if isinstance(target, Target):
        return target.type, target.id
    meta = target._meta
    return f"{meta.app_label}.{meta.model_name}", str(target.pk)
