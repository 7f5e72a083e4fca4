"""The MFA seeds' part in master-key rotation: counting and resealing the sealed TOTP and recovery seeds.

:class:`~bastion.accounts.adapters.StaffMFAAdapter` seals them with ``seal_secret`` and stores the
token base64-encoded in allauth's ``Authenticator.data``. Importing this module registers them with
:mod:`bastion.vault.rotation` (done in the accounts AppConfig's ready()).
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Iterator
from typing import Any

from allauth.mfa.models import Authenticator
from django.db import transaction

from bastion.accounts.adapters import MFA_SECRET_PURPOSE
from bastion.vault.keys import KeyProvider
from bastion.vault.rotation import register_sealed_secrets, reseal_token, token_version

HOLDER = "mfa-seeds"
# allauth's encrypted values: the TOTP secret, the recovery-code seed, and codes migrated from
# older allauth versions (a list). WebAuthn credentials hold no secret and are not sealed.
SEALED_TYPES = [Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES]
NO_AAD = b""  # the adapter seals with no AAD (allauth hands it the bare secret)


def _tokens(data: dict[str, Any]) -> Iterator[tuple[str, int | None, str]]:
    """``(key, index in a list or None, stored text)`` for every sealed value in ``data``."""
    for key in ("secret", "seed"):
        if isinstance(data.get(key), str):
            yield key, None, data[key]
    for index, value in enumerate(data.get("migrated_codes") or []):
        if isinstance(value, str):
            yield "migrated_codes", index, value


def _decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text.encode("ascii"))
    except (binascii.Error, ValueError):
        return None  # not one of ours (never sealed): nothing a master key opens


def mfa_secret_versions() -> Counter[int]:
    """How many sealed MFA values each master version seals."""
    counts: Counter[int] = Counter()
    for data in Authenticator.objects.filter(type__in=SEALED_TYPES).values_list("data", flat=True).iterator():
        for _key, _index, text in _tokens(data or {}):
            token = _decode(text)
            if token is not None:
                counts[token_version(token)] += 1
    return counts


def reseal_mfa_secrets(provider: KeyProvider) -> int:
    """Reseal every MFA value older than the current master version; how many it changed.

    One row per transaction, locked (on PostgreSQL) while it changes, so a sign-in that marks a
    recovery code used waits rather than writing back the old token. A write that still brings one
    back only delays retirement: status counts what is stored, and a rerun reseals it.
    """
    resealed = 0
    for pk in Authenticator.objects.filter(type__in=SEALED_TYPES).order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            row = Authenticator.objects.select_for_update().filter(pk=pk).first()
            if row is None:  # removed meanwhile: nothing left to reseal
                continue
            data = dict(row.data or {})
            changed = 0
            for key, index, text in list(_tokens(data)):
                token = _decode(text)
                if token is None:
                    continue
                fresh = reseal_token(token, purpose=MFA_SECRET_PURPOSE, aad=NO_AAD, provider=provider)
                if fresh is None:
                    continue
                encoded = base64.urlsafe_b64encode(fresh).decode("ascii")
                if index is None:
                    data[key] = encoded
                else:
                    data[key] = [*data[key][:index], encoded, *data[key][index + 1 :]]
                changed += 1
            if changed:
                row.data = data
                row.save(update_fields=["data"])
                resealed += changed
    return resealed


register_sealed_secrets(HOLDER, versions=mfa_secret_versions, reseal=reseal_mfa_secrets)
