"""The opt-in public figures at /security/stats: off by default, aggregates only, small counts withheld."""

from __future__ import annotations

import pytest
import time_machine
from django.core.cache import cache

from bastion.reports.models import Program
from bastion.reports.services import post_message
from bastion.reports.tests.conftest import private_vault, submit  # noqa: F401  (fixtures)
from bastion.reports.tests.test_metrics import NOW, march_reports

WITHHELD = "Not shown: fewer than 5 reports"


def _publish(flag: bool = True) -> None:
    Program.objects.filter(is_default=True).update(publish_stats=flag)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def scenario(submit, alice):  # noqa: F811  (the imported fixture)
    return march_reports(submit, alice)


def test_it_is_not_found_unless_the_program_publishes(db, client):
    assert client.get("/security/stats").status_code == 404


def test_it_shows_rolling_figures_once_published(scenario, frozen, client):
    _publish()

    page = client.get("/security/stats")

    assert page.status_code == 200
    body = page.content.decode()
    assert "<dt>Reports received</dt>\n      <dd><strong>5</strong></dd>" in body
    # First response: a, b, d inside; c, e breached (see march_reports).
    assert "<dt>Inside our first response target</dt>\n      <dd><strong>60.0 %</strong></dd>" in body
    assert "from 20 December 2029 to 20 March 2030" in body
    assert "public" in page.headers["Cache-Control"]


def test_a_staff_members_copy_is_never_stored_by_a_shared_cache(db, client_as, alice):
    _publish()

    page = client_as(alice).get("/security/stats")

    assert page.status_code == 200
    assert "public" not in page.headers["Cache-Control"]
    assert "no-store" in page.headers["Cache-Control"]


def test_it_withholds_every_figure_drawn_from_fewer_than_five_reports(scenario, frozen, client):
    _publish()

    figures = {f.label: f for f in client.get("/security/stats").context["figures"]}

    # Four answered, three triaged, two resolved: each too few to show.
    for label in [
        "Of those, resolved so far",
        "Median time to first response",
        "Median time to triage",
        "Median time to resolution",
        "Inside our triage target",
    ]:
        assert figures[label].withheld, label
        assert figures[label].text == WITHHELD
    assert not figures["Reports received"].withheld


def test_a_quiet_program_shows_nothing_but_that_it_is_quiet(submit, frozen, client):  # noqa: F811  (the imported fixture)
    _publish()
    submit()

    body = client.get("/security/stats").content.decode()

    assert body.count(WITHHELD) == 8
    assert "<strong>" not in body.split("figures-title")[1].split("</section>")[0]


def test_it_names_no_report(scenario, frozen, client):
    _publish()

    body = client.get("/security/stats").content.decode()

    for report in scenario.reports.values():
        assert report.tracking_id not in body
    assert "BST-" not in body


def test_it_gives_the_median_once_enough_reports_are_answered(submit, alice, scenario, client):  # noqa: F811  (the imported fixture)
    _publish()
    with time_machine.travel(NOW.replace(day=15), tick=False) as clock:
        for _ in range(2):
            report = submit().report
            post_message(report=report, body="Thanks.", visibility="public", actor=alice)
        clock.move_to(NOW)
        figures = {f.label: f.text for f in client.get("/security/stats").context["figures"]}

    # a 2, c 4, b 6, d 8, and two answered at once (0): six answered, median 3.
    assert figures["Median time to first response"] == "3.0 hours"


def test_turning_publishing_off_takes_the_page_down_at_once(scenario, frozen, client):
    _publish()
    assert client.get("/security/stats").status_code == 200
    assert cache.get("intake:public-stats") is not None

    _publish(False)

    assert client.get("/security/stats").status_code == 404


def test_the_policy_links_to_the_figures_only_when_published(db, client):
    link = 'href="/security/stats"'

    assert link not in client.get("/security").content.decode()
    _publish()
    assert link in client.get("/security").content.decode()
