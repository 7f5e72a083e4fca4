"""The staff API: token auth and scopes, the list with filters and cursors, opening, PATCH, messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bastion.accounts import services as accounts
from bastion.accounts.models import ApiScope
from bastion.accounts.services.api_tokens import create_api_token, revoke_api_token
from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor
from bastion.reports.models import Asset, Message, Program, Report, Visibility
from bastion.reports.sealing import open_field
from bastion.reports.services import ShredReason, change_status, post_message, shred_report
from bastion.reports.tests.conftest import CANARY
from bastion.reports.workflow import Status
from bastion.triage.canned import default_message

pytestmark = pytest.mark.django_db

API = "/api/v1/staff"
ALL_SCOPES = [scope.value for scope in ApiScope]
# What a PATCH that writes to the reporter or the conversation needs.
WRITE_AND_MESSAGES = ("reports:write", "messages:write")
V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def token_for(user, *scopes: str) -> str:
    return create_api_token(user=user, name="test", scopes=scopes or ALL_SCOPES, actor=user).plaintext


def call(method: str, path: str, token: str | None, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    return getattr(Client(), method.lower())(API + path, **kwargs)


def errors_of(response) -> dict[str, list[str]]:
    return response.json()["errors"]


# --- Listing --------------------------------------------------------------------------------------


def test_it_lists_reports_newest_first_with_metadata_only(alice, submit):
    older = submit().report
    newer = submit().report

    response = call("GET", "/reports", token_for(alice, "reports:read"))

    assert response.status_code == 200
    body = response.json()
    assert [row["tracking_id"] for row in body["items"]] == [newer.tracking_id, older.tracking_id]
    assert body["items"][0]["status"] == "new"
    assert body["items"][0]["version"] == 1
    assert body["next"] is None
    assert body["next_cursor"] is None
    assert CANARY not in response.content.decode()
    assert not AuditEvent.objects.filter(event=Event.REPORT_VIEWED).exists()


def test_it_pages_with_a_cursor_and_never_counts(alice, submit, settings):
    made = [submit().report for _ in range(5)]
    # Two reports received at the same instant: the id breaks the tie, so none is lost or repeated.
    Report.objects.filter(pk=made[2].pk).update(received_at=made[1].received_at)
    token = token_for(alice, "reports:read")
    seen: list[str] = []
    url: str | None = "/reports?limit=2"
    with CaptureQueriesContext(connection) as queries:
        while url:
            body = call("GET", url, token).json()
            seen += [row["tracking_id"] for row in body["items"]]
            assert len(body["items"]) <= 2
            url = body["next"].removeprefix(settings.BASE_URL + API) if body["next"] else None

    expected = Report.objects.order_by("-received_at", "-id").values_list("tracking_id", flat=True)
    assert seen == list(expected)
    # (A COUNT inside a row's own subquery, such as its message count, is fine: it runs per row shown.)
    statements = [query["sql"].upper() for query in queries.captured_queries]
    assert not any(sql.startswith("SELECT COUNT(") for sql in statements)
    assert not any(" OFFSET " in sql for sql in statements)


def test_the_next_link_keeps_the_filters(alice, submit, settings):
    for _ in range(3):
        submit()

    body = call("GET", "/reports?status=new&limit=1", token_for(alice, "reports:read")).json()

    assert body["next"].startswith(f"{settings.BASE_URL}{API}/reports?")
    assert "status=new" in body["next"]
    assert f"cursor={body['next_cursor']}" in body["next"]


def test_it_filters_like_the_inbox(alice, submit):
    kept = submit().report
    moved = submit().report
    change_status(report=moved, to=Status.TRIAGED, actor=alice)

    body = call("GET", "/reports?status=new", token_for(alice, "reports:read")).json()

    assert [row["tracking_id"] for row in body["items"]] == [kept.tracking_id]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("status=nonsense", {"status"}),
        ("status=nonsense&limit=0", {"status", "limit"}),
        ("limit=1000", {"limit"}),
        ("limit=ten", {"limit"}),
        ("cursor=not-a-cursor", {"cursor"}),
        ("colour=red", {"colour"}),
        ("after=x&before=y", {"after", "before"}),
        ("assignee=nobody@bastion.example", {"assignee"}),
    ],
)
def test_bad_filters_are_400_naming_each_field(alice, report, query, fields):
    response = call("GET", f"/reports?{query}", token_for(alice, "reports:read"))

    assert response.status_code == 400
    assert set(errors_of(response)) == fields
    assert response.json()["detail"].startswith("Bad filters: ")


def test_it_filters_by_assignee_me_and_severity(alice, bob, submit):
    mine = submit().report
    theirs = submit().report
    token = token_for(alice)
    call(
        "PATCH", f"/reports/{mine.tracking_id}", token, {"version": 1, "assignee": alice.email, "cvss_v3": V3}
    )
    call("PATCH", f"/reports/{theirs.tracking_id}", token, {"version": 1, "assignee": bob.email})

    for query in ("assignee=me", "severity=critical", f"assignee={alice.email}&severity=critical,high"):
        body = call("GET", f"/reports?{query}", token).json()
        assert [row["tracking_id"] for row in body["items"]] == [mine.tracking_id], query


def test_an_exact_tracking_id_finds_that_one_report(alice, submit):
    wanted = submit().report
    submit()

    body = call("GET", f"/reports?q={wanted.tracking_id.lower()}", token_for(alice, "reports:read")).json()

    assert [row["tracking_id"] for row in body["items"]] == [wanted.tracking_id]
    assert body["next"] is None


def test_a_content_search_is_a_post_that_opens_the_candidates_and_records_the_read(alice, submit):
    wanted = submit(title="SSRF in the avatar fetcher").report
    submit()

    response = call(
        "POST",
        "/reports/search",
        token_for(alice, "reports:read"),
        {"status": ["new"], "text": "avatar fetcher"},
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert [row["tracking_id"] for row in body["items"]] == [wanted.tracking_id]
    assert body == {"items": body["items"], "next_cursor": None}  # no URL to carry the words
    searched = AuditEvent.objects.get(event=Event.REPORTS_SEARCHED)
    assert searched.actor_id == alice.pk
    assert searched.data["filters"] == {"status": ["new"]}
    assert "avatar" not in json.dumps(searched.data)
    used = AuditEvent.objects.filter(event=Event.API_TOKEN_USED).get()
    assert used.data["endpoint"] == f"{API}/reports/search"


def test_the_list_refuses_a_content_search_and_points_to_the_post(alice, report):
    response = call("GET", "/reports?status=new&text=avatar", token_for(alice, "reports:read"))

    assert response.status_code == 400
    assert set(errors_of(response)) == {"text"}
    assert f"POST the filters and text as JSON to {API}/reports/search" in response.json()["detail"]
    assert not AuditEvent.objects.filter(event=Event.REPORTS_SEARCHED).exists()


def test_a_content_search_pages_by_cursor_in_the_body(alice, submit):
    made = [submit(title=f"Marmalade leak {n}").report for n in range(3)]
    submit(title="Something else")
    token = token_for(alice, "reports:read")
    seen: list[str] = []
    search: dict[str, Any] = {"text": "marmalade", "limit": 2}
    while True:
        body = call("POST", "/reports/search", token, search).json()
        seen += [row["tracking_id"] for row in body["items"]]
        if not body["next_cursor"]:
            break
        search = {**search, "cursor": body["next_cursor"]}

    assert seen == [report.tracking_id for report in reversed(made)]
    assert AuditEvent.objects.filter(event=Event.REPORTS_SEARCHED).count() == 2  # one per page


def test_an_exact_tracking_id_narrows_a_content_search_to_that_report(alice, submit):
    first = submit(title="Marmalade leak").report
    second = submit(title="Marmalade leak again").report
    plain = submit(title="Something else").report
    token = token_for(alice, "reports:read")

    def search(q: str) -> list[str]:
        body = call("POST", "/reports/search", token, {"q": q, "text": "marmalade"}).json()
        return [row["tracking_id"] for row in body["items"]]

    assert search(second.tracking_id) == [second.tracking_id]
    assert search(plain.tracking_id) == []  # searched inside, not jumped to
    assert first.tracking_id not in search(second.tracking_id)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"text": " "}, 400, "text"),
        ({"text": "x", "status": ["nonsense"]}, 400, "status"),
        ({"text": "x", "cursor": "not-a-cursor"}, 400, "cursor"),
        ({"text": "x", "received_before": "9999-12-31"}, 400, "received_before"),
        ({"text": "x", "after": "y"}, 422, None),
        ({"status": ["new"]}, 422, None),
        ({"text": "x\u0000"}, 422, None),
    ],
)
def test_a_bad_content_search_is_refused_naming_the_field(alice, report, body, status, field):
    response = call("POST", "/reports/search", token_for(alice, "reports:read"), body)

    assert response.status_code == status, response.json()
    assert response.json()["detail"]
    if field:
        assert field in errors_of(response)
    assert not AuditEvent.objects.filter(event=Event.REPORTS_SEARCHED).exists()


# --- Opening --------------------------------------------------------------------------------------


def test_a_shredded_report_is_gone_with_a_410_and_no_read_is_recorded(alice, report, private_keys):
    shred_report(report=report, actor=Actor.system(), why=ShredReason.OPERATOR)

    response = call("GET", f"/reports/{report.tracking_id}", token_for(alice, "reports:read"))

    assert response.status_code == 410
    assert "destroyed" in response.json()["detail"]
    assert not AuditEvent.objects.filter(event=Event.REPORT_VIEWED).exists()


def test_it_opens_a_report_with_its_content_and_internal_notes_and_records_the_read(alice, report):
    post_message(report=report, body="Public words", visibility=Visibility.PUBLIC, actor=alice)
    post_message(report=report, body="Staff-only words", visibility=Visibility.INTERNAL, actor=alice)

    response = call("GET", f"/reports/{report.tracking_id}", token_for(alice, "reports:read"))

    assert response.status_code == 200
    body = response.json()
    assert body["content"]["title"] == f"Invoice export leaks other tenants {CANARY}"
    assert body["content"]["version"] == "4.2"
    assert body["reporter"]["email"] == "rita@researcher.example"
    assert [(m["visibility"], m["body"]) for m in body["messages"]][-2:] == [
        ("public", "Public words"),
        ("internal", "Staff-only words"),
    ]
    assert body["messages"][-1]["author"] == alice.email
    assert body["attachments"][0]["size"] == report.attachments.get().size
    assert body["version"] == report.version
    viewed = AuditEvent.objects.get(event=Event.REPORT_VIEWED)
    assert (viewed.actor_id, viewed.data) == (alice.pk, {"scope": "staff"})


def test_an_unknown_tracking_id_is_404(alice):
    response = call("GET", "/reports/BST-NOPE", token_for(alice, "reports:read"))

    assert response.status_code == 404
    assert response.json() == {"detail": "No report with this tracking ID is open to you."}


# --- PATCH ----------------------------------------------------------------------------------------


def test_it_changes_status_with_the_reporter_message_and_a_note(
    alice, report, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = call(
            "PATCH",
            f"/reports/{report.tracking_id}",
            token_for(alice, *WRITE_AND_MESSAGES),
            {
                "version": report.version,
                "status": "triaged",
                "reporter_message": "Confirmed.",
                "note": "Easy.",
            },
        )

    assert response.status_code == 200, response.json()
    report.refresh_from_db()
    assert report.status == Status.TRIAGED
    assert response.json()["version"] == report.version
    bodies = {m.visibility for m in Message.objects.filter(report=report)}
    assert bodies == {Visibility.PUBLIC, Visibility.INTERNAL}


def test_without_a_message_the_default_canned_response_goes_to_the_reporter(alice, report):
    expected = default_message(Status.TRIAGED, tracking_id=report.tracking_id)
    token = token_for(alice, *WRITE_AND_MESSAGES)

    response = call("PATCH", f"/reports/{report.tracking_id}", token, {"version": 1, "status": "triaged"})

    assert response.status_code == 200
    assert expected
    (reply,) = public_replies(report)
    assert reply == expected


def test_notify_reporter_false_sends_nothing_and_needs_no_messages_scope(alice, report):
    body = {"version": 1, "status": "triaged", "notify_reporter": False}

    response = call("PATCH", f"/reports/{report.tracking_id}", token_for(alice, "reports:write"), body)

    assert response.status_code == 200
    assert not report.messages.exists()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"status": "triaged", "reporter_message": "Confirmed."}, "reporter_message"),
        ({"status": "triaged", "notify_reporter": False, "reporter_message": "Hm"}, "reporter_message"),
        ({"status": "triaged", "notify_reporter": False, "note": "Easy."}, "note"),
        ({"status": "triaged"}, "a status change that notifies the reporter"),
        ({"note": "why"}, "note"),
    ],
)
def test_it_rejects_writing_to_the_reporter_or_conversation_without_the_messages_scope(
    alice, report, django_capture_on_commit_callbacks, body, named
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = call(
            "PATCH",
            f"/reports/{report.tracking_id}",
            token_for(alice, "reports:write"),
            {"version": 1, **body},
        )

    assert response.status_code == 403
    assert "lacks the messages:write scope" in response.json()["detail"]
    assert named in response.json()["detail"]
    report.refresh_from_db()
    assert (report.version, report.status) == (1, Status.NEW)
    assert not report.messages.exists()
    assert callbacks == []


def public_replies(report) -> list[str]:
    key = report.data_key_plain()
    public = report.messages.filter(visibility=Visibility.PUBLIC)
    return [open_field(message, "body", key=key) or "" for message in public]


def test_it_assigns_scores_and_labels_in_one_call(alice, bob, report):
    program = Program.objects.default()
    Asset.objects.create(name="billing", program=program)

    response = call(
        "PATCH",
        f"/reports/{report.tracking_id}",
        token_for(alice, "reports:write"),
        {
            "version": report.version,
            "assignee": bob.email.upper(),
            "cvss_v3": V3,
            "cwe_id": "CWE-79",
            "labels": ["Needs-PoC", "payments"],
            "asset": "billing",
        },
    )

    assert response.status_code == 200, response.json()
    row = response.json()
    assert row["assignee"] == bob.email
    assert row["severity"] == "critical"
    assert row["cvss_score"] == 9.8
    assert row["cwe_id"] == 79
    assert row["labels"] == ["needs-poc", "payments"]
    assert row["asset"] == "billing"
    events = set(AuditEvent.objects.values_list("event", flat=True))
    assert {Event.REPORT_ASSIGNED, Event.REPORT_CLASSIFIED} <= events


def test_null_unassigns_and_clears(alice, report):
    token = token_for(alice, "reports:write")
    first = call(
        "PATCH",
        f"/reports/{report.tracking_id}",
        token,
        {"version": 1, "assignee": alice.email, "cvss_v3": V3},
    )

    response = call(
        "PATCH",
        f"/reports/{report.tracking_id}",
        token,
        {"version": first.json()["version"], "assignee": None, "cvss_v3": None},
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["assignee"], response.json()["cvss_score"]) == (None, None)


def test_a_stale_version_is_409_and_changes_nothing(alice, bob, report):
    token = token_for(alice, "reports:write")
    call("PATCH", f"/reports/{report.tracking_id}", token, {"version": 1, "assignee": bob.email})

    response = call("PATCH", f"/reports/{report.tracking_id}", token, {"version": 1, "assignee": alice.email})

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "stale_edit"
    assert "Someone else changed this report" in body["detail"]
    report.refresh_from_db()
    assert body["version"] == report.version
    assert report.assignee == bob


def test_an_illegal_move_is_409_naming_the_allowed_moves(alice, report):
    response = call(
        "PATCH",
        f"/reports/{report.tracking_id}",
        token_for(alice, *WRITE_AND_MESSAGES),
        {"version": 1, "status": "resolved"},
    )

    assert response.status_code == 409
    assert response.json()["code"] == "transition_refused"
    assert "triaged" in response.json()["allowed"]


def test_a_refused_part_undoes_every_other_part(alice, bob, report, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = call(
            "PATCH",
            f"/reports/{report.tracking_id}",
            token_for(alice, *WRITE_AND_MESSAGES),
            {
                "version": 1,
                "cvss_v3": V3,
                "assignee": bob.email,
                "status": "resolved",
                "reporter_message": "Fixed",
            },
        )

    assert response.status_code == 409
    report.refresh_from_db()
    assert (report.version, report.assignee, report.cvss_v3, report.status) == (1, None, "", Status.NEW)
    assert not report.messages.exists()
    assert callbacks == []
    changed = {
        Event.REPORT_CLASSIFIED,
        Event.REPORT_ASSIGNED,
        Event.REPORT_STATUS_CHANGED,
        Event.MESSAGE_POSTED,
    }
    assert not AuditEvent.objects.filter(event__in=changed).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cvss_v3": "CVSS:3.1/AV:N"}, "cvss_v3"),
        ({"cwe_id": 999999}, "cwe_id"),
        ({"severity": "low"}, "severity_reason"),
        ({"assignee": "nobody@bastion.example"}, "assignee"),
        ({"assignee": "charlie@bastion.example"}, "assignee"),
        ({"asset": "no-such-asset"}, "asset"),
        ({"labels": ["not a slug!"]}, "labels"),
        ({"note": "why"}, "note"),
        ({"status": None}, "status"),
    ],
)
def test_bad_values_are_422_naming_the_field(alice, charlie, report, body, field):
    token = token_for(alice, *WRITE_AND_MESSAGES)

    response = call("PATCH", f"/reports/{report.tracking_id}", token, {"version": 1, **body})

    assert response.status_code == 422, response.json()
    assert field in errors_of(response)
    report.refresh_from_db()
    assert report.version == 1


@pytest.mark.parametrize("field", ["assignee", "asset", "severity_reason", "cvss_v3", "cwe_id", "labels"])
def test_a_nul_character_is_422_naming_the_field_before_any_query(alice, report, field):
    value: Any = ["needs\x00poc"] if field == "labels" else "bob@bastion.example\x00"
    token = token_for(alice, "reports:write")

    response = call("PATCH", f"/reports/{report.tracking_id}", token, {"version": 1, field: value})

    assert response.status_code == 422
    assert response.json()["detail"].startswith(f"{field}: ")
    assert "NUL character" in response.json()["detail"]
    report.refresh_from_db()
    assert report.version == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"version": 1}, {"version": 1, "assigne": "x@example"}, {"version": "one", "status": "triaged"}],
)
def test_a_malformed_patch_is_422_with_a_detail(alice, report, body):
    response = call("PATCH", f"/reports/{report.tracking_id}", token_for(alice, "reports:write"), body)

    assert response.status_code == 422
    assert response.json()["detail"]


# --- Messages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("visibility", ["public", "internal"])
def test_it_posts_a_message_and_answers_201_with_its_id(alice, report, visibility):
    response = call(
        "POST",
        f"/reports/{report.tracking_id}/messages",
        token_for(alice, "messages:write"),
        {"body": "We are on it.", "visibility": visibility},
    )

    assert response.status_code == 201
    message = Message.objects.get(uid=response.json()["id"])
    assert (message.report, message.visibility, message.author) == (report, visibility, alice)


def test_an_empty_message_is_422(alice, report):
    response = call(
        "POST", f"/reports/{report.tracking_id}/messages", token_for(alice, "messages:write"),
        {"body": "  ", "visibility": "public"},
    )  # fmt: skip

    assert response.status_code == 422
    assert "body" in errors_of(response)


# --- Tokens and audit -----------------------------------------------------------------------------


def test_every_request_records_one_use_with_the_endpoint_and_never_the_token(alice, report):
    token = token_for(alice, "reports:read")

    call("GET", "/reports?status=new", token)
    call("GET", f"/reports/{report.tracking_id}", token)

    uses = list(AuditEvent.objects.filter(event=Event.API_TOKEN_USED).order_by("id"))
    assert [(u.data["method"], u.data["endpoint"]) for u in uses] == [
        ("GET", f"{API}/reports"),
        ("GET", f"{API}/reports/{report.tracking_id}"),
    ]
    assert all(u.actor_id == alice.pk and u.data["prefix"] == token[:12] for u in uses)
    assert not AuditEvent.objects.filter(data__icontains=token[12:]).exists()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer nope", "Bearer bst_" + "A" * 43, "Basic YWxpY2U6cGFzcw=="],
)
def test_it_rejects_a_missing_or_bad_token_with_401(alice, report, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = Client().get(f"{API}/reports", headers=headers)

    assert response.status_code == 401
    assert response.json()["detail"]


def test_it_rejects_a_revoked_token(alice):
    created = create_api_token(user=alice, name="t", scopes=ALL_SCOPES, actor=alice)
    revoke_api_token(token=created.token, actor=alice)

    assert call("GET", "/reports", created.plaintext).status_code == 401


def test_a_session_cookie_alone_opens_nothing(client_as, alice):
    assert client_as(alice).get(f"{API}/reports").status_code == 401


# --- The authorization matrix: persona, endpoint, scope ---------------------------------------------

ENDPOINTS = {
    "list": ("GET", "/reports", "reports:read", None),
    "search": ("POST", "/reports/search", "reports:read", {"text": "invoice"}),
    "open": ("GET", "/reports/{tid}", "reports:read", None),
    "patch": ("PATCH", "/reports/{tid}", "reports:write", {"version": 1, "assignee": None, "cwe_id": 79}),
    "message": (
        "POST",
        "/reports/{tid}/messages",
        "messages:write",
        {"body": "Hi", "visibility": "internal"},
    ),
}
OK = {"list": 200, "search": 200, "open": 200, "patch": 200, "message": 201}
LISTS = {"list", "search"}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("persona", ["alice", "dave", "charlie", "deactivated"])
@pytest.mark.parametrize("has_scope", [True, False])
def test_the_authorization_matrix(request, dave, report, persona, endpoint, has_scope):
    method, path, scope, body = ENDPOINTS[endpoint]
    user = request.getfixturevalue("bob" if persona == "deactivated" else persona)
    others = [s for s in ALL_SCOPES if s != scope]
    token = token_for(user, *([scope] if has_scope else others))
    if persona == "deactivated":
        accounts.deactivate_staff(actor=dave, user=user)

    response = call(method, path.format(tid=report.tracking_id), token, body)

    if persona == "deactivated":
        expected = 401  # the token died with the account
    elif not has_scope:
        expected = 403
    elif persona == "charlie":
        # A viewer's token acts as the viewer: nothing to list, no report to open or change.
        expected = 200 if endpoint in LISTS else 404
    else:
        expected = OK[endpoint]
    assert response.status_code == expected, response.content
    if persona == "charlie" and endpoint in LISTS and has_scope:
        assert response.json()["items"] == []
    report.refresh_from_db()
    changed = report.version != 1 or report.messages.exists()
    assert changed == (expected in {200, 201} and endpoint in {"patch", "message"})


# --- The OpenAPI document -------------------------------------------------------------------------


def test_the_staff_endpoints_are_in_the_same_openapi_document_with_every_error_declared(client):
    schema = client.get("/api/v1/openapi.json").json()

    expected = {
        ("/api/v1/staff/reports", "get"): {"200", "400", "401", "403", "422"},
        ("/api/v1/staff/reports/search", "post"): {"200", "400", "401", "403", "422"},
        ("/api/v1/staff/reports/{tracking_id}", "get"): {"200", "401", "403", "404", "410", "422"},
        ("/api/v1/staff/reports/{tracking_id}", "patch"): {"200", "400", "401", "403", "404", "409", "422"},
        ("/api/v1/staff/reports/{tracking_id}/messages", "post"): {"201", "400", "401", "403", "404", "422"},
    }
    for (path, method), codes in expected.items():
        operation = schema["paths"][path][method]
        assert set(operation["responses"]) == codes
        assert operation["security"] == [{"StaffToken": []}]
        for code, spec in operation["responses"].items():
            if code.startswith("4"):
                ref = spec["content"]["application/json"]["schema"]["$ref"]
                assert "detail" in schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert "/api/v1/reports" in schema["paths"]  # the reporter API is still there, in the same document
    listed = schema["paths"]["/api/v1/staff/reports"]["get"]["parameters"]
    assert "text" not in {parameter["name"] for parameter in listed}
    patch = schema["paths"]["/api/v1/staff/reports/{tracking_id}"]["patch"]
    assert "messages:write" in json.dumps(patch) + json.dumps(schema["components"]["schemas"]["ReportPatch"])


# Hostile and malformed requests. There is no schemathesis run in this suite (the project does not
# depend on it); this list stands in for its "every response is declared" check on the staff API.
HOSTILE = [
    ("GET", "/reports?cursor=%00", None),
    ("GET", "/reports?status=%00&limit=-1", None),
    ("GET", "/reports/%00", None),
    ("GET", "/reports?text=secret", None),
    ("GET", "/reports?received_before=9999-12-31&received_after=0001-01-01", None),
    ("POST", "/reports/search", "{"),
    ("POST", "/reports/search", "[]"),
    ("POST", "/reports/search", '{"text": "\\ud800"}'),
    ("POST", "/reports/search", '{"text": "a", "limit": "ten"}'),
    ("POST", "/reports/search", '{"text": "a", "received_after": "0001-01-01"}'),
    ("PATCH", "/reports/{tid}", '{"version": 1, "asset": "a\\u0000", "assignee": "b\\u0000"}'),
    ("PATCH", "/reports/{tid}", "not json"),
    ("PATCH", "/reports/{tid}", "[]"),
    ("PATCH", "/reports/{tid}", '{"version": 99999999999999999999999, "cwe_id": 79}'),
    ("PATCH", "/reports/{tid}", '{"version": 1, "cwe_id": 1e400}'),
    ("PATCH", "/reports/{tid}", '{"version": 1, "status": "triaged", "reporter_message": "\\ud800"}'),
    ("PATCH", "/reports/{tid}", '{"version": 1, "status": "triaged", "note": "a\\u0000b"}'),
    ("PATCH", "/reports/{tid}", '{"version": 1, "asset": "\\ud800", "assignee": "\\ud800"}'),
    ("PATCH", "/reports/{tid}", '{"version": 1, "labels": "needs-poc"}'),
    ("POST", "/reports/{tid}/messages", '{"body": "\\ud800", "visibility": "public"}'),
    ("POST", "/reports/{tid}/messages", '{"body": "hi", "visibility": "secret"}'),
    ("POST", "/reports/{tid}/messages", "{"),
]


@pytest.mark.parametrize(("method", "path", "raw"), HOSTILE)
def test_hostile_requests_get_a_declared_json_error(client, alice, report, method, path, raw):
    schema = client.get("/api/v1/openapi.json").json()
    template = "/api/v1/staff" + path.split("?")[0].replace("{tid}", "{tracking_id}").replace(
        "%00", "{tracking_id}"
    )
    declared = set(schema["paths"][template][method.lower()]["responses"])
    headers = {"Authorization": f"Bearer {token_for(alice)}"}
    kwargs: dict[str, Any] = {"headers": headers}
    if raw is not None:
        kwargs.update(data=raw.encode(), content_type="application/json")

    response = getattr(Client(), method.lower())(API + path.format(tid=report.tracking_id), **kwargs)

    assert str(response.status_code) in declared
    assert response.status_code >= 400
    assert response.json()["detail"]
    report.refresh_from_db()
    assert report.version == 1
