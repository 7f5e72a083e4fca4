"""TOTP and recovery-code seeds are sealed under the master key, not stored in clear."""

from __future__ import annotations

import base64

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

from bastion.test import make_staff, totp_code, totp_secret
from bastion.vault.errors import SealError


@pytest.mark.django_db
def test_a_totp_seed_is_stored_sealed_and_still_answers_codes():
    alice = make_staff("alice")
    stored = Authenticator.objects.get(user=alice, type=Authenticator.Type.TOTP).data["secret"]
    assert totp_secret("alice") not in stored
    assert totp_secret("alice").encode() not in base64.urlsafe_b64decode(stored)
    assert len(totp_code(alice)) == 6


@pytest.mark.django_db
def test_recovery_codes_are_sealed_too():
    alice = make_staff("alice")
    codes = RecoveryCodes.activate(alice)
    seed = codes.instance.data["seed"]
    assert codes.get_unused_codes()
    assert len(base64.urlsafe_b64decode(seed)) > 32


@pytest.mark.django_db
def test_a_tampered_seed_is_refused_not_used():
    alice = make_staff("alice")
    authenticator = Authenticator.objects.get(user=alice, type=Authenticator.Type.TOTP)
    token = bytearray(base64.urlsafe_b64decode(authenticator.data["secret"]))
    token[-1] ^= 1
    authenticator.data["secret"] = base64.urlsafe_b64encode(bytes(token)).decode()
    authenticator.save()
    with pytest.raises(SealError):
        totp_code(alice)
