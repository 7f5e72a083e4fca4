"""The secrets in account links: how they are made, stored and checked.

Two kinds, chosen for what each flow needs:

- A **setup link** carries 32 random bytes. Only their SHA-256 is stored. With 256 bits of entropy
  there is nothing to brute-force, so a plain (unsalted, fast) hash is enough and lets us find
  the row with an indexed equality lookup.
- An **invitation** token is ``HMAC-SHA256(SECRET_KEY, "invitation:<id>:<nonce>")`` with a random
  nonce stored on the row. The mail task rebuilds the link from the invitation id alone (task
  arguments carry ids, never secrets), and someone holding only a database copy cannot compute it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from django.conf import settings

SETUP_TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet, without padding.
_SETUP_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_INVITATION_TOKEN = re.compile(r"[0-9a-f]{64}")


def new_setup_token() -> str:
    return secrets.token_urlsafe(SETUP_TOKEN_BYTES)


def hash_setup_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def is_well_formed_setup_token(token: str) -> bool:
    return _SETUP_TOKEN.fullmatch(token) is not None


def new_nonce() -> str:
    return secrets.token_hex(16)


def invitation_token(invitation_id: int, nonce: str, *, secret: str | None = None) -> str:
    key = (secret if secret is not None else settings.SECRET_KEY).encode("utf-8")
    message = f"invitation:{invitation_id}:{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def is_well_formed_invitation_token(token: str) -> bool:
    return _INVITATION_TOKEN.fullmatch(token) is not None


def invitation_token_matches(invitation_id: int, nonce: str, token: str) -> bool:
    """Constant-time check against the current key and any SECRET_KEY_FALLBACKS.

    Honouring the fallbacks means rotating the secret key does not silently void every invitation
    that is already in someone's inbox.
    """
    if not is_well_formed_invitation_token(token):
        return False
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(hmac.compare_digest(invitation_token(invitation_id, nonce, secret=key), token) for key in keys)
