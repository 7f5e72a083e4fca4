"""The authorization matrix for embargoed reports: persona by view by embargo state.

Personas: alice (set the embargo, so granted), bob (her teammate, not granted), charlie (a viewer),
dave (an admin, not granted) and an anonymous visitor. States: no embargo, running, ended (its
instant passed), lifted, and running with bob having broken the glass. Each case answers every
view at once and compares the whole row with what the rule says, so a failure shows every cell
that differs. "listed"/"absent" is whether a list (inbox, content search, duplicate candidates,
staff API) names the embargoed report; anything else is the HTTP status.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from bastion.accounts.models import User
from bastion.accounts.services.api_tokens import create_api_token
from bastion.reports.models import Embargo, Report
from bastion.reports.services.embargo import break_glass, lift_embargo, set_embargo
from bastion.reports.tests.conftest import a_file, private_vault, submit  # noqa: F401  (fixtures)
from bastion.test import T0, make_staff

END = T0 + timedelta(days=10)
PERSONAS = ["alice", "bob", "charlie", "dave", "anonymous"]
STATES = ["none", "running", "ended", "lifted", "break_glass"]
HTML_VIEWS = ["report", "download", "reply", "note", "status", "inbox", "search", "duplicates", "break_glass"]
API_VIEWS = ["api_list", "api_detail"]
GLASS = "Customer escalation about the export outage"


def sees(persona: str, state: str) -> bool:
    """The rule under test: who may see the embargoed report in each state."""
    if persona in ("charlie", "anonymous"):
        return False
    if persona == "alice" or state in ("none", "ended", "lifted"):
        return True
    return persona == "bob" and state == "break_glass"


def expected(persona: str, state: str) -> dict[str, object]:
    if persona == "anonymous":
        return {**dict.fromkeys(HTML_VIEWS, 302), "api_list": 401, "api_detail": 401}
    if persona == "charlie":
        return {**dict.fromkeys(HTML_VIEWS, 403), "api_list": "absent", "api_detail": 404}
    visible = sees(persona, state)
    listed = "listed" if visible else "absent"
    return {
        "report": 200 if visible else 404,
        "download": 200 if visible else 404,
        "reply": 303 if visible else 404,
        "note": 303 if visible else 404,
        "status": 303 if visible else 404,
        "inbox": listed,
        "search": listed,
        "duplicates": listed,
        # Offered to a triager or admin kept out only by the embargo; anyone who sees it is sent on.
        "break_glass": 303 if visible else 200,
        "api_list": listed,
        "api_detail": 200 if visible else 404,
    }


def world(state: str, submit, clock, users: dict[str, User]) -> tuple[Report, Report]:  # noqa: F811
    """rita's report (with a file) in ``state``, and a later twin of it to find duplicates from."""
    report = submit(attachments=[a_file()]).report
    clock.shift(timedelta(minutes=5))
    twin = submit().report
    if state != "none":
        set_embargo(report=report, ends_at=END, reason="Fix ships in 4.3", actor=users["alice"])
    if state == "ended":
        clock.move_to(END + timedelta(minutes=1))
    if state == "lifted":
        lift_embargo(embargo=Embargo.objects.get(report=report), actor=users["alice"], reason="Fix shipped")
    if state == "break_glass":
        break_glass(report=report, actor=users["bob"], reason=GLASS)
    mail.outbox.clear()
    return report, twin


def listed(response: Any, report: Report) -> object:
    if response.status_code != 200:
        return response.status_code
    return "listed" if report.tracking_id in response.content.decode() else "absent"


def observe(client: Client, token: str | None, report: Report, twin: Report) -> dict[str, object]:
    """Every view's answer for one persona; reads first, then the three writes."""
    tid = report.tracking_id
    seen: dict[str, object] = {
        "report": client.get(reverse("triage:report", args=[tid])).status_code,
        "download": client.get(
            reverse("triage:attachment", args=[tid, report.attachments.get().uid])
        ).status_code,
        "inbox": listed(client.get(reverse("triage:inbox")), report),
        "search": listed(client.post(reverse("triage:inbox"), {"text": "tenants"}), report),
        "duplicates": listed(client.get(reverse("triage:duplicates", args=[twin.tracking_id])), report),
        "break_glass": client.get(reverse("triage:break_glass", args=[tid])).status_code,
    }
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    api = Client()
    api_list = api.get("/api/v1/staff/reports", headers=headers)
    seen["api_list"] = api_list.status_code if api_list.status_code != 200 else listed_json(api_list, report)
    seen["api_detail"] = api.get(f"/api/v1/staff/reports/{tid}", headers=headers).status_code
    seen["reply"] = client.post(reverse("triage:reply", args=[tid]), {"body": "Thanks, looking."}).status_code
    seen["note"] = client.post(reverse("triage:note", args=[tid]), {"body": "Reproduced."}).status_code
    version = str(Report.objects.get(pk=report.pk).version)
    moved = client.post(reverse("triage:status", args=[tid]), {"to": "triaged", "version": version})
    seen["status"] = moved.status_code
    return seen


def listed_json(response: Any, report: Report) -> str:
    names = [row["tracking_id"] for row in json.loads(response.content)["items"]]
    return "listed" if report.tracking_id in names else "absent"


@pytest.fixture
def users(db: None) -> dict[str, User]:
    return {name: make_staff(name) for name in ("alice", "bob", "charlie", "dave")}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_sees_exactly_what_the_embargo_allows(
    persona: str,
    state: str,
    users: dict[str, User],
    submit,  # noqa: F811
    clock,
    client_as,
) -> None:
    report, twin = world(state, submit, clock, users)
    if persona == "anonymous":
        client, token = Client(), None
    else:
        user = users[persona]
        client = client_as(user)
        token = create_api_token(user=user, name="matrix", scopes=["reports:read"], actor=user).plaintext

    assert observe(client, token, report, twin) == expected(persona, state)


def test_a_break_glass_look_ends_when_its_time_is_up(
    users: dict[str, User],
    submit,  # noqa: F811
    clock,
    client_as,
    settings,
) -> None:
    settings.BREAK_GLASS_HOURS = 4
    report, _ = world("break_glass", submit, clock, users)
    page = reverse("triage:report", args=[report.tracking_id])
    assert client_as(users["bob"]).get(page).status_code == 200

    clock.move_to(T0 + timedelta(minutes=5, hours=4) - timedelta(seconds=1))
    assert client_as(users["bob"]).get(page).status_code == 200

    clock.move_to(T0 + timedelta(minutes=5, hours=4))
    response = client_as(users["bob"]).get(page)
    assert response.status_code == 404
    assert b'id="break-glass-form"' in response.content  # the way back in is a new reason


def test_the_embargo_ending_opens_the_report_to_every_triager_at_that_instant(
    users: dict[str, User],
    submit,  # noqa: F811
    clock,
    client_as,
) -> None:
    report, _ = world("running", submit, clock, users)
    page = reverse("triage:report", args=[report.tracking_id])

    clock.move_to(END - timedelta(seconds=1))
    assert client_as(users["bob"]).get(page).status_code == 404

    clock.move_to(END)
    assert client_as(users["bob"]).get(page).status_code == 200
