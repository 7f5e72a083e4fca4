"""The public and secret handles on a report: tracking IDs, portal tokens and lookup digests.

- A **tracking ID** (``BST-`` and 10 Crockford base32 characters, 50 random bits) names a report in
  mail subjects and on the phone. It is not a secret and grants nothing: the portal also needs the
  token. Crockford's alphabet has no I, L, O or U, so a misread character can be mapped back.
- A **portal token** is ``HMAC-SHA256(K, "portal:<uid>:<nonce>")`` under a key ``K`` derived from
  ``SECRET_KEY``. Nothing secret is stored: a task holding the report id rebuilds the link, a
  database copy alone cannot forge one, and a new nonce revokes every earlier link.
- An **email digest** is an HMAC of the normalised address under another derived key. It finds a
  reporter's reports ("email me my links") and counts submissions per address, without the address
  in clear, and without the offline dictionary attack a plain hash of an address would allow.

Each derived key has its own salt (domain separation): a portal token can never be passed off as an
email digest. Tokens made under a retired ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS``) still work, so
rotating the secret does not void the links in reporters' inboxes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid

from django.conf import settings
from django.utils.crypto import salted_hmac

TRACKING_PREFIX = "BST-"
TRACKING_LENGTH = 10
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_ID = re.compile(rf"^{TRACKING_PREFIX}[{CROCKFORD}]{{{TRACKING_LENGTH}}}$")
# Crockford's decoding rules: the letters people confuse with digits read as those digits.
_CROCKFORD_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})

# base64url of a 32-byte HMAC, without padding.
PORTAL_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PORTAL_SALT = "bastion.reports.portal-token"
_EMAIL_SALT = "bastion.reports.email-digest"
_REQUEST_SALT = "bastion.reports.request-digest"


def new_tracking_id() -> str:
    """A fresh random tracking ID, e.g. ``BST-7Q2M0XK4ZD`` (50 bits from the OS CSPRNG)."""
    return TRACKING_PREFIX + "".join(secrets.choice(CROCKFORD) for _ in range(TRACKING_LENGTH))


def normalize_tracking_id(value: str) -> str | None:
    """A typed or pasted tracking ID in its stored form, or None if it cannot be one.

    Case, spaces and hyphens are forgiven, and I/L/O read as 1/1/0.
    """
    cleaned = "".join(value.split()).upper().replace("-", "")
    prefix = TRACKING_PREFIX[:-1]
    if len(cleaned) == len(prefix) + TRACKING_LENGTH and cleaned.startswith(prefix):
        cleaned = cleaned[len(prefix) :]
    candidate = TRACKING_PREFIX + cleaned.translate(_CROCKFORD_ALIASES)
    return candidate if TRACKING_ID.fullmatch(candidate) else None


def new_nonce() -> str:
    """A fresh nonce for portal tokens: 128 random bits as hex."""
    return secrets.token_hex(16)


def _secrets() -> list[str]:
    """The current SECRET_KEY first, then the retired ones that are still honoured."""
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def portal_token_for(uid: uuid.UUID | str, nonce: str, *, secret: str | None = None) -> str:
    """The portal token for a report's ``uid`` and ``nonce``, under ``secret`` (default: the current one)."""
    mac = salted_hmac(_PORTAL_SALT, f"portal:{uid}:{nonce}", secret=secret, algorithm="sha256")
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def portal_token_matches(uid: uuid.UUID | str, nonce: str, token: str) -> bool:
    """Constant-time check of ``token`` against every honoured secret."""
    if not PORTAL_TOKEN.fullmatch(token):
        return False
    # Every candidate is compared (no early exit), so the timing says nothing about which key matched.
    results = [hmac.compare_digest(portal_token_for(uid, nonce, secret=key), token) for key in _secrets()]
    return any(results)


def normalize_email(address: str) -> str:
    """The one spelling we digest: trimmed and lower-cased (as accounts does for staff)."""
    return address.strip().lower()


def email_digest(address: str, *, secret: str | None = None) -> str:
    """The keyed digest (hex) of an address, as stored in ``Reporter.email_digest``."""
    return salted_hmac(_EMAIL_SALT, normalize_email(address), secret=secret, algorithm="sha256").hexdigest()


def email_digests(address: str) -> list[str]:
    """The address's digest under every honoured secret, for lookups that survive a key rotation."""
    return [email_digest(address, secret=key) for key in _secrets()]


def idempotency_digest(channel: str, key: str) -> str:
    """SHA-256 (hex) of a client's idempotency key, scoped by channel.

    A plain hash suffices: the key is the client's own retry handle, not a secret of ours, and
    hashing keeps an arbitrary client string (a Message-ID, say) out of a unique index.
    """
    return hashlib.sha256(f"{channel}\x00{key}".encode()).hexdigest()


def request_digests(canonical_request: bytes) -> list[str]:
    """Keyed digests (hex) of a request, under the current secret first, then the retired ones.

    Keyed, not a plain hash: the request holds the report and the reporter's address, and a plain
    hash stored beside the report would let whoever reads the database confirm a guess of them.
    """
    return [
        salted_hmac(_REQUEST_SALT, canonical_request, secret=key, algorithm="sha256").hexdigest()
        for key in _secrets()
    ]
