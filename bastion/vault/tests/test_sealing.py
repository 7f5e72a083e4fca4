import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.vault.envelope import new_data_key
from bastion.vault.errors import SealError
from bastion.vault.sealing import seal_bytes, seal_text, unseal_bytes, unseal_text

KEY = new_data_key()
ROW = uuid.UUID("0b6f7d1e-6a55-4b8e-9d7b-3f1e2a4c5d6e")


def test_a_sealed_field_round_trips():
    token = seal_text(
        "XSS in the search box ✓", key=KEY, model_label="reports.Report", field="title", row_id=ROW
    )

    assert isinstance(token, bytes)
    assert (
        unseal_text(token, key=KEY, model_label="reports.Report", field="title", row_id=ROW)
        == "XSS in the search box ✓"
    )


def test_a_sealed_field_does_not_open_under_another_row():
    token = seal_text("secret", key=KEY, model_label="reports.Report", field="title", row_id=ROW)

    with pytest.raises(SealError):
        unseal_text(token, key=KEY, model_label="reports.Report", field="title", row_id=uuid.uuid4())


def test_a_sealed_field_does_not_open_as_another_field():
    token = seal_text("secret", key=KEY, model_label="reports.Report", field="title", row_id=ROW)

    with pytest.raises(SealError):
        unseal_text(token, key=KEY, model_label="reports.Report", field="body", row_id=ROW)


def test_a_sealed_field_does_not_open_as_another_models_field():
    token = seal_text("secret", key=KEY, model_label="reports.Report", field="body", row_id=ROW)

    with pytest.raises(SealError):
        unseal_text(token, key=KEY, model_label="reports.Message", field="body", row_id=ROW)


def test_a_sealed_field_does_not_open_under_another_reports_key():
    token = seal_text("secret", key=KEY, model_label="reports.Report", field="title", row_id=ROW)

    with pytest.raises(SealError):
        unseal_text(token, key=new_data_key(), model_label="reports.Report", field="title", row_id=ROW)


def test_raw_bytes_such_as_an_email_round_trip():
    raw = b"From: rita@example.org\r\n\r\n\xff\xfe not utf-8"

    token = seal_bytes(raw, key=KEY, model_label="reports.RawEmail", field="raw", row_id=7)

    assert unseal_bytes(token, key=KEY, model_label="reports.RawEmail", field="raw", row_id=7) == raw


def test_a_canary_in_a_field_never_appears_in_its_sealed_form():
    canary = "canary-4b1d-rita@example.org"

    token = seal_text(canary, key=KEY, model_label="reports.Reporter", field="email", row_id=ROW)

    assert canary.encode() not in token
    assert b"rita" not in token


@given(text=st.text(), field=st.text(min_size=1, max_size=40), row=st.uuids())
def test_any_text_round_trips_through_seal_and_unseal(text, field, row):
    token = seal_text(text, key=KEY, model_label="reports.Report", field=field, row_id=row)

    assert unseal_text(token, key=KEY, model_label="reports.Report", field=field, row_id=row) == text


@given(data=st.binary(max_size=4096), flip=st.integers(min_value=0))
def test_any_single_bit_flip_is_refused(data, flip):
    token = bytearray(seal_bytes(data, key=KEY, model_label="m.M", field="f", row_id=1))
    position = flip % (len(token) * 8)
    token[position // 8] ^= 1 << (position % 8)

    with pytest.raises(SealError):
        unseal_bytes(bytes(token), key=KEY, model_label="m.M", field="f", row_id=1)
