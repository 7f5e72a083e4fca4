"""``lib.lean`` writes and reads rows exactly as the ORM does, on SQLite and PostgreSQL alike.

Intake's hot path uses it instead of ``save()`` and ``QuerySet.first()``; if it stored or read a
value differently (a datetime's zone, a JSON document, a Decimal, a memoryview), reports would
differ by channel. Each test holds it against the ORM doing the same thing.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, models, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from bastion.intake.models import Policy
from bastion.lib import lean
from bastion.reports.models import Asset, Program, Report, Reporter, TimelineEntry
from bastion.reports.tests.conftest import private_vault  # noqa: F401  (the autouse fixture)
from bastion.vault.models import DataKey

pytestmark = pytest.mark.django_db

SKIP = {"id", "uid", "slug", "subject"}  # what must differ between two rows of one table


def columns(model: type[models.Model], pk: object) -> dict[str, Any]:
    row = model._default_manager.filter(pk=pk).values().get()
    return {name: value for name, value in row.items() if name not in SKIP}


def program(slug: str) -> Program:
    return Program(
        slug=slug,
        name="Rails programme",
        targets={"triage": {"high": 48}},
        holidays=["2026-12-25"],
        time_zone="Europe/Paris",
        approval_threshold=Decimal("2500.50"),
        offers_bounty=True,
    )


def test_insert_stores_what_save_stores():
    saved, inserted = program("saved"), program("inserted")
    saved.save(force_insert=True)
    lean.insert(inserted)
    assert inserted.pk is not None  # the database's key, read back
    assert inserted.pk != saved.pk
    assert not inserted._state.adding
    assert columns(Program, inserted.pk) == columns(Program, saved.pk)


def test_insert_keeps_a_key_set_in_python_and_binary_values():
    key = DataKey(subject=f"report:{uuid.uuid4()}", wrapped=b"\x00\xffwrapped", master_version=3)
    lean.insert(key)
    stored = DataKey.objects.get(pk=key.pk)
    assert bytes(stored.wrapped) == b"\x00\xffwrapped"
    assert (stored.master_version, stored.created_at) == (3, key.created_at)


def test_insert_takes_the_key_of_a_related_row_saved_just_before(report: Report):
    reporter = Reporter(email_digest="d" * 64, upstream_consent=None)
    entry = TimelineEntry(report=report, kind="submitted", data={"channel": "web", "n": [1, 2]})
    lean.insert(reporter, entry)
    assert TimelineEntry.objects.get(pk=entry.pk).data == {"channel": "web", "n": [1, 2]}
    assert Reporter.objects.get(pk=reporter.pk).upstream_consent is None


def test_insert_refuses_a_related_row_that_is_not_saved():
    unsaved = Program(slug="unsaved", name="x")
    with pytest.raises(ValueError, match="save the related object first"):
        lean.insert(Asset(name="api", program=unsaved))


def test_insert_refuses_a_model_whose_save_signals_would_not_run():
    row: DBTaskResult[Any, Any] = DBTaskResult(
        task_path="x.y", args_kwargs={}, backend_name="default", run_after=timezone.now()
    )
    with pytest.raises(TypeError, match="signal receivers"):
        lean.insert(row)
    lean.insert(row, skip_signals=True)  # the caller did the receiver's work (run_after is set)
    assert DBTaskResult.objects.filter(pk=row.pk).exists()


def test_get_reads_a_row_as_the_orm_does():
    lean.insert(program("read"))
    orm, ours = Program.objects.get(slug="read"), lean.get(Program, slug="read")
    assert ours is not None
    assert not ours._state.adding
    for field in Program._meta.concrete_fields:
        mine, theirs = getattr(ours, field.attname), getattr(orm, field.attname)
        assert (mine, type(mine)) == (theirs, type(theirs)), field.name
    assert lean.get(Program, slug="absent") is None


def test_first_orders_and_exists_matches():
    newest = Policy.objects.order_by("-version").values_list("version", flat=True).first()
    assert lean.first(Policy, ["version"], order_by="-version") == (newest,)
    assert lean.first(Policy, ["version"], order_by="version") == (1,)
    started = timezone.now() - timedelta(days=1)
    lean.insert(DataKey(subject="report:dated", wrapped=b"w", master_version=1, created_at=started))
    assert lean.first(DataKey, ["created_at"], subject="report:dated") == (started,)
    assert lean.exists(DataKey, subject="report:dated")
    assert not lean.exists(DataKey, subject="report:other")


def test_only_columns_can_be_named():
    with pytest.raises(TypeError, match="not a column"):
        lean.first(Program, ["assets"])


def test_insert_keeps_the_related_object_it_was_given(report: Report):
    entry = TimelineEntry(report=report, kind="submitted", data={})
    lean.insert(entry)
    assert entry.report is report  # as save() leaves it: no query to read it back


def test_a_failed_insert_dooms_the_transaction_as_save_does():
    lean.insert(program("taken"))

    def swallow_and_carry_on() -> None:
        with transaction.atomic():
            # A caller that swallows the clash must not go on to commit half a change.
            with contextlib.suppress(IntegrityError):
                lean.insert(program("taken"))  # the slug is unique
            Program.objects.count()

    with pytest.raises(TransactionManagementError):
        swallow_and_carry_on()


def test_reads_refuse_none_and_model_instances():
    with pytest.raises(TypeError, match="not None"):
        lean.first(Reporter, ["id"], upstream_consent=None)
    with pytest.raises(TypeError, match="model instances"):
        lean.exists(Asset, program=Program(slug="x"))
