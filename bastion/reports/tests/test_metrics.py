"""Response metrics: known reports moved through the real services under a frozen clock give exact figures.

``march_reports`` is shared with the dashboard and public-page tests. Replies and status changes go
through the services (they set first_response_at, triaged_at and closed_at); the severity, the
bounty decision and the clock outcomes are written as rows, because the metrics only read them and
their own services are tested where they live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from bastion.accounts.models import User
from bastion.reports import metrics
from bastion.reports.models import Asset, Bounty, BountyStatus, Channel, Clock, ClockKind, Program, Report
from bastion.reports.services import change_status, post_message
from bastion.reports.services.duplicates import mark_duplicate
from bastion.reports.workflow import Status

# In the future: the org key is made by sqop, which reads the real clock, and its expiry is set from
# the frozen one; a frozen past would end the key before it begins.
YEAR = 2030
NOW = datetime(YEAR, 3, 20, 12, 0, tzinfo=UTC)


def at(month: int, day: int, hour: int = 0, year: int = YEAR) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@dataclass
class Scenario:
    """The reports by name: a (January), b-f (March), old (February the year before, still open)."""

    reports: dict[str, Report]

    def __getitem__(self, name: str) -> Report:
        return self.reports[name]


def _rate(report: Report, severity: str) -> None:
    Report.objects.filter(pk=report.pk).update(severity=severity)


def _clock(report: Report, kind: str, *, started: datetime, met: datetime | None = None, **ends) -> None:
    Clock.objects.create(
        report=report,
        kind=kind,
        started_at=started,
        target_seconds=24 * 3600,
        due_at=started + timedelta(hours=24),
        met_at=met,
        **ends,
    )


def march_reports(submit, staff: User) -> Scenario:
    """Seven reports with known timings (hours after receipt), as ``staff`` works them.

    ====  ========  ========  ======  ======  =========================  ========  =======
    name  received  channel   reply   triage  closed                     severity  now
    ====  ========  ========  ======  ======  =========================  ========  =======
    old   Y-1-02    web       -       -       -                          -         new
    a     01-10     web       2       10      resolved at 100            high      closed
    b     03-03     web       6       30      resolved at 200            high      closed
    c     03-05     api       4       20      -                          critical  triaged
    d     03-10     web       8       -       duplicate at 9             -         closed
    e     03-12     email     -       -       -                          -         new
    f     03-13     web       -       -       spam at 1                  -         closed
    ====  ========  ========  ======  ======  =========================  ========  =======

    Clocks (first response): a, b, d met; c breached then met; e breached and still open; f
    stopped. Triage: b and c met. Resolution: b breached then met. Bounty: b decided after 48 h,
    c undecided.
    """
    plan = {
        "old": (at(2, 1, year=YEAR - 1), Channel.WEB, None, None, None),
        "a": (at(1, 10), Channel.WEB, 2, 10, (Status.RESOLVED, 100)),
        "b": (at(3, 3), Channel.WEB, 6, 30, (Status.RESOLVED, 200)),
        "c": (at(3, 5), Channel.API, 4, 20, None),
        "d": (at(3, 10), Channel.WEB, 8, None, (Status.DUPLICATE, 9)),
        "e": (at(3, 12), Channel.EMAIL, None, None, None),
        "f": (at(3, 13), Channel.WEB, None, None, (Status.SPAM, 1)),
    }
    reports: dict[str, Report] = {}
    for name, (received, channel, reply, triage, close) in plan.items():
        with time_machine.travel(received, tick=False) as clock:
            report = submit(channel=channel).report
            steps: list[tuple[int, str]] = []
            if reply is not None:
                steps.append((reply, "reply"))
            if triage is not None:
                steps.append((triage, Status.TRIAGED))
            if close is not None:
                steps.append((close[1], close[0]))
            for hours, step in sorted(steps):
                clock.move_to(received + timedelta(hours=hours))
                if step == "reply":
                    post_message(report=report, body="Thanks, looking now.", visibility="public", actor=staff)
                elif step == Status.DUPLICATE:
                    mark_duplicate(report=report, original=reports["a"], actor=staff)
                else:
                    change_status(report=report, to=step, actor=staff)
        reports[name] = report
    _rate(reports["a"], "high")
    _rate(reports["b"], "high")
    _rate(reports["c"], "critical")
    Bounty.objects.create(
        report=reports["b"], status=BountyStatus.INELIGIBLE, decided_at=at(3, 3) + timedelta(hours=48)
    )
    Bounty.objects.create(report=reports["c"])

    # Whatever the clock hooks made is replaced by outcomes known here.
    Clock.objects.all().delete()
    first, triaging, resolution = ClockKind.FIRST_RESPONSE, ClockKind.TRIAGE, ClockKind.RESOLUTION
    _clock(reports["a"], first, started=at(1, 10), met=at(1, 10, 2))
    _clock(reports["b"], first, started=at(3, 3), met=at(3, 3, 6))
    _clock(reports["c"], first, started=at(3, 5), met=at(3, 5, 4), breached_at=at(3, 5, 3))
    _clock(reports["d"], first, started=at(3, 10), met=at(3, 10, 8))
    _clock(reports["e"], first, started=at(3, 12), breached_at=at(3, 13))
    _clock(reports["f"], first, started=at(3, 13), stopped_at=at(3, 13, 1))
    _clock(reports["b"], triaging, started=at(3, 3), met=at(3, 4, 6))
    _clock(reports["c"], triaging, started=at(3, 5), met=at(3, 5, 20))
    _clock(reports["b"], resolution, started=at(3, 4, 6), met=at(3, 11, 8), breached_at=at(3, 10))
    for report in reports.values():
        report.refresh_from_db()
    return Scenario(reports)


@pytest.fixture
def scenario(submit, alice) -> Scenario:
    return march_reports(submit, alice)


@pytest.fixture
def board(scenario) -> metrics.Dashboard:
    return metrics.dashboard(last_month=date(YEAR, 3, 1), now=NOW)


MARCH, JANUARY = 11, 9  # positions in the window April (YEAR - 1) to March YEAR


def test_the_services_set_the_milestones_the_metrics_read(scenario):
    b = scenario["b"]

    assert b.first_response_at == at(3, 3, 6)
    assert b.triaged_at == at(3, 4, 6)
    assert b.closed_at == at(3, 3) + timedelta(hours=200)


def test_the_window_is_twelve_utc_months_ending_with_the_chosen_one(board):
    assert board.window.labels[0] == f"{YEAR - 1}-04"
    assert board.window.labels[-1] == f"{YEAR}-03"
    assert board.window.start == at(4, 1, year=YEAR - 1)
    assert board.window.end == NOW  # March has not ended yet


def test_it_never_reaches_into_the_future():
    window = metrics.month_window(date(YEAR + 1, 1, 1), now=NOW)

    assert window.labels[-1] == f"{YEAR}-03"


def test_it_gives_the_median_and_p90_time_to_first_response_by_month(board):
    march = board.times_by_month["first_response"][MARCH]

    # b 6 h, c 4 h, d 8 h; e is still waiting; f was closed as spam without a reply.
    assert march == metrics.Durations(count=3, pending=1, median_hours=6.0, p90_hours=8.0)
    assert board.times_by_month["first_response"][JANUARY].median_hours == 2.0
    assert board.times_by_month["first_response"][0] == metrics.Durations()


def test_it_gives_time_to_triage_and_to_resolution(board):
    triage = board.times_by_month["triage"][MARCH]
    resolution = board.times_by_month["resolution"][MARCH]

    assert (triage.count, triage.pending, triage.median_hours, triage.p90_hours) == (2, 1, 25.0, 30.0)
    # Only a fix is a resolution: d (duplicate) and f (spam) closed without one.
    assert (resolution.count, resolution.pending, resolution.median_hours) == (1, 2, 200.0)


def test_it_gives_time_to_bounty_decision(board):
    bounty = board.times["bounty_decision"]

    assert (bounty.count, bounty.pending, bounty.median_hours) == (1, 1, 48.0)


def test_it_gives_figures_for_the_whole_window(board):
    first = board.times["first_response"]

    # a 2, c 4, b 6, d 8: the median is between the middle two; p90 is the nearest-rank value.
    assert (first.count, first.median_hours, first.p90_hours) == (4, 5.0, 8.0)


def test_it_gives_times_by_severity(board):
    by_severity = board.times_by_severity["first_response"]

    assert by_severity["high"].median_hours == 4.0  # a 2, b 6
    assert by_severity["critical"].median_hours == 4.0
    assert by_severity["unrated"] == metrics.Durations(count=1, pending=1, median_hours=8.0, p90_hours=8.0)
    assert by_severity["low"] == metrics.Durations()


def test_a_severity_narrows_every_figure(scenario):
    board = metrics.dashboard(last_month=date(YEAR, 3, 1), severity="high", now=NOW)

    assert board.times["first_response"].count == 2
    assert board.by_state["resolved"] == 2
    assert sum(board.by_state.values()) == 2
    assert board.open_now == 0


def test_it_refuses_an_unknown_severity(db):
    with pytest.raises(ValueError, match="Unknown severity"):
        metrics.dashboard(severity="apocalyptic", now=NOW)


def test_it_gives_the_share_of_reports_inside_each_target(board):
    march = board.targets_by_month["first_response"][MARCH]

    # Inside: b, d. Breached: c (even though answered later), e. f's clock stopped: no outcome.
    assert (march.inside, march.breached, march.percent) == (2, 2, 50.0)
    assert board.targets_by_month["first_response"][JANUARY].percent == 100.0
    assert board.targets["first_response"].percent == 60.0
    assert board.targets["triage"] == metrics.TargetShare(inside=2, breached=0)
    assert board.targets["resolution"].percent == 0.0
    assert board.targets["bounty_decision"].percent is None


def test_it_counts_the_open_backlog_at_each_month_end_and_now(board):
    # Only "old" was open through the year before; a came and went in January; c and e are open now.
    assert board.backlog[:JANUARY] == [1] * JANUARY
    assert board.backlog[JANUARY:] == [1, 1, 3]
    assert board.open_now == 3


def test_it_counts_reports_by_month_state_and_channel(board):
    assert board.received_by_month[JANUARY:] == [1, 0, 5]
    assert board.by_state == {
        "new": 1,
        "needs_more_info": 0,
        "triaged": 1,
        "retesting": 0,
        "resolved": 2,
        "informative": 0,
        "duplicate": 1,
        "not_applicable": 0,
        "spam": 1,
    }
    assert board.by_channel == {"web": 4, "api": 1, "email": 1}


def test_a_month_before_the_reports_has_empty_figures(scenario):
    board = metrics.dashboard(last_month=date(YEAR - 2, 6, 1), now=NOW)

    assert board.times["first_response"] == metrics.Durations()
    assert sum(board.received_by_month) == 0
    assert board.backlog == [0] * 12


def test_it_summarises_durations_exactly():
    assert metrics.summarize([]) == metrics.Durations()
    assert metrics.summarize([3.0]) == metrics.Durations(count=1, median_hours=3.0, p90_hours=3.0)
    tens = metrics.summarize(float(n) for n in range(1, 11))
    assert (tens.median_hours, tens.p90_hours) == (5.5, 9.0)


# --- The public summary --------------------------------------------------------------------------


def _publish(flag: bool = True) -> None:
    Program.objects.filter(is_default=True).update(publish_stats=flag)


def test_the_public_summary_is_none_unless_the_default_program_publishes(scenario):
    assert metrics.public_summary(now=NOW) is None


def test_the_public_summary_withholds_figures_drawn_from_too_few_reports(scenario):
    _publish()

    summary = metrics.public_summary(now=NOW)

    assert summary is not None
    # Within 90 days: a-e (f is spam, old is too old). Five received, two resolved (a, b).
    assert summary.received == 5
    assert summary.resolved is None
    assert summary.median_hours == {"first_response": None, "triage": None, "resolution": None}
    assert summary.inside_target == {"first_response": 60.0, "triage": None, "resolution": None}


def test_the_public_summary_gives_the_medians_once_there_are_enough(submit, alice, scenario):
    _publish()
    for hours in (1, 3):
        with time_machine.travel(at(3, 15), tick=False) as clock:
            report = submit().report
            clock.shift(timedelta(hours=hours))
            post_message(report=report, body="Thanks.", visibility="public", actor=alice)

    summary = metrics.public_summary(now=NOW)

    assert summary is not None
    assert summary.received == 7
    # a 2, c 4, b 6, d 8, and 1 and 3: six answered.
    assert summary.median_hours["first_response"] == 3.5


def test_the_public_summary_leaves_out_programs_that_do_not_publish(scenario):
    _publish()
    private = Program.objects.create(slug="private", name="Private bounty", publish_stats=False)
    hidden = Asset.objects.create(name="private.example.com", program=private)
    Report.objects.filter(pk=scenario["e"].pk).update(asset=hidden)

    summary = metrics.public_summary(now=NOW)

    assert summary is not None
    assert summary.received is None  # four left: fewer than five
