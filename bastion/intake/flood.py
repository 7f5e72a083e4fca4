"""Flood control for intake: fixed-window counters in the database, per IP, per e-mail and overall.

Why our own counters: django-ratelimit is unmaintained and needs Redis or memcached (STACK-NOTES),
and Bastion runs on its database alone. Fixed windows (``window_start`` is ``now`` rounded down
to the window length) keep it one row per key per window; a burst straddling two windows can get
up to twice the limit through, which is fine for a speed bump whose next step is a challenge.

What a tripped limit does (:class:`FloodVerdict`):

- over the limit in any scope: the submission needs a solved proof-of-work challenge
  (:mod:`bastion.intake.challenge`). That costs a person a second and a bot fleet real CPU, and
  no report is refused for it;
- over :data:`BLOCK_FACTOR` times the limit *per IP*: refused outright (HTTP 429 with a message
  saying when to retry, or to e-mail instead; the form keeps what was typed). Only the IP scope
  blocks: the e-mail address is whatever the sender typed, so blocking on it would let anyone
  silence a researcher by flooding with their address, and a global block would let anyone
  silence everyone.

Keys are HMAC-SHA256 digests (keyed from SECRET_KEY), so the table holds no addresses. IPv6
clients are counted per /64, since anyone with one address has the whole /64.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from bastion.audit.events import Event
from bastion.audit.services import Actor, Target, hold_chain_lock, record
from bastion.intake.models import FloodCounter
from bastion.lib import lean
from bastion.lib.durability import lazy_commit

# Past this multiple of its limit an IP is refused rather than challenged (see the docstring).
BLOCK_FACTOR = 5
_DIGEST_SALT = "bastion.intake.flood"
GLOBAL_KEY = ""


class Scope(enum.StrEnum):
    """What a counter counts by. The order is the order verdicts name them in."""

    IP = "ip"
    EMAIL = "email"
    GLOBAL = "global"
    MAIL_SENDER = "mail_sender"  # email to security@, by sender address
    MAIL_GLOBAL = "mail_global"


# setting name, default ("count/seconds"). Defaults: a researcher rarely files more than a few
# reports an hour; a whole instance rarely gets a hundred in one. Tripping only costs a challenge.
LIMIT_SETTINGS: dict[Scope, tuple[str, str]] = {
    Scope.IP: ("INTAKE_LIMIT_PER_IP", "10/3600"),
    Scope.EMAIL: ("INTAKE_LIMIT_PER_EMAIL", "5/3600"),
    Scope.GLOBAL: ("INTAKE_LIMIT_GLOBAL", "100/3600"),
    # Mail over these is kept in the flood bucket, unread and unanswered (see mail_flooded).
    Scope.MAIL_SENDER: ("MAIL_LIMIT_PER_SENDER", "30/3600"),
    Scope.MAIL_GLOBAL: ("MAIL_LIMIT_GLOBAL", "1000/3600"),
}


@dataclass(frozen=True)
class Limit:
    """``count`` attempts per ``seconds``-long window."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, name: str, raw: str) -> Limit:
        """``"10/3600"`` as a Limit; ImproperlyConfigured (naming ``name``) if malformed."""
        count, sep, seconds = str(raw).strip().partition("/")
        try:
            limit = cls(int(count), int(seconds)) if sep else None
        except ValueError:
            limit = None
        if limit is None or limit.count < 1 or not 1 <= limit.seconds <= 7 * 86400:
            raise ImproperlyConfigured(
                f"{name}: expected count/seconds (count at least 1, seconds 1 to 604800), got {raw!r}"
            )
        return limit

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds}"

    def window_start(self, now: datetime) -> datetime:
        """The start of the window ``now`` falls in (windows are aligned to the Unix epoch)."""
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.seconds, tz=UTC)


def limit_for(scope: Scope) -> Limit:
    """The configured limit of ``scope`` (read from settings each time, so tests can change it)."""
    name, default = LIMIT_SETTINGS[scope]
    return Limit.parse(name, getattr(settings, name, default))


@dataclass(frozen=True)
class FloodVerdict:
    """May this submission go ahead, and must it bring a solved challenge? ``scope`` says which
    limit decided (None when no limit was reached)."""

    allowed: bool
    needs_challenge: bool
    scope: str | None


def _digest(scope: Scope, key: str) -> str:
    return salted_hmac(_DIGEST_SALT, f"{scope}:{key}", algorithm="sha256").hexdigest()


def email_digest(email: str) -> str:
    """The key under which an e-mail address is counted (case and surrounding space ignored)."""
    return _digest(Scope.EMAIL, email.strip().lower())


