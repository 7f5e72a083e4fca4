"""The inbox's filters (``filter_reports``): each filter, bad filters, keyset pages, content search."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Asset, Channel, Label, Program, Report, Reporter
from bastion.triage import filters, keyset
from bastion.triage.filters import CONTENT_SEARCH_MAX, filter_reports
from bastion.vault.services import create_data_key

NOW = timezone.now().replace(microsecond=0)


def quick_reports(count: int, *, labels: tuple[str, ...] = (), **fields: Any) -> list[Report]:
    """``count`` reports holding clear metadata only (nothing sealed in them opens): quick to make.

    Received one second apart, newest last, unless ``received_at`` is given (then all share it).
    """
    key, _ = create_data_key(subject=f"test:{uuid.uuid4()}")
    reporters = Reporter.objects.bulk_create([Reporter(uid=uuid.uuid4()) for _ in range(count)])
    fields.setdefault("channel", Channel.WEB)
    rows = []
    for n, reporter in enumerate(reporters):
        values = {"received_at": NOW - timedelta(seconds=count - n), **fields}
        rows.append(
            Report(
                uid=uuid.uuid4(),
                data_key=key,
                reporter=reporter,
                title=b"-",
                content=b"-",
                policy_version=1,
                submission_sha256="0" * 64,
                **values,
            )
        )
    made = Report.objects.bulk_create(rows)
    for name in labels:
        label = Label.objects.get_or_create(name=name)[0]
        label.reports.add(*made)
    return made


def found(user, data: dict[str, Any], **kwargs: Any) -> list[Report]:
    """Every report the filters list, in order, walking the pages."""
    result = filter_reports(user, data, **kwargs)
    assert result.errors == {}, result.errors
    return list(result.rows or [])


def ids(reports) -> set[str]:
    return {report.tracking_id for report in reports}


@pytest.fixture
def asset(db) -> Asset:
    return Asset.objects.create(name="api.example.com", program=Program.objects.default())


# --- Each filter ----------------------------------------------------------------------------------


def test_it_filters_by_one_status_or_by_open_and_closed(alice):
    new, triaged, spam = (
        quick_reports(1, status="new"),
        quick_reports(1, status="triaged"),
        quick_reports(1, status="spam"),
    )

    assert ids(found(alice, {"status": "triaged"})) == ids(triaged)
    assert ids(found(alice, {"status": "open"})) == ids(new + triaged)
    assert ids(found(alice, {"status": "closed"})) == ids(spam)
    assert ids(found(alice, {"status": "any"})) == ids(new + triaged + spam)
    assert ids(found(alice, {"status": ["new", "spam"]})) == ids(new + spam)
    assert ids(found(alice, {"status": "new,spam"})) == ids(new + spam)


def test_it_filters_by_severity_including_unrated(alice):
    high, unrated = quick_reports(1, severity="high"), quick_reports(1, severity="")
    low = quick_reports(1, severity="low")

    assert ids(found(alice, {"severity": "high"})) == ids(high)
    assert ids(found(alice, {"severity": "unrated"})) == ids(unrated)
    assert ids(found(alice, {"severity": ["unrated", "low"]})) == ids(unrated + low)


def test_it_filters_by_assignee_me_unassigned_or_a_person(alice, bob):
    mine, bobs, nobodys = quick_reports(1, assignee=alice), quick_reports(1, assignee=bob), quick_reports(1)

    assert ids(found(alice, {"assignee": "me"})) == ids(mine)
    assert ids(found(alice, {"assignee": "unassigned"})) == ids(nobodys)
    assert ids(found(alice, {"assignee": str(bob.pk)})) == ids(bobs)
    assert ids(found(alice, {"assignee": bob.email.upper()})) == ids(bobs)
    assert ids(found(alice, {"assignee": ["me", "unassigned"]})) == ids(mine + nobodys)


def test_it_filters_by_asset_by_id_name_or_none(alice, asset):
    filed, unfiled = quick_reports(2, asset=asset), quick_reports(1)

    assert ids(found(alice, {"asset": str(asset.pk)})) == ids(filed)
    assert ids(found(alice, {"asset": "API.example.com"})) == ids(filed)
    assert ids(found(alice, {"asset": "none"})) == ids(unfiled)


def test_it_filters_by_channel(alice):
    mailed, posted = quick_reports(1, channel=Channel.EMAIL), quick_reports(1, channel=Channel.API)

    assert ids(found(alice, {"channel": "email"})) == ids(mailed)
    assert ids(found(alice, {"channel": ["email", "api"]})) == ids(mailed + posted)


@pytest.mark.parametrize(
    "rare", [1_000, 0], ids=["from-the-labelled-reports", "by-exists-on-the-newest-walk"]
)
def test_it_filters_by_label(alice, monkeypatch, rare):
    monkeypatch.setattr(filters, "RARE_LABEL", rare)
    poc, payments, plain = (
        quick_reports(1, labels=("needs-poc",)),
        quick_reports(1, labels=("payments",)),
        quick_reports(1),
    )

    assert ids(found(alice, {"label": "needs-poc"})) == ids(poc)
    assert ids(found(alice, {"label": ["needs-poc", "payments"]})) == ids(poc + payments)
    assert ids(plain).isdisjoint(ids(found(alice, {"label": "payments"})))


def test_a_label_nobody_carries_lists_nothing(alice):
    quick_reports(2)
    Label.objects.create(name="unused")

    assert found(alice, {"label": "unused"}) == []


def test_it_filters_by_clock_state_and_sorts_by_the_next_due_time(alice):
    later = quick_reports(1, next_due_at=NOW + timedelta(hours=20))
    soon = quick_reports(1, next_due_at=NOW + timedelta(hours=2))
    far = quick_reports(1, next_due_at=NOW + timedelta(days=5))
    overdue = quick_reports(1, next_due_at=NOW - timedelta(hours=1), breached_at=NOW - timedelta(hours=1))
    # A missed target on a report whose clocks have all stopped (closed): still "breached".
    missed_closed = quick_reports(1, status="resolved", breached_at=NOW - timedelta(days=3))

    due_soon = found(alice, {"clock": "due_soon"}, now=NOW)
    assert [r.tracking_id for r in due_soon] == [soon[0].tracking_id, later[0].tracking_id]
    assert ids(found(alice, {"clock": "due_soon", "due_hours": "4"}, now=NOW)) == ids(soon)
    assert ids(found(alice, {"clock": "overdue"}, now=NOW)) == ids(overdue)
    assert ids(found(alice, {"clock": "breached"}, now=NOW)) == ids(overdue + missed_closed)
    assert ids(far).isdisjoint(ids(found(alice, {"clock": ["due_soon", "overdue"]}, now=NOW)))


def test_it_filters_by_the_day_received_in_the_viewers_time_zone(alice):
    alice.time_zone = "Asia/Tokyo"
    # 2026-03-01 23:30 in Tokyo is 14:30 UTC the same day; 2026-03-02 00:30 Tokyo is 15:30 UTC on 1 March.
    first = quick_reports(1, received_at=datetime.fromisoformat("2026-03-01T14:30:00+00:00"))
    second = quick_reports(1, received_at=datetime.fromisoformat("2026-03-01T15:30:00+00:00"))

    assert ids(found(alice, {"received_after": "2026-03-02"})) == ids(second)
    assert ids(found(alice, {"received_before": "2026-03-01"})) == ids(first)


@pytest.mark.parametrize(
    ("zone", "data", "field"),
    [
        ("UTC", {"received_before": "9999-12-31"}, "received_before"),  # its next day overflows
        ("Asia/Tokyo", {"received_after": "0001-01-01"}, "received_after"),  # begins in year 0 (UTC)
        ("UTC", {"received_after": "0001-01-01"}, "received_after"),
        ("UTC", {"received_after": "1969-12-31"}, "received_after"),
        ("Pacific/Kiritimati", {"received_before": "9999-12-31"}, "received_before"),
    ],
)
def test_a_day_out_of_range_is_a_clear_error_on_its_field_not_a_crash(alice, zone, data, field):
    alice.time_zone = zone

    result = filter_reports(alice, data)

    assert result.rows is None
    assert result.errors == {field: ["Choose a day from 1970-01-01 to 9999-12-30."]}


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "Etc/GMT+12", "Pacific/Kiritimati"])
def test_the_widest_days_still_filter(alice, zone):
    alice.time_zone = zone
    made = quick_reports(1)

    everything = {"received_after": "1970-01-01", "received_before": "9999-12-30"}

    assert ids(found(alice, everything)) == ids(made)
    assert found(alice, {"received_after": "9999-12-31"}) == []


def test_several_filters_combine(alice, bob):
    quick_reports(2, status="new", assignee=bob)
    wanted = quick_reports(1, status="new", assignee=alice, severity="high")
    quick_reports(1, status="triaged", assignee=alice, severity="high")

    assert (
        ids(
            found(
                alice, {"status": "open,closed", "assignee": "me", "severity": "high,low", "channel": "web"}
            )
        )
        != set()
    )
    assert ids(found(alice, {"status": "new", "assignee": "me", "severity": "high"})) == ids(wanted)


# --- Metadata search (q) --------------------------------------------------------------------------


def test_an_exact_tracking_id_jumps_to_the_report_whatever_the_other_filters(alice):
    report = quick_reports(1, status="new")[0]
    typed = report.tracking_id.lower().replace("-", " ")

    result = filter_reports(alice, {"q": typed, "status": "closed"})

    assert result.jump_to == report


def test_it_searches_tracking_id_prefixes_cwe_cvss_labels_and_assets(alice, asset):
    xss = quick_reports(1, cwe_id=79, cvss_v3="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N")
    sqli = quick_reports(1, cwe_id=89, cvss_v3="CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    labelled = quick_reports(1, labels=("payments",))
    filed = quick_reports(1, asset=asset)
    prefix = xss[0].tracking_id[:7]

    assert xss[0].tracking_id in ids(found(alice, {"q": prefix}))
    assert ids(found(alice, {"q": "CWE-79"})) == ids(xss)
    assert ids(found(alice, {"q": "89"})) == ids(sqli)
    assert ids(found(alice, {"q": "AV:L"})) == ids(sqli)
    assert ids(found(alice, {"q": "pay"})) == ids(labelled)
    assert ids(found(alice, {"q": "api.example"})) == ids(filed)


def test_a_cvss_part_is_real_metrics_and_values_of_either_version(alice):
    v3 = quick_reports(1, cvss_v3="CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/MAV:N")
    v4 = quick_reports(1, cvss_v4="CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/U:Clear")

    assert ids(found(alice, {"q": "av:l/ac:l"})) == ids(v3)
    assert ids(found(alice, {"q": "AV:N"})) == ids(v4)  # not the 3.1 vector's MAV:N
    assert ids(found(alice, {"q": "MAV:N"})) == ids(v3)
    assert ids(found(alice, {"q": "VC:H/VI:H"})) == ids(v4)
    assert ids(found(alice, {"q": "u:clear"})) == ids(v4)
    assert ids(found(alice, {"q": "CVSS:3.1/AV:L"})) == ids(v3)
    assert ids(found(alice, {"q": "cvss:4.0"})) == ids(v4)


@pytest.mark.parametrize("typed", ["admin:hunter2", "AV:Q", "ZZ:N", "cvss:swordfish", "AV:N/root:x"])
def test_text_that_is_no_cvss_part_is_not_searched_as_one(alice, typed):
    quick_reports(1, cvss_v3="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")

    result = filter_reports(alice, {"q": typed})

    assert result.errors["q"][0].startswith(f"“{typed}” is not a tracking ID")


def test_a_tracking_id_prefix_is_found_whatever_the_databases_collation(alice):
    if connection.vendor == "postgresql":
        # A non-C collation, as a database made with a language's locale has: under it the old
        # range (prefix .. prefix + DEL) held nothing, ICU ignoring DEL. DDL is transactional in
        # PostgreSQL: the test's rollback restores the column. Before any row: no pending triggers.
        with connection.cursor() as cursor:
            cursor.execute(
                'ALTER TABLE reports_report ALTER COLUMN tracking_id TYPE varchar(16) COLLATE "und-x-icu"'
            )
    made = quick_reports(3)
    wanted = made[1]
    others = [report for report in made if report.tracking_id[:6] != wanted.tracking_id[:6]]

    listed = ids(found(alice, {"q": wanted.tracking_id[:6]}))

    assert wanted.tracking_id in listed
    assert ids(others).isdisjoint(listed)
    assert ids(found(alice, {"q": wanted.tracking_id[:13].lower()})) == {wanted.tracking_id}


def test_a_tracking_id_nobody_has_finds_nothing(alice):
    quick_reports(2)

    assert found(alice, {"q": "BST-0000000000"}) == []


def test_the_search_box_never_opens_a_report(alice, submit):
    submit(title="Needle in the title")

    result = filter_reports(alice, {"q": "Needle"})

    assert result.errors["q"][0].startswith("“Needle” is not a tracking ID")
    assert not AuditEvent.objects.filter(event=Event.REPORTS_SEARCHED).exists()


# --- Bad filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"status": "nonsense"}, "status", "Unknown status “nonsense”: use one of any, open, closed, new"),
        ({"severity": "huge"}, "severity", "Unknown severity “huge”"),
        ({"assignee": "nobody@example.org"}, "assignee", "Unknown assignee “nobody@example.org”"),
        ({"asset": "no-such-host"}, "asset", "Unknown asset “no-such-host”"),
        ({"label": "no-such-label"}, "label", "Unknown label “no-such-label”"),
        ({"channel": "fax"}, "channel", "Unknown channel “fax”"),
        ({"clock": "late"}, "clock", "Unknown clock state “late”"),
        ({"received_after": "31/01/2026"}, "received_after", "Enter a date as YYYY-MM-DD"),
        ({"received_after": "2026-02-01", "received_before": "2026-01-01"}, "received_before", "earlier"),
        ({"due_hours": "0"}, "due_hours", "greater than or equal to 1"),
        ({"after": "not-a-cursor"}, "after", "This page link is broken"),
        ({"sort": "title"}, "sort", "Unknown filter “sort”"),
    ],
)  # fmt: skip
def test_a_bad_filter_gets_a_clear_error_on_its_own_field(alice, data, field, says):
    result = filter_reports(alice, data)

    assert result.rows is None
    assert says in " ".join(result.errors[field])


def test_a_person_who_cannot_hold_reports_is_an_unknown_assignee(alice, charlie):
    result = filter_reports(alice, {"assignee": str(charlie.pk)})

    assert "assignee" in result.errors


def test_errors_can_be_raised_for_an_api(alice):
    result = filter_reports(alice, {"status": "nonsense"})

    with pytest.raises(ValidationError) as raised:
        result.raise_for_errors()
    assert "status" in raised.value.message_dict


# --- Keyset pages ---------------------------------------------------------------------------------


def walk(user, data: dict[str, Any], size: int, **kwargs: Any) -> tuple[list[str], list[str]]:
    """Every tracking ID page by page forward, then page by page back from the last page."""
    forward, pages = [], []
    position: dict[str, str] = {}
    while True:
        page = filter_reports(user, {**data, **position}, **kwargs).page(size=size)
        pages.append([r.tracking_id for r in page])
        forward += pages[-1]
        if not page.older:
            break
        position = {"after": page.older}
    backward: list[str] = []
    newer = filter_reports(user, {**data, **position}, **kwargs).page(size=size).newer
    while newer:
        page = filter_reports(user, {**data, "before": newer}, **kwargs).page(size=size)
        backward = [r.tracking_id for r in page] + backward
        newer = page.newer
    return forward, backward + pages[-1]


def test_pages_neither_repeat_nor_skip_reports_received_in_the_same_instant(alice):
    same = NOW - timedelta(hours=1)
    tied = quick_reports(7, received_at=same)
    others = quick_reports(4)

    forward, backward = walk(alice, {}, size=3)

    assert len(forward) == len(set(forward)) == 11
    assert set(forward) == ids(tied + others)
    # Newest first, ties newest id first: the order a single query gives.
    assert forward == [r.tracking_id for r in Report.objects.order_by("-received_at", "-id")]
    assert backward == forward


def test_pages_of_a_several_valued_filter_merge_each_values_walk(alice):
    same = NOW - timedelta(hours=1)
    quick_reports(4, status="new", received_at=same)
    quick_reports(3, status="triaged", received_at=same)
    quick_reports(3, status="needs_more_info")
    quick_reports(5, status="spam")

    forward, backward = walk(alice, {"status": "open"}, size=4)

    expected = Report.objects.exclude(status="spam").order_by("-received_at", "-id")
    assert forward == [r.tracking_id for r in expected]
    assert backward == forward


def test_pages_sorted_by_due_time_go_on_into_breached_reports_with_no_clock_running(alice):
    for hours in (5, 3, 3, 1, 8):
        quick_reports(1, next_due_at=NOW - timedelta(hours=hours), breached_at=NOW)
    quick_reports(3, status="resolved", breached_at=NOW - timedelta(days=2))
    quick_reports(2)  # never breached

    forward, backward = walk(alice, {"clock": "breached"}, size=3, now=NOW)
    # The tail (no clock running) walks each status on its own and merges.
    split, split_back = walk(alice, {"clock": "breached", "status": "new,resolved,spam"}, size=2, now=NOW)

    assert len(forward) == len(set(forward)) == 8
    assert backward == forward
    assert split == split_back == forward


def test_a_cursor_from_another_sort_order_is_refused(alice):
    quick_reports(3)
    older = filter_reports(alice, {}).page(size=1).older
    assert older is not None

    result = filter_reports(alice, {"clock": "overdue", "after": older})

    assert "another sort order" in result.errors["after"][0]


def test_a_position_survives_its_round_trip():
    position = keyset.Position("n", NOW.replace(microsecond=123456), 42)

    assert keyset.Position.decode(position.encode()) == position


# --- Content search -------------------------------------------------------------------------------


def test_content_search_refuses_a_set_too_wide_to_open(alice, settings):
    quick_reports(CONTENT_SEARCH_MAX + 1, status="new")

    result = filter_reports(alice, {"status": "new", "text": "anything"})

    assert result.rows is None
    assert "at most 500" in result.errors["text"][0]
    assert not AuditEvent.objects.filter(event=Event.REPORTS_SEARCHED).exists()


def test_content_search_opens_the_narrowed_set_and_records_one_read_without_the_words(alice, submit):
    wanted = submit(
        title="Invoice export leaks", description="The nightly **billing export** is public."
    ).report
    submit(title="Login throttling missing", description="No rate limit on sign-in.")

    # Every word must appear (in any field, any case): both reports are about Billing's /export.
    result = filter_reports(alice, {"status": "new", "text": "NIGHTLY export"})

    assert [r.tracking_id for r in result.rows or []] == [wanted.tracking_id]
    assert result.opened == 2
    event = AuditEvent.objects.get(event=Event.REPORTS_SEARCHED)
    assert event.data["opened"] == 2
    assert event.data["matched"] == 1
    assert event.data["filters"] == {"status": ["new"]}
    assert "nightly" not in str(event.data).lower()


@pytest.mark.parametrize(
    ("q", "kind"),
    [
        ("AV:N", "cvss"),
        ("CWE-79", "cwe"),
        ("pay", "label"),
        ("api.example", "asset"),
        ("{prefix}", "tracking_id_prefix"),
        ("{tracking_id}", "tracking_id"),  # searching inside, an exact ID narrows rather than jumps
    ],
)
def test_content_search_records_what_kind_of_metadata_q_was_never_its_text(alice, asset, submit, q, kind):
    report = submit().report
    Report.objects.filter(pk=report.pk).update(cwe_id=79, cvss_v3="CVSS:3.1/AV:N/AC:L", asset=asset)
    report.labels.add(Label.objects.create(name="payments"))
    typed = q.format(prefix=report.tracking_id[:7], tracking_id=report.tracking_id)

    result = filter_reports(alice, {"q": typed, "text": "anything"})

    assert result.errors == {}
    event = AuditEvent.objects.get(event=Event.REPORTS_SEARCHED)
    assert (event.data["opened"], event.data["filters"]) == (1, {"q": kind})
    assert typed.lower() not in str(event.data).lower()


def test_content_search_with_a_secret_in_q_leaves_no_trace_of_it(alice, submit):
    Label.objects.create(name="admin:hunter2")
    report = submit().report
    report.labels.add(Label.objects.get())

    result = filter_reports(alice, {"q": "admin:hunter2", "text": "invoice"})

    assert ids(result.rows or []) == {report.tracking_id}
    event = AuditEvent.objects.get(event=Event.REPORTS_SEARCHED)
    assert event.data["filters"] == {"q": "label"}
    assert "hunter2" not in str(event.data)


def test_viewers_filter_nothing_and_open_nothing(charlie, submit):
    submit()

    result = filter_reports(charlie, {"text": "invoice"})

    assert list(result.rows or []) == []
    assert not AuditEvent.objects.filter(event=Event.REPORTS_SEARCHED).exists()


def test_a_page_loads_in_a_few_queries_whatever_its_size(alice, bob):
    quick_reports(30, assignee=bob, cwe_id=79, labels=("sso",))
    result = filter_reports(alice, {})

    with CaptureQueriesContext(connection) as queries:
        page = result.page(size=30)
        shown = [
            (
                r.cwe_id,
                r.cvss_score,
                getattr(r.assignee, "email", ""),
                r.asset,
                [x.name for x in r.labels.all()],
            )
            for r in page
        ]

    assert len(shown) == 30
    assert len(queries.captured_queries) == 3  # the walk, the page's rows, their labels
