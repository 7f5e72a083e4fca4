"""A self-hosted proof-of-work challenge (ALTCHA), asked of submissions once a flood limit trips.

No third-party captcha: nothing about a reporter goes to another company, it works without
cookies or tracking, and it is accessible (no puzzles to see or hear). The browser spends a
moment of CPU instead: ``static/intake/altcha-solver.js`` fetches a challenge from
``/security/challenge``, brute-forces SHA-256 with WebCrypto and puts the solution in a hidden
field. The server side is the ``altcha`` package (v2 API): :func:`new_challenge` and
:func:`verify_challenge`.

- Challenges are HMAC-signed with a key derived from SECRET_KEY for this purpose alone, and
  carry a signed expiry, so the server keeps no state until one is redeemed.
- Difficulty: the challenge is pre-solved at a random counter between half of and
  ``INTAKE_CHALLENGE_MAX_NUMBER`` (ALTCHA's deterministic mode), and the browser must find that
  counter by counting up. The work is therefore bounded and predictable (at the default 100 000,
  about 75 000 hashes on average: well under a second in a current browser), unlike a
  "leading zeroes" target whose work is geometric and occasionally very long.
- Single use: redeeming inserts the challenge's nonce into ``UsedChallenge`` (unique), so a
  solved challenge cannot be replayed, whichever process sees it second.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import altcha
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from bastion.intake.models import UsedChallenge

ALGORITHM = "SHA-256"
# One SHA-256 per attempt: WebCrypto does it natively, and the counter range sets the cost.
COST = 1
# A real payload is about 600 bytes of base64; anything much larger is not one of ours.
MAX_PAYLOAD_LENGTH = 4096
FIELD_NAME = "altcha"


def _hmac_secret() -> bytes:
    """The challenge-signing key: SECRET_KEY through a purpose-specific HMAC, never SECRET_KEY itself."""
    return salted_hmac("bastion.intake.challenge", b"altcha-hmac-key-v1", algorithm="sha256").digest()


def new_challenge(*, now: datetime | None = None) -> dict[str, Any]:
    """A fresh signed challenge, as the JSON object the browser solver expects."""
    now = now or timezone.now()
    max_number = settings.INTAKE_CHALLENGE_MAX_NUMBER
    ttl = settings.INTAKE_CHALLENGE_SECONDS
    # At least half the maximum, so no challenge is free; secrets, so none is predictable.
    low = max_number // 2
    counter = low + secrets.randbelow(max_number - low + 1)
    challenge = altcha.create_challenge(
        ALGORITHM,
        COST,
        counter=counter,
        expires_at=int((now + timedelta(seconds=ttl)).timestamp()),
        hmac_secret=_hmac_secret(),
    )
    return challenge.to_dict()


def _parameters(payload: str) -> dict[str, Any]:
    """The challenge parameters inside a payload that already verified (so they are ours)."""
    parameters: dict[str, Any] = json.loads(base64.b64decode(payload))["challenge"]["parameters"]
    return parameters


def verify_challenge(payload: object) -> bool:
    """True once for a correctly solved, unexpired challenge of ours; False for anything else.

    Never raises on hostile input: a malformed, oversized, forged, expired, wrong or replayed
    payload is simply False, so a bad proof is a form error and never a 500.
    """
    if not isinstance(payload, str) or not payload or len(payload) > MAX_PAYLOAD_LENGTH:
        return False
    try:
        result = altcha.verify_solution(payload, _hmac_secret())
        if not result.verified:
            return False
        parameters = _parameters(payload)
    # The library handles malformed input itself; this is the backstop for shapes it did not
    # foresee, since whatever a stranger sends must not become a 500.
    except (ValueError, TypeError, KeyError, RecursionError):
        return False
    expires_at, nonce = parameters.get("expiresAt"), parameters.get("nonce")
    # Our challenges always carry both (and they are signed); refuse any signed without them.
    if (
        parameters.get("algorithm") != ALGORITHM
        or not isinstance(expires_at, int)
        or not isinstance(nonce, str)
    ):
        return False
    try:
        # A savepoint, so a replay inside the caller's transaction fails only this insert.
        with transaction.atomic():
            UsedChallenge.objects.create(nonce=nonce, expires_at=datetime.fromtimestamp(expires_at, tz=UTC))
    except IntegrityError:
        return False  # already redeemed: a replay
    return True


def prune_used_challenges(*, now: datetime | None = None) -> int:
    """Forget redeemed challenges that have expired anyway (their expiry now refuses them)."""
    deleted, _ = UsedChallenge.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted
