"""record(): who, what, to what, and the link to the row before."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from bastion.audit.chain import GENESIS_HASH, HASHED_FIELDS, MAX_DATA_BYTES, row_hash
from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor, Target, record, verify_chain

pytestmark = pytest.mark.django_db


def _fields(row: AuditEvent) -> dict[str, object]:
    return {name: getattr(row, name) for name in HASHED_FIELDS}


def _record_then_fail() -> None:
    """A service whose change fails after it recorded its audit event."""
    with transaction.atomic():
        record(event=Event.ROLE_CHANGED, actor=None)
        raise RuntimeError("the change failed")


def test_the_first_event_links_to_the_genesis_hash():
    first = record(event=Event.AUDIT_VERIFIED, actor=None)

    assert first.prev_hash == GENESIS_HASH
    assert len(first.hash) == 64
    assert int(first.hash, 16) >= 0


def test_each_event_links_to_the_hash_of_the_one_before(chain):
    assert [row.prev_hash for row in chain[1:]] == [row.hash for row in chain[:-1]]
    assert chain[0].id < chain[1].id < chain[2].id


def test_the_stored_row_hashes_to_its_hash(chain):
    for row in chain:
        stored = AuditEvent.objects.get(pk=row.pk)
        assert row_hash(stored.prev_hash, _fields(stored)) == stored.hash


def test_a_recorded_chain_verifies(chain):
    result = verify_chain()

    assert result.ok
    assert result.checked == 3
    assert result.first_bad_id is None
    assert result.head_hash == chain[-1].hash


def test_an_empty_trail_verifies():
    result = verify_chain()

    assert result.ok
    assert result.checked == 0
    assert result.head_hash == GENESIS_HASH


def test_a_user_actor_is_recorded_by_id_and_email_snapshot(alice):
    row = record(event=Event.PROFILE_UPDATED, actor=alice, target=alice)

    assert row.actor_kind == ActorKind.STAFF
    assert row.actor_id == alice.pk
    assert row.actor_label == "alice@bastion.example"
    assert row.target_type == "accounts.user"
    assert row.target_id == str(alice.pk)


def test_no_actor_means_the_system():
    row = record(event=Event.AUDIT_VERIFIED, actor=None)

    assert (row.actor_kind, row.actor_label, row.actor_id) == (ActorKind.SYSTEM, "system", None)


def test_an_anonymous_user_is_recorded_as_anonymous():
    row = record(event=Event.PASSWORD_RESET_REQUESTED, actor=AnonymousUser())

    assert (row.actor_kind, row.actor_label, row.actor_id) == (ActorKind.ANONYMOUS, "anonymous", None)


def test_a_failed_login_records_the_typed_login_but_no_password():
    row = record(
        event=Event.LOGIN_FAILED,
        actor=Actor.claimed("  mallory@example.com "),
        data={"reason": "bad password"},
    )

    assert row.actor_kind == ActorKind.ANONYMOUS
    assert row.actor_label == "mallory@example.com"
    assert row.actor_id is None


def test_a_target_that_is_not_a_model_is_recorded_by_type_and_id():
    row = record(event=Event.INVITATION_SENT, actor=None, target=Target("accounts.invitation", "42"))

    assert (row.target_type, row.target_id) == ("accounts.invitation", "42")


def test_an_overlong_label_is_cut_to_the_column_and_still_verifies():
    row = record(event=Event.LOGIN_FAILED, actor=Actor.claimed("x" * 1000 + "\x00"))

    assert len(row.actor_label) == 254
    assert verify_chain().ok


def test_ip_addresses_are_stored_in_canonical_form():
    row = record(event=Event.LOGIN_FAILED, actor=None, ip="2001:0DB8:0000::0001")

    assert AuditEvent.objects.get(pk=row.pk).ip == "2001:db8::1"
    assert verify_chain().ok


def test_it_refuses_an_unknown_event():
    with pytest.raises(ValueError, match="not a valid Event"):
        record(event="reports.made_up", actor=None)  # type: ignore[arg-type]


def test_it_refuses_floats_in_data():
    with pytest.raises(TypeError, match="float"):
        record(event=Event.ROLE_CHANGED, actor=None, data={"score": 9.8})


def test_it_refuses_large_data():
    with pytest.raises(ValueError, match=str(MAX_DATA_BYTES)):
        record(event=Event.ROLE_CHANGED, actor=None, data={"body": "x" * MAX_DATA_BYTES})


def test_it_refuses_non_string_keys():
    with pytest.raises(TypeError, match="keys"):
        record(event=Event.ROLE_CHANGED, actor=None, data={1: "one"})  # type: ignore[dict-item]


def test_data_comes_back_as_it_was_hashed():
    row = record(event=Event.ROLE_CHANGED, actor=None, data={"roles": ("viewer", "admin"), "ünïcode": "✓"})

    assert AuditEvent.objects.get(pk=row.pk).data == {"roles": ["viewer", "admin"], "ünïcode": "✓"}
    assert verify_chain().ok


def test_an_event_rolls_back_with_the_change_it_describes():
    before = AuditEvent.objects.count()

    with pytest.raises(RuntimeError):
        _record_then_fail()

    assert AuditEvent.objects.count() == before
    assert verify_chain().ok


def test_the_chain_continues_after_a_rolled_back_event(chain):
    with pytest.raises(RuntimeError):
        _record_then_fail()
    after = record(event=Event.LOGOUT, actor=None)

    assert after.prev_hash == chain[-1].hash
    assert verify_chain().ok


def test_it_shows_the_events_human_name_and_compact_details(chain):
    assert chain[1].event_label == "Login failed"
    assert chain[1].details == '{"reason":"bad password"}'
    assert str(chain[1]) == f"#{chain[1].pk} auth.login_failed by system"


def test_an_event_from_outside_the_vocabulary_shows_its_raw_value():
    assert AuditEvent(event="legacy.thing").event_label == "legacy.thing"