def ip_digest(ip: str) -> str:
    """The key under which a client address is counted: IPv4 per address, IPv6 per /64."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return _digest(Scope.IP, ip.strip())  # not an address (a test client, a bad proxy header)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _digest(Scope.IP, str(address.ipv4_mapped))
        return _digest(Scope.IP, str(ipaddress.IPv6Network((address, 64), strict=False)))
    return _digest(Scope.IP, str(address))


def _address_or_none(ip: str) -> str | None:
    """``ip`` if it is an address (what the audit trail accepts), else None."""
    try:
        return str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        return None


def _keys(ip: str, email_digest: str | None) -> list[tuple[Scope, str]]:
    keys = [(Scope.IP, ip_digest(ip))]
    if email_digest:
        keys.append((Scope.EMAIL, email_digest))
    keys.append((Scope.GLOBAL, GLOBAL_KEY))
    return keys


def _increment(rows: list[tuple[Scope, str, datetime]]) -> dict[Scope, int]:
    """Add one to each counter (scope, key, window) and return the new values, in one statement.

    ``INSERT ... VALUES (...), (...) ON CONFLICT DO UPDATE SET count = count + 1 RETURNING``
    (SQLite 3.35+, PostgreSQL 9.5+): the database does the read-modify-write under the row's lock,
    so concurrent requests never lose an increment, and the new counts come back without a second
    query; one statement for all scopes keeps the write lock short. The alternatives fall short:
    ``update_or_create`` reads then writes (two requests both read 4 and both write 5);
    ``bulk_create(update_conflicts=True)`` can only set ``count`` to the value being inserted, not
    add to it, and returns no count; an ``F()`` UPDATE with an insert on miss and an IntegrityError
    retry works but takes two or three statements and a savepoint per scope.
    """
    alias = router.db_for_write(FloodCounter)
    connection = connections[alias]
    quote = connection.ops.quote_name
    table = quote(FloodCounter._meta.db_table)
    columns = ", ".join(quote(c) for c in ("scope", "key_digest", "window_start"))
    window_field = FloodCounter._meta.get_field("window_start")
    count = quote("count")
    values = ", ".join(["(%s, %s, %s, 1)"] * len(rows))
    # Only quoted identifiers from the model's own metadata are interpolated; values are parameters.
    sql = (
        f"INSERT INTO {table} ({columns}, {count}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT ({columns}) DO UPDATE SET {count} = {table}.{count} + 1 "
        f"RETURNING {quote('scope')}, {count}"
    )
    params: list[str | datetime] = []
    for scope, key_digest, window_start in rows:
        window = window_field.get_db_prep_value(window_start, connection, prepared=False)
        params += [scope.value, key_digest, window]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {Scope(scope): int(value) for scope, value in cursor.fetchall()}


def _verdict(counts: dict[Scope, int]) -> FloodVerdict:
    """The verdict for attempts numbered ``counts`` in each scope (this attempt included)."""
    if counts.get(Scope.IP, 0) > limit_for(Scope.IP).count * BLOCK_FACTOR:
        return FloodVerdict(allowed=False, needs_challenge=True, scope=Scope.IP.value)
    for scope, count in counts.items():
        if count > limit_for(scope).count:
            return FloodVerdict(allowed=True, needs_challenge=True, scope=scope.value)
    return FloodVerdict(allowed=True, needs_challenge=False, scope=None)


def check_flood(*, ip: str, email_digest: str | None = None, now: datetime | None = None) -> FloodVerdict:
    """Count one intake attempt from ``ip`` (and ``email_digest``, if known) and judge it.

    Call it once per submission, before doing any work. Every attempt counts, refused ones
    included, so a flood keeps its own limit tripped. The first attempt over a limit in a window
    (and the first over the block level) is audited as FLOOD_TRIPPED, at most twice per key and
    window, so a flood cannot flood the append-only audit trail.
    """
    now = now or timezone.now()
    keys = _keys(ip, email_digest)
    rows = [(scope, key, limit_for(scope).window_start(now)) for scope, key in keys]
    # A power cut may lose the last counts (and the rare FLOOD_TRIPPED row): that only lets a flood
    # past its limit by that many attempts, once. Waiting for the disk cost every submission a second
    # fsync under the write lock. An admitted submission's own commit, moments later, syncs them; a
    # refused attempt's wait for the next durable commit of any writer.
    with lazy_commit(using=router.db_for_write(FloodCounter)):
        counts = _increment(rows)
        for scope, _key, window_start in rows:
            limit = limit_for(scope)
            levels = {limit.count + 1: "challenge", limit.count * BLOCK_FACTOR + 1: "block"}
            level = levels.get(counts[scope])
            if level == "block" and scope is not Scope.IP:
                level = None  # only IPs are ever blocked
            if level is not None:
                record(
                    event=Event.FLOOD_TRIPPED,
                    actor=Actor.anonymous(),
                    target=Target(type="intake.flood", id=scope.value),
                    data={"scope": scope.value, "level": level, "limit": str(limit),
                          "window_start": window_start.isoformat()},
                    ip=_address_or_none(ip),
                )  # fmt: skip
    return _verdict(counts)


def _mail_rows(sender_digest: str, now: datetime) -> list[tuple[Scope, str, datetime]]:
    keys = [(Scope.MAIL_SENDER, sender_digest), (Scope.MAIL_GLOBAL, GLOBAL_KEY)]
    return [(scope, key, limit_for(scope).window_start(now)) for scope, key in keys]


def mail_flooded(*, sender_digest: str, now: datetime | None = None) -> bool:
    """Would one more email from the sender with this keyed digest ("" for none) be over a mail limit?

    A read: nothing is counted here. Each stored email is counted by :func:`count_mail` inside the
    transaction that stores it, so an email costs one commit, not two (a commit is an fsync and,
    on SQLite, a turn at the only write lock). The price: deliveries running at the same moment
    look before any of them counts, so a limit can be passed by at most that many (4 at a time
    through the LMTP listener), once per window. Fine for a limit that only decides whether mail
    is read now or kept unread for staff.
    """
    for scope, key, window_start in _mail_rows(sender_digest, now or timezone.now()):
        # Read for every email: the lean read (one indexed row each), not the query compiler.
        found = lean.first(
            FloodCounter, ["count"], scope=scope.value, key_digest=key, window_start=window_start
        )
        if (found[0] if found else 0) + 1 > limit_for(scope).count:
            return True
    return False


def count_mail(*, sender_digest: str, now: datetime | None = None) -> tuple[str, ...]:
    """Count one email from the sender with this keyed digest; the scopes it was the first to go over.

    Call it inside the transaction that stores the email (flooded or not), last: the counters are
    rows every delivery updates, and PostgreSQL holds their locks until that transaction ends.
    Mail is never refused for a flood (a refused message bounces, and the bounce goes to whoever
    the flood forged as sender): over a limit it is kept, unread, in the flood bucket (see
    :func:`mail_flooded`). The first email over a limit in a window is audited and its scope
    returned, so staff get one alert per flood, not one per message.
    """
    rows = _mail_rows(sender_digest, now or timezone.now())
    # No savepoint: inside the storing transaction (the usual case) a failure here fails it all.
    using = router.db_for_write(FloodCounter)
    with transaction.atomic(using=using, savepoint=False):
        # The chain lock before the counter rows, as every other writer takes them: a flooded
        # email records nothing before this, and the one that trips a limit records after it.
        hold_chain_lock(using=using)
        counts = _increment(rows)
        tripped = []
        for scope, _key, window_start in rows:
            limit = limit_for(scope)
            if counts[scope] == limit.count + 1:
                tripped.append(scope.value)
                record(
                    event=Event.FLOOD_TRIPPED,
                    actor=Actor.anonymous(),
                    target=Target(type="intake.flood", id=scope.value),
                    data={"scope": scope.value, "level": "bucket", "limit": str(limit),
                          "window_start": window_start.isoformat()},
                )  # fmt: skip
    return tuple(tripped)


def peek_flood(*, ip: str, email_digest: str | None = None, now: datetime | None = None) -> FloodVerdict:
    """What :func:`check_flood` would say about the next attempt, without counting anything.

    For rendering a form: show the challenge up front when the submission will need it.
    """
    now = now or timezone.now()
    counts: dict[Scope, int] = {}
    for scope, key in _keys(ip, email_digest):
        window_start = limit_for(scope).window_start(now)
        current = (
            FloodCounter.objects.filter(scope=scope.value, key_digest=key, window_start=window_start)
            .values_list("count", flat=True)
            .first()
        )
        counts[scope] = (current or 0) + 1
    return _verdict(counts)


def prune_flood_counters(*, now: datetime | None = None) -> int:
    """Delete the counters of windows that are over; the number deleted. Idempotent."""
    now = now or timezone.now()
    deleted = 0
    for scope in Scope:
        # Every window before the current one is over: nothing reads or increments its row again.
        current = limit_for(scope).window_start(now)
        count, _ = FloodCounter.objects.filter(scope=scope.value, window_start__lt=current).delete()
        deleted += count
    return deleted
