import os

import pytest

from bastion.vault.envelope import (
    FORMAT_V1,
    OVERHEAD,
    Aad,
    new_data_key,
    seal,
    unseal,
    unwrap_data_key,
    wrap_data_key,
)
from bastion.vault.errors import SealError

AAD = Aad.for_field("reports.Report", "body", "8f1c")


def test_a_sealed_value_opens_with_its_key_and_aad(data_key):
    token = seal(b"SQL injection in /login", key=data_key, aad=AAD)

    assert token[:1] == FORMAT_V1
    assert len(token) == len(b"SQL injection in /login") + OVERHEAD
    assert unseal(token, key=data_key, aad=AAD) == b"SQL injection in /login"


def test_a_value_read_back_as_a_memoryview_opens(data_key):
    # PostgreSQL returns BinaryField values as memoryview.
    token = memoryview(seal(b"x", key=data_key, aad=AAD))

    assert unseal(token, key=data_key, aad=AAD) == b"x"


def test_sealing_twice_gives_different_ciphertexts(data_key):
    assert seal(b"same", key=data_key, aad=AAD) != seal(b"same", key=data_key, aad=AAD)


def test_a_canary_never_appears_in_the_sealed_value(data_key):
    canary = b"CANARY-7f3e-do-not-leak"

    token = seal(canary * 50, key=data_key, aad=AAD)

    assert canary not in token
    assert b"CANARY" not in token


def test_a_wrong_key_is_refused(data_key):
    token = seal(b"secret", key=data_key, aad=AAD)

    with pytest.raises(SealError):
        unseal(token, key=new_data_key(), aad=AAD)


def test_a_wrong_aad_is_refused(data_key):
    token = seal(b"secret", key=data_key, aad=AAD)

    with pytest.raises(SealError):
        unseal(token, key=data_key, aad=Aad.for_field("reports.Report", "body", "8f1d"))


@pytest.mark.parametrize("position", [0, 1, 13, -1, -17])
def test_any_flipped_bit_is_refused(data_key, position):
    token = bytearray(seal(b"secret report body", key=data_key, aad=AAD))
    token[position] ^= 0x01

    with pytest.raises(SealError):
        unseal(bytes(token), key=data_key, aad=AAD)


@pytest.mark.parametrize("token", [b"", FORMAT_V1, FORMAT_V1 + bytes(OVERHEAD - 2), b"\x02" + bytes(40)])
def test_short_or_unknown_tokens_are_refused(data_key, token):
    with pytest.raises(SealError):
        unseal(token, key=data_key, aad=AAD)


def test_a_truncated_token_is_refused(data_key):
    token = seal(b"secret report body", key=data_key, aad=AAD)

    with pytest.raises(SealError):
        unseal(token[:-1], key=data_key, aad=AAD)


def test_a_key_of_the_wrong_length_is_a_programming_error():
    with pytest.raises(ValueError, match="32 bytes"):
        seal(b"x", key=b"short", aad=AAD)
    with pytest.raises(ValueError, match="32 bytes"):
        unseal(b"x" * 40, key=os.urandom(16), aad=AAD)


def test_aad_parts_cannot_be_shifted_between_fields():
    assert Aad.for_field("reports.Report", "ab", "c") != Aad.for_field("reports.Report", "a", "bc")
    assert Aad.for_field("a", "b", "c") != Aad.encode("field", "a", "b", "c", "")
    assert Aad.for_field("reports.Report", "title", 5) == Aad.for_field("reports.Report", "title", "5")


def test_field_and_data_key_aads_never_coincide():
    assert Aad.for_field("report:1", "1", "x") != Aad.for_data_key("report:1", 1)


@pytest.mark.parametrize(("label", "field", "row_id"), [("", "f", "1"), ("m", "", "1"), ("m", "f", "")])
def test_a_field_aad_needs_every_part(label, field, row_id):
    with pytest.raises(ValueError, match="AAD"):
        Aad.for_field(label, field, row_id)


def test_an_unsaved_row_cannot_be_sealed_for():
    with pytest.raises(ValueError, match="row id"):
        Aad.for_field("reports.Report", "title", None)  # type: ignore[arg-type]


def test_a_wrapped_data_key_unwraps_for_its_subject_and_version(provider, data_key):
    version = provider.current_version()

    wrapped = wrap_data_key(data_key, master_version=version, subject="report:1", provider=provider)

    assert data_key not in wrapped
    assert unwrap_data_key(wrapped, master_version=version, subject="report:1", provider=provider) == data_key


def test_a_wrapped_data_key_does_not_open_for_another_subject(provider, data_key):
    wrapped = wrap_data_key(data_key, master_version=provider.current_version(), subject="report:1")

    with pytest.raises(SealError):
        unwrap_data_key(wrapped, master_version=1, subject="report:2", provider=provider)


def test_a_wrapped_data_key_does_not_open_under_another_version(provider, data_key):
    provider.current_version()
    provider.add_version()
    wrapped = wrap_data_key(data_key, master_version=1, subject="report:1", provider=provider)

    with pytest.raises(SealError):
        unwrap_data_key(wrapped, master_version=2, subject="report:1", provider=provider)


def test_the_wrapping_key_is_not_the_master_key_itself(provider, data_key):
    version = provider.current_version()
    wrapped = wrap_data_key(data_key, master_version=version, subject="report:1", provider=provider)

    # Domain separation: the master key must not open the wrap directly.
    with pytest.raises(SealError):
        unseal(wrapped, key=provider.master_key(version), aad=Aad.for_data_key("report:1", version))


def test_a_sealed_value_that_is_not_a_data_key_is_refused_on_unwrap(provider):
    from bastion.vault.envelope import _key_encryption_key

    version = provider.current_version()
    kek = _key_encryption_key(provider.master_key(version))
    not_a_key = seal(b"sixteen bytes!!!", key=kek, aad=Aad.for_data_key("report:1", version))

    with pytest.raises(SealError, match="not a data key"):
        unwrap_data_key(not_a_key, master_version=version, subject="report:1", provider=provider)


def test_a_sealed_secret_opens_only_for_its_purpose_and_aad():
    from bastion.vault.envelope import open_secret, seal_secret

    token = seal_secret(b"JBSWY3DPEHPK3PXP", purpose="accounts.mfa_secret", aad=b"row-1")
    assert b"JBSWY3DPEHPK3PXP" not in token
    assert open_secret(token, purpose="accounts.mfa_secret", aad=b"row-1") == b"JBSWY3DPEHPK3PXP"
    for purpose, aad in [("vault.org_key", b"row-1"), ("accounts.mfa_secret", b"row-2")]:
        with pytest.raises(SealError):
            open_secret(token, purpose=purpose, aad=aad)


def test_a_sealed_secret_names_a_missing_master_version():
    from bastion.vault.envelope import open_secret, seal_secret

    token = seal_secret(b"x", purpose="p", aad=b"")
    with pytest.raises(SealError, match="version 99"):
        open_secret((99).to_bytes(4, "big") + token[4:], purpose="p", aad=b"")
    with pytest.raises(SealError, match="too short"):
        open_secret(b"\x00\x00\x00\x01", purpose="p", aad=b"")
