"""MFA seeds take part in master-key rotation: counted per version, resealed, and still answering."""

from __future__ import annotations

import base64

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

from bastion.accounts.adapters import MFA_SECRET_PURPOSE
from bastion.accounts.sealed_secrets import HOLDER, mfa_secret_versions, reseal_mfa_secrets
from bastion.test import make_staff, totp_code
from bastion.vault.envelope import open_secret
from bastion.vault.keys import FileKeyProvider
from bastion.vault.rotation import rotate, sealed_secret_holders, token_version

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def provider(private_keys: FileKeyProvider) -> FileKeyProvider:
    """Keys of this test's own: rotating must never touch the suite's real ones."""
    return private_keys


def stored_tokens() -> list[bytes]:
    tokens = []
    for data in Authenticator.objects.values_list("data", flat=True):
        sealed = data.get("secret") or data.get("seed")
        tokens.append(base64.urlsafe_b64decode(sealed))
    return tokens


def test_the_accounts_app_registers_its_seeds_with_rotation():
    assert HOLDER in [holder.name for holder in sealed_secret_holders()]


def test_seeds_are_counted_per_master_version(provider):
    RecoveryCodes.activate(make_staff("alice"))
    provider.add_version()
    make_staff("bob")

    assert mfa_secret_versions() == {1: 2, 2: 1}


def test_rotation_reseals_totp_and_recovery_seeds_and_codes_still_work(provider):
    alice = make_staff("alice")
    recovery = RecoveryCodes.activate(alice)
    codes_before = recovery.get_unused_codes()
    totp_before = totp_code(alice)

    result = rotate(provider=provider)

    assert result.resealed[HOLDER] == 2
    assert [token_version(token) for token in stored_tokens()] == [2, 2]
    for token in stored_tokens():
        assert open_secret(token, purpose=MFA_SECRET_PURPOSE, aad=b"", provider=provider)
    assert totp_code(alice) == totp_before
    fresh = RecoveryCodes(Authenticator.objects.get(user=alice, type=Authenticator.Type.RECOVERY_CODES))
    assert fresh.get_unused_codes() == codes_before


def test_resealing_again_changes_nothing(provider):
    make_staff("alice")
    rotate(provider=provider)
    before = stored_tokens()

    assert reseal_mfa_secrets(provider) == 0
    assert stored_tokens() == before


def test_migrated_codes_in_a_list_are_resealed_one_by_one(provider):
    alice = make_staff("alice")
    recovery = RecoveryCodes.activate(alice)
    sealed_codes = [recovery.instance.data["seed"], recovery.instance.data["seed"]]
    recovery.instance.data["migrated_codes"] = sealed_codes
    recovery.instance.save()
    provider.add_version()

    assert reseal_mfa_secrets(provider) == 4  # the TOTP seed, the recovery seed, two codes

    migrated = Authenticator.objects.get(pk=recovery.instance.pk).data["migrated_codes"]
    assert [token_version(base64.urlsafe_b64decode(code)) for code in migrated] == [2, 2]
    assert mfa_secret_versions() == {2: 4}
