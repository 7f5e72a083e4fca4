"""Each stored email counts once against the mail floods, in the transaction that stores it."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.intake.flood import Scope, count_mail, mail_flooded
from bastion.intake.mail.receive import Outcome, TemporaryMailFailure
from bastion.intake.models import FloodCounter
from bastion.intake.tests.test_receive_email import (  # noqa: F401 - fixtures and helpers
    encrypt_as_rita,
    mail_settings,
    pgp_mime,
    plain,
    receive,
    rita_gpg,
)
from bastion.lib import openpgp
from bastion.reports.models import MailState, ReceivedMail
from bastion.reports.tests.conftest import gpg, private_vault, rita_key  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def counted(scope: Scope) -> int:
    return sum(FloodCounter.objects.filter(scope=scope.value).values_list("count", flat=True))


def test_every_stored_email_counts_once_and_a_redelivery_not_at_all():
    receive(plain(message_id="<one@r.example>"))
    receive(plain(message_id="<one@r.example>"))  # the MTA delivering it again
    receive(plain(message_id="<two@r.example>", subject="Another finding"))

    assert ReceivedMail.objects.count() == 2
    assert (counted(Scope.MAIL_SENDER), counted(Scope.MAIL_GLOBAL)) == (2, 2)


def test_a_delivery_left_to_the_mta_to_retry_is_not_counted(monkeypatch, rita_gpg, rita_key):  # noqa: F811
    raw = pgp_mime(encrypt_as_rita(rita_gpg, rita_key, b"Subject: x\r\n\r\nhello\r\n"))
    monkeypatch.setattr(openpgp, "SQOP", "sqop-is-not-installed")  # the engine missing: a retry may work

    for _ in range(3):
        with pytest.raises(TemporaryMailFailure):
            receive(raw)

    # Nothing was stored, so the sender's retries must not use up their own limit.
    assert not ReceivedMail.objects.exists()
    assert counted(Scope.MAIL_SENDER) == 0


def test_mail_quarantined_for_a_fault_of_ours_still_counts(monkeypatch):
    from bastion.lib import inbound

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(inbound, "read_mail", broken)

    assert receive(plain()).outcome == Outcome.QUARANTINED
    assert counted(Scope.MAIL_SENDER) == 1


def test_a_database_fault_while_quarantining_is_retried_by_the_mta_and_then_counted(monkeypatch):
    from bastion.lib import inbound

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(inbound, "read_mail", broken)
    busy = {"left": 1}

    def database_busy_once(execute, sql, params, many, context):
        counting = "intake_floodcounter" in sql and not sql.lstrip().upper().startswith("SELECT")
        if counting and busy["left"]:  # the count's write, inside the quarantining transaction
            busy["left"] -= 1
            raise OperationalError("database is locked")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(database_busy_once), pytest.raises(TemporaryMailFailure):
        receive(plain())
    assert not ReceivedMail.objects.exists()  # not kept uncounted behind the flood limits' back

    assert receive(plain()).outcome == Outcome.QUARANTINED  # the MTA's retry
    assert counted(Scope.MAIL_SENDER) == 1


def test_mail_is_kept_uncounted_when_the_flood_limits_themselves_are_broken(settings):
    settings.MAIL_LIMIT_GLOBAL = "many"  # the start-up check refuses this; a live edit could still

    assert receive(plain()).outcome == Outcome.QUARANTINED
    assert ReceivedMail.objects.get().problem == "error"
    assert not FloodCounter.objects.exists()


def test_looking_at_the_floods_counts_nothing(settings):
    settings.MAIL_LIMIT_PER_SENDER = "1/3600"

    assert mail_flooded(sender_digest="d") is False
    assert mail_flooded(sender_digest="d") is False
    assert not FloodCounter.objects.exists()


def test_the_first_email_over_a_limit_trips_it_once_and_is_audited(settings):
    settings.MAIL_LIMIT_PER_SENDER = "2/3600"

    tripped = [count_mail(sender_digest="d") for _ in range(4)]

    assert tripped == [(), (), (Scope.MAIL_SENDER.value,), ()]
    assert mail_flooded(sender_digest="d") is True
    assert mail_flooded(sender_digest="someone else") is False
    assert AuditEvent.objects.filter(event=Event.FLOOD_TRIPPED).count() == 1


def test_a_flood_is_bucketed_from_the_first_email_over_the_limit(settings):
    settings.MAIL_LIMIT_PER_SENDER = "2/3600"

    outcomes = [receive(plain(message_id=f"<m{n}@r.example>")).outcome for n in range(4)]

    assert outcomes == [Outcome.REPORT, Outcome.REPORT, Outcome.FLOODED, Outcome.FLOODED]
    assert ReceivedMail.objects.filter(state=MailState.FLOODED).count() == 2
    assert counted(Scope.MAIL_SENDER) == 4  # held mail counts too, so the flood stays held
