"""Signing security.txt with the org key, renewing it before it expires, and warning the admins.

A new document is signed (and kept as a :class:`~bastion.disclosure.models.SecurityTxt` row, the
newest served) when there is none, when the settings would change its body, when the org key
changed, or when its ``Expires`` is within :data:`RENEW_BEFORE` and a later one can be signed.
``Expires`` never goes past the org key's own expiry: a signature by a lapsed key proves nothing.
So when the key itself is about to lapse, renewing cannot help, and the admins are told instead:
once when a document's ``Expires`` is within :data:`ALERT_BEFORE`, once when the key's expiry is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.disclosure.models import SecurityTxt
from bastion.disclosure.securitytxt import body_sha256, fields_from_settings, format_expires, render_body
from bastion.lib.openpgp import OpenPGPError, PublicKey, clearsign
from bastion.vault.orgkey import get_org_key, get_org_public_key

logger = logging.getLogger(__name__)

RENEW_BEFORE = timedelta(days=30)
ALERT_BEFORE = timedelta(days=30)
# A renewal that would move Expires by less than this is not worth a new signature (the key's
# expiry caps it, and would otherwise have it re-signed every day to the same instant).
MIN_GAIN = timedelta(days=1)

# Why a new document was signed, as the audit row says.
FIRST, KEY_CHANGED, SETTINGS_CHANGED, RENEWAL = "first", "key_changed", "settings_changed", "renewal"
# What an alert is about, as the mail and the audit row say.
DOCUMENT_EXPIRES, KEY_EXPIRES = "security_txt_expires", "org_key_expires"


class SecurityTxtUnsignable(Exception):
    """No valid security.txt can be signed now: the org key has lapsed (or cannot sign)."""


@dataclass(frozen=True)
class Alert:
    """One threshold crossed: what lapses (:data:`DOCUMENT_EXPIRES` or :data:`KEY_EXPIRES`), and when."""

    what: str
    at: datetime


def current_security_txt() -> SecurityTxt | None:
    """The newest signed security.txt, the one served; None before the first signing."""
    return SecurityTxt.objects.order_by("-signed_at", "-id").first()


def _expires_for(key: PublicKey, now: datetime) -> datetime:
    """``now`` plus the configured validity, capped at the key's expiry, to the second."""
    expires = now + timedelta(days=int(settings.SECURITY_TXT_DAYS))
    if key.expires_at is not None:
        expires = min(expires, key.expires_at)
    return expires.replace(microsecond=0)


def _why_sign(latest: SecurityTxt | None, key: PublicKey, expires: datetime, now: datetime) -> str | None:
    """Why a new document is due now (None: the latest stands)."""
    if latest is None:
        return FIRST
    if latest.key_fingerprint != key.fingerprint:
        return KEY_CHANGED
    same_expiry = render_body(
        fields_from_settings(key_fingerprint=key.fingerprint), expires=latest.expires_at
    )
    if body_sha256(same_expiry) != latest.body_sha256:
        return SETTINGS_CHANGED
    if latest.expires_at - now <= RENEW_BEFORE and expires - latest.expires_at >= MIN_GAIN:
        return RENEWAL
    return None


def ensure_security_txt(*, actor: ActorArg = None, now: datetime | None = None) -> SecurityTxt:
    """The security.txt to serve, signing a new one first if one is due (see the module's rules).

    SecurityTxtUnsignable when a new one is due but cannot be valid (the org key has lapsed); the
    caller serves the latest, if any, and the admins were warned 30 days before. Audited
    SECURITY_TXT_SIGNED (why, the new Expires, the key's fingerprint) when it signs.

    Race: the newest row is locked and the decision taken again, so of two callers (the daily task
    and a request) one signs and the other sees its row. Only the very first signing has no row to
    lock: two callers then may both sign, which leaves one extra, equally valid row, never a wrong one.
    """
    now = now or timezone.now()
    public = get_org_public_key()
    expires = _expires_for(public, now)
    # The common case, every request: nothing is due, so the decision needs only the public key,
    # nothing secret is opened, and no write transaction is taken (under SQLite's IMMEDIATE mode
    # that would hold the database's one write lock for a public GET).
    latest = current_security_txt()
    if latest is not None and _why_sign(latest, public, expires, now) is None:
        return latest
    key = get_org_key()
    with transaction.atomic():
        latest = SecurityTxt.objects.select_for_update().order_by("-signed_at", "-id").first()
        reason = _why_sign(latest, key, expires, now)
        if reason is None:
            assert latest is not None
            return latest
        if expires <= now:
            raise SecurityTxtUnsignable(
                f"The org key {key.fingerprint} expired on {format_expires(expires)}: rotate it, then "
                "security.txt is signed again with the new key."
            )
        body = render_body(fields_from_settings(key_fingerprint=key.fingerprint), expires=expires)
        try:
            text = clearsign(body, key)
        except OpenPGPError as error:
            raise SecurityTxtUnsignable(f"The org key {key.fingerprint} cannot sign: {error}") from error
        same_key = latest is not None and latest.key_fingerprint == key.fingerprint
        row = SecurityTxt.objects.create(
            text=text,
            expires_at=expires,
            signed_at=now,
            key_fingerprint=key.fingerprint,
            body_sha256=body_sha256(body),
            key_expires_at=key.expires_at,
            key_alerted_at=latest.key_alerted_at if same_key and latest is not None else None,
        )
        data = {"reason": reason, "expires_at": format_expires(expires), "fingerprint": key.fingerprint}
        record(event=Event.SECURITY_TXT_SIGNED, actor=actor, target=row, data=data)
    return row


def claim_alerts(*, now: datetime | None = None, actor: ActorArg = None) -> list[Alert]:
    """The thresholds the newest security.txt has just crossed, each claimed once (and audited).

    Each is claimed by a conditional UPDATE (``... WHERE expiry_alerted_at IS NULL``) in the same
    transaction as its audit row (SECURITY_TXT_ALERTED): of two workers checking at once, one
    claims and the other gets nothing, so the admins hear of each threshold once. The caller mails
    what was claimed, on commit.
    """
    now = now or timezone.now()
    latest = current_security_txt()
    if latest is None:
        return []
    due = [(DOCUMENT_EXPIRES, "expiry_alerted_at", latest.expires_at)]
    if latest.key_expires_at is not None:
        due.append((KEY_EXPIRES, "key_alerted_at", latest.key_expires_at))
    claimed = []
    with transaction.atomic():
        for what, flag, at in due:
            if at - now > ALERT_BEFORE:
                continue
            rows = SecurityTxt.objects.filter(pk=latest.pk, **{f"{flag}__isnull": True})
            if not rows.update(**{flag: now}):
                continue
            data = {"what": what, "at": format_expires(at), "fingerprint": latest.key_fingerprint}
            record(event=Event.SECURITY_TXT_ALERTED, actor=actor, target=latest, data=data)
            claimed.append(Alert(what=what, at=at))
    return claimed
