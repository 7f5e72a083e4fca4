"""verify_audit: an intact chain passes; any edit, removal or forgery is named by its event id."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from bastion import cli
from bastion.audit.chain import HASHED_FIELDS, row_hash
from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import record, verify_chain
from bastion.audit.testing import triggers_suspended

pytestmark = pytest.mark.django_db


def run_verify_audit() -> tuple[int, str, str]:
    """Run the command as cron would see it: exit status, stdout, stderr."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def behind_the_triggers(sql: str, params: list[Any]) -> None:
    """What an attacker with database access would do: lift the triggers, change rows, restore."""
    with triggers_suspended(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_verify_audit_passes_an_intact_chain(chain):
    code, out, err = run_verify_audit()

    assert code == 0
    assert "Audit chain intact: 3 events." in out
    assert f"Head hash: {chain[-1].hash}" in out
    assert err == ""


def test_verify_audit_records_that_it_verified(chain):
    run_verify_audit()

    last = AuditEvent.objects.first()
    assert last is not None
    assert last.event == Event.AUDIT_VERIFIED
    assert last.actor_kind == ActorKind.SYSTEM
    assert last.data == {"checked": 3, "head_hash": chain[-1].hash}
    assert verify_chain().checked == 4


def test_verify_audit_names_the_first_edited_row(chain):
    behind_the_triggers(
        "UPDATE audit_auditevent SET actor_label = %s WHERE id = %s", ["innocent", chain[1].pk]
    )

    code, out, err = run_verify_audit()

    assert code == 1
    assert out == ""
    assert f"Audit chain BROKEN at event #{chain[1].pk}: its content does not match its hash" in err


def test_verify_audit_records_the_tampering_it_found(chain):
    behind_the_triggers(
        "UPDATE audit_auditevent SET data = %s WHERE id = %s", ['{"checked": 99}', chain[0].pk]
    )

    run_verify_audit()

    last = AuditEvent.objects.first()
    assert last is not None
    assert last.event == Event.AUDIT_TAMPERING_DETECTED
    assert last.data["first_bad_id"] == chain[0].pk


def test_it_detects_an_edit_that_recomputed_the_rows_own_hash(chain):
    forged = {**_fields(chain[1]), "actor_label": "innocent"}
    new_hash = row_hash(chain[1].prev_hash, forged)
    behind_the_triggers(
        "UPDATE audit_auditevent SET actor_label = %s, hash = %s WHERE id = %s",
        ["innocent", new_hash, chain[1].pk],
    )

    result = verify_chain()

    # The edited row is self-consistent now, so the break shows at the next link.
    assert (result.ok, result.first_bad_id, result.checked) == (False, chain[2].pk, 2)
    assert "deleted, inserted or reordered" in result.reason


def test_it_detects_a_deleted_row(chain):
    behind_the_triggers("DELETE FROM audit_auditevent WHERE id = %s", [chain[1].pk])

    result = verify_chain()

    assert not result.ok
    assert result.first_bad_id == chain[2].pk
    assert f"event #{chain[0].pk}" in result.reason


def test_it_detects_a_deleted_first_row(chain):
    behind_the_triggers("DELETE FROM audit_auditevent WHERE id = %s", [chain[0].pk])

    result = verify_chain()

    assert (result.ok, result.first_bad_id) == (False, chain[1].pk)
    assert "the start of the trail" in result.reason


def test_it_detects_swapped_rows(chain):
    a, b = chain[1].pk, chain[2].pk
    with triggers_suspended(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET id = %s WHERE id = %s", [-1, a])
        cursor.execute("UPDATE audit_auditevent SET id = %s WHERE id = %s", [a, b])
        cursor.execute("UPDATE audit_auditevent SET id = %s WHERE id = %s", [b, -1])

    result = verify_chain()

    assert (result.ok, result.first_bad_id) == (False, a)


def test_it_detects_a_forged_row_appended_with_a_made_up_link(chain):
    forged = _forged_row(chain, prev_hash="f" * 64)

    code, _, err = run_verify_audit()

    assert code == 1
    assert f"#{forged.pk}:" in err


def test_a_forged_row_cannot_take_an_existing_events_place(chain):
    with pytest.raises(IntegrityError), transaction.atomic():
        _forged_row(chain, prev_hash=chain[0].hash)


# Transactional: run_from_argv closes every connection when it ends, which on PostgreSQL would
# end the per-test transaction that a plain django_db test lives in.
@pytest.mark.django_db(transaction=True)
def test_the_bastion_command_maps_verify_audit_and_exits_1_when_broken(chain, capsys):
    behind_the_triggers(
        "UPDATE audit_auditevent SET event = %s WHERE id = %s", [Event.LOGIN_SUCCEEDED, chain[1].pk]
    )

    with pytest.raises(SystemExit) as exit_:
        cli.main(["verify-audit"])

    assert exit_.value.code == 1
    assert f"Audit chain BROKEN at event #{chain[1].pk}" in capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_the_bastion_command_exits_0_on_an_intact_chain(capsys):
    record(event=Event.LOGOUT, actor=None)

    assert cli.main(["verify-audit"]) == 0
    assert "Audit chain intact: 1 events." in capsys.readouterr().out


def _fields(row: AuditEvent) -> dict[str, object]:
    return {name: getattr(row, name) for name in HASHED_FIELDS}


def _forged_row(chain: list[AuditEvent], *, prev_hash: str) -> AuditEvent:
    """A self-consistent row (its hash matches its content), inserted straight into the table."""
    template = chain[-1]
    fields = {**_fields(template), "id": template.pk + 1, "actor_label": "dave@example.com"}
    row = AuditEvent(**fields, prev_hash=prev_hash, hash=row_hash(prev_hash, fields))
    row.save(force_insert=True)
    return row


def test_a_forged_row_does_not_block_later_events(chain):
    forged = _forged_row(chain, prev_hash="f" * 64)

    later = record(event=Event.LOGOUT, actor=None)

    assert later.pk > forged.pk
    assert later.prev_hash == forged.hash
