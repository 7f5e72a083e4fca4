"""The audit screen hides what a registered concealer says its reader may not see, and drops nothing.

``audit`` sits below the apps whose objects its rows name, so those apps register a concealer
(``reports`` registers the embargo rule; ``bastion/tests/test_audit_log_embargo.py`` covers that
one end to end). Here a concealer of the test's own stands for such an app: it hides one project
(by target and by its code in data) from every reader not on its ``cleared`` list.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.urls import reverse

from bastion.accounts.models import Role
from bastion.audit.concealment import Concealed, Reader, register_concealer, unregister_concealer
from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Target, record

pytestmark = pytest.mark.django_db

URL = reverse("audit:events")
SECRET = Target("demo.project", "7")
CODE = "PRJ-7QX"  # how rows mention the hidden project in their data
LABEL = "a project under wraps"


@pytest.fixture
def cleared() -> Iterator[set[int]]:
    """Register the demo concealer; the returned set holds the ids of readers it hides nothing from."""
    allowed: set[int] = set()

    def conceal(reader: Reader) -> Concealed:
        if reader.pk in allowed:
            return Concealed()
        return Concealed(targets=frozenset({(SECRET.type, SECRET.id)}), words=frozenset({CODE}))

    register_concealer("demo", conceal, label=LABEL)
    yield allowed
    unregister_concealer("demo")


def test_a_hidden_target_and_its_mentions_are_masked_and_the_rows_stay(cleared, client_as, dave, alice):
    named = record(event=Event.REPORT_VIEWED, actor=alice, target=SECRET, data={"scope": "full"})
    mentioned = record(
        event=Event.ROLE_CHANGED, actor=alice, target=alice, data={"via": [CODE, f"{CODE}X"], "note": CODE}
    )
    plain = record(event=Event.LOGOUT, actor=alice, data={"from": "PRJ-8"})

    response = client_as(dave).get(URL)

    body = response.content.decode()
    rows = {row.event.pk: row for row in response.context["rows"]}
    assert set(rows) >= {named.pk, mentioned.pk, plain.pk}  # nothing dropped
    assert rows[named.pk].target == LABEL
    assert rows[named.pk].target_hidden
    assert "demo.project:7" not in body
    assert rows[mentioned.pk].target == f"accounts.user:{alice.pk}"
    # Only the whole identifier: a longer one that merely starts with it is someone else's.
    assert rows[mentioned.pk].details == (f'{{"note":"({LABEL})","via":["({LABEL})","{CODE}X"]}}')
    assert f'"{CODE}"' not in body
    assert rows[plain.pk].details == '{"from":"PRJ-8"}'
    assert not rows[plain.pk].concealed


def test_a_search_for_a_hidden_target_is_masked_for_readers_it_is_hidden_from(
    cleared, client_as, dave, alice
):
    record(event=Event.REPORT_VIEWED, actor=None, target=SECRET)
    alice.role = Role.ADMIN  # a second admin, cleared for the project, searches for it by target
    alice.save(update_fields=["role"])
    cleared.add(alice.pk)
    client_as(alice).get(URL, {"target_type": SECRET.type, "target_id": SECRET.id})
    searched = AuditEvent.objects.filter(event=Event.AUDIT_VIEWED).get()
    assert searched.data["filters"] == {"target_type": SECRET.type, "target_id": SECRET.id}  # kept whole

    response = client_as(dave).get(URL)

    row = {row.event.pk: row for row in response.context["rows"]}[searched.pk]
    assert row.details == f'{{"filters":{{"target_id":"({LABEL})","target_type":"demo.project"}},"page":1}}'
    assert row.concealed
    assert '"target_id":"7"' not in response.content.decode()


def test_a_reader_the_concealer_clears_sees_every_reference(cleared, client_as, dave):
    cleared.add(dave.pk)
    record(event=Event.REPORT_VIEWED, actor=None, target=SECRET, data={"code": CODE})

    response = client_as(dave).get(URL)

    body = response.content.decode()
    assert "demo.project:7" in body
    assert CODE in body
    viewed = AuditEvent.objects.filter(event=Event.AUDIT_VIEWED).get()
    assert "concealed" not in viewed.data


def test_the_viewing_records_how_many_rows_it_showed_masked(cleared, client_as, dave):
    record(event=Event.REPORT_VIEWED, actor=None, target=SECRET)
    record(event=Event.LOGOUT, actor=None, data={"code": CODE})
    record(event=Event.LOGOUT, actor=None)

    client_as(dave).get(URL)

    viewed = AuditEvent.objects.filter(event=Event.AUDIT_VIEWED).get()
    assert viewed.data == {"filters": {}, "page": 1, "concealed": 2}


def test_without_a_concealer_every_reference_is_shown(client_as, dave):
    record(event=Event.REPORT_VIEWED, actor=None, target=SECRET, data={"code": CODE})

    body = client_as(dave).get(URL).content.decode()

    assert "demo.project:7" in body
    assert CODE in body
