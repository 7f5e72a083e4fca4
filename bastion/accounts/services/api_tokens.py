"""Personal API tokens: made once, stored as a hash, scoped, revocable, and audited on every use.

A token is ``bst_`` followed by 32 random bytes (URL-safe base64, 43 characters). Only its
SHA-256 is stored, not an Argon2 hash: a password hash is slow and salted so that a *guessable*
secret costs a lot to brute-force from a stolen table, but 256 random bits cannot be guessed,
however fast the hash. A fast, unsalted hash also lets us find the row by an indexed equality
lookup; a salted hash would mean running Argon2 against every stored token on every request,
which would turn the API into a CPU-exhaustion target. ``setup links`` are stored the same way
(see ``accounts/tokens.py``).

The ``bst_`` marker lets secret scanners (and people) recognise a leaked token. The first twelve
characters are kept in clear as the token's ``prefix``: the profile page and the audit trail name
a token by it, and it leaves 35 random characters (over 200 bits) unknown.

Use is audited once per API request (see :func:`authenticate_api_token`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from bastion.accounts import tokens
from bastion.accounts.models import ApiScope, ApiToken, User
from bastion.audit.events import Event
from bastion.audit.services import Actor, ActorArg, record

TOKEN_MARKER = "bst_"  # noqa: S105  (a public marker, not a secret)
TOKEN_BYTES = 32
PREFIX_LENGTH = 12
MAX_NAME = 80
# token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet, without padding.
_TOKEN = re.compile(r"bst_[A-Za-z0-9_-]{43}")


class ApiTokenRejected(ValidationError):
    """A token that cannot be made as asked; ``field`` names the bad input (name, scopes, expiry, user)."""

    def __init__(self, field: str, message: str, *, code: str = "invalid") -> None:
        self.field = field
        super().__init__({field: [ValidationError(message, code=code)]})


class IssuedToken(NamedTuple):
    """A token just made: its row, and the plaintext, which exists only here and is shown once."""

    token: ApiToken
    plaintext: str

    def __repr__(self) -> str:
        # Kept out of tracebacks and logs: the plaintext is the credential.
        return f"IssuedToken({self.token!r})"


def hash_api_token(raw: str) -> str:
    """The stored form of a token: its SHA-256, in hex, as setup links are stored."""
    return tokens.hash_setup_token(raw)


def is_well_formed_api_token(raw: str) -> bool:
    """Whether ``raw`` looks like a token at all (checked before any database lookup)."""
    return _TOKEN.fullmatch(raw) is not None


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    """The scope values, deduplicated and sorted; ApiTokenRejected naming an unknown one."""
    known = {scope.value for scope in ApiScope}
    chosen = {str(scope).strip() for scope in scopes}
    unknown = sorted(chosen - known)
    if unknown:
        raise ApiTokenRejected(
            "scopes",
            f"Unknown scope {', '.join(unknown)}. Choose from: {', '.join(sorted(known))}.",
            code="unknown_scope",
        )
    if not chosen:
        raise ApiTokenRejected("scopes", f"Choose at least one scope: {', '.join(sorted(known))}.")
    return sorted(chosen)


def create_api_token(
    *,
    user: User,
    name: str,
    scopes: Iterable[ApiScope | str],
    expires_at: datetime | None = None,
    actor: ActorArg,
    ip: str | None = None,
) -> IssuedToken:
    """A new token for ``user``; the result unpacks as ``(ApiToken, plaintext)``.

    The plaintext is returned once and never stored: lose it, and the only remedy is a new token.
    Staff make tokens for themselves (the profile page); ``Actor.system()`` makes them for anyone
    (``bastion create-api-token``, run by whoever holds a shell on the server). A deactivated
    account gets none. The audit row holds the prefix, name, scopes and expiry, never the token.
    """
    if not _is_self(actor, user) and not _is_system(actor):
        raise PermissionDenied("Staff make API tokens for themselves only.")
    label = " ".join(name.split())
    if not label:
        raise ApiTokenRejected("name", "Name the token after where it will be used, e.g. “CI sync”.")
    if len(label) > MAX_NAME:
        raise ApiTokenRejected("name", f"The name is {len(label)} characters long; the limit is {MAX_NAME}.")
    chosen = clean_scopes(str(scope) for scope in scopes)
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise ApiTokenRejected("expires_at", "The expiry must be in the future.", code="past")
    plaintext = TOKEN_MARKER + secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        # Read again under a lock: an instance loaded before an admin deactivated the account
        # would still say it is active.
        owner = User.objects.select_for_update().get(pk=user.pk)
        if not owner.is_active:
            raise ApiTokenRejected(
                "user", f"{owner.email} is deactivated; reactivate the account first.", code="inactive"
            )
        token = ApiToken.objects.create(
            user=owner,
            name=label,
            prefix=plaintext[:PREFIX_LENGTH],
            token_hash=hash_api_token(plaintext),
            scopes=chosen,
            created_at=now,
            expires_at=expires_at,
        )
        data = {
            "prefix": token.prefix,
            "name": label,
            "owner": user.pk,
            "scopes": chosen,
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        record(event=Event.API_TOKEN_CREATED, actor=actor, target=token, data=data, ip=ip)
    return IssuedToken(token=token, plaintext=plaintext)


def revoke_api_token(*, token: ApiToken, actor: ActorArg, ip: str | None = None) -> ApiToken:
    """Stop ``token`` working, for good. Its owner, an admin, or Bastion itself may revoke it.

    Revoking a revoked token changes nothing and records nothing.
    """
    if not (_is_self(actor, token.user) or _is_system(actor) or (isinstance(actor, User) and actor.is_admin)):
        raise PermissionDenied("Only the token's owner or an admin may revoke it.")
    with transaction.atomic():
        now = timezone.now()
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        if not revoked:
            token.refresh_from_db(fields=["revoked_at"])
            return token
        token.revoked_at = now
        data = {"prefix": token.prefix, "owner": token.user_id}
        record(event=Event.API_TOKEN_REVOKED, actor=actor, target=token, data=data, ip=ip)
    return token


def authenticate_api_token(
    raw: str, *, method: str = "", endpoint: str = "", ip: str | None = None
) -> ApiToken | None:
    """The usable token ``raw`` names, with its owner loaded; None for anything else.

    Lookup is by SHA-256, an indexed equality match. Timing leaks nothing useful: the attacker
    chooses the input, not the digest, so how far a comparison gets says nothing about any stored
    hash.

    Audit granularity: one API_TOKEN_USED row per API request, written here, in the one place every
    staff endpoint passes through, so no endpoint can forget it. It names the prefix, method and
    path (never the query string, which may carry search terms, and never the token), so a leaked
    token's use can be traced request by request; a "first use per hour" summary would hide just
    that. Endpoints that decrypt a report add their own REPORT_VIEWED row. A known token that is
    refused (revoked, expired, owner deactivated) is recorded too, with the reason: someone is
    holding a token that should be dead. A string that matches no token is not recorded: there is
    no one to attribute it to, and a flood of guesses must not flood the trail.
    """
    if not is_well_formed_api_token(raw):
        return None
    digest = hash_api_token(raw)
    token = ApiToken.objects.select_related("user").filter(token_hash=digest).first()
    if token is None:
        return None
    refusal = _refusal(token)
    data = {"prefix": token.prefix, "method": method[:10], "endpoint": endpoint[:200]}
    with transaction.atomic():
        if refusal:
            actor = Actor.claimed(f"API token {token.prefix}")
            record(
                event=Event.API_TOKEN_USED,
                actor=actor,
                target=token,
                data={**data, "refused": refusal},
                ip=ip,
            )
            return None
        now = timezone.now()
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        record(event=Event.API_TOKEN_USED, actor=token.user, target=token, data=data, ip=ip)
    return token


def _refusal(token: ApiToken) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return "expired"
    if not token.user.is_active:
        return "owner_inactive"
    return ""


def _is_self(actor: ActorArg, user: User) -> bool:
    return isinstance(actor, User) and actor.pk == user.pk and actor.is_active


def _is_system(actor: ActorArg) -> bool:
    return isinstance(actor, Actor) and actor == Actor.system()
