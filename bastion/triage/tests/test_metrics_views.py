"""The metrics dashboard: charts with the known numbers, a CSV per chart, and who may see them."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import time_machine
from django.urls import reverse

from bastion.reports import metrics
from bastion.reports.tests.test_metrics import NOW, YEAR, march_reports
from bastion.triage.charts import Chart, Series, render_svg, safe_cell
from bastion.triage.views.metrics import build_charts

MONTH = f"{YEAR}-03"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def scenario(submit, alice):
    return march_reports(submit, alice)


def _url(name: str = "triage:metrics", *args: str, **params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in {"month": MONTH, **params}.items())
    return f"{reverse(name, args=args)}?{query}"


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_it_shows_the_figures_as_charts_with_their_tables(scenario, frozen, alice, client_as):
    page = client_as(alice).get(_url())

    assert page.status_code == 200
    body = page.content.decode()
    assert 'role="img"' in body
    assert (
        '<title id="chart-time-to-first-response-by-month-title">Time to first response, by month</title>'
        in body
    )
    assert 'aria-labelledby="chart-open-backlog-title chart-open-backlog-desc"' in body
    # March: first response median 6 h, p90 8 h, 3 answered, 1 waiting (see march_reports).
    assert "median 6.0 h, 90th percentile 8.0 h (3 reports, 1 still waiting)" in body
    assert f'<th scope="row">{MONTH}</th><td>6.0</td><td>8.0</td><td>3</td><td>1</td>' in body
    assert "50.0 % (2 of 4)" in body  # inside the first-response target
    assert "<dt>Open now</dt><dd>3</dd>" in body
    assert page.headers["Cache-Control"].startswith("max-age=0")


def test_every_chart_has_a_csv_link_and_a_data_table(scenario, frozen, alice, client_as):
    page = client_as(alice).get(_url())

    body = page.content.decode()
    charts = page.context["charts"]
    assert len(charts) == 13
    for item in charts:
        assert f'href="/triage/metrics/{item["chart"].slug}.csv?month={MONTH}"' in body
    assert body.count("<summary>Data table</summary>") == len(charts)


def test_a_severity_narrows_the_dashboard(scenario, frozen, alice, client_as):
    page = client_as(alice).get(_url(severity="critical"))

    assert page.status_code == 200
    assert page.context["board"].times["first_response"].count == 1
    assert "Critical only" in page.content.decode()
    assert "severity=critical" in page.context["charts"][0]["csv_url"]


def test_it_exports_each_chart_as_a_csv_attachment(scenario, frozen, alice, client_as):
    client = client_as(alice)
    board = metrics.dashboard(last_month=NOW.date(), now=NOW)

    for chart in build_charts(board):
        response = client.get(_url("triage:metrics_csv", chart.slug))
        assert response.status_code == 200, chart.slug
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        disposition = response.headers["Content-Disposition"]
        assert disposition == f'attachment; filename="bastion-{chart.slug}-{MONTH}.csv"'
        assert _csv(response)[0][0] == chart.category_label


def test_the_csv_holds_the_chart_s_numbers(scenario, frozen, alice, client_as):
    response = client_as(alice).get(_url("triage:metrics_csv", "time-to-first-response-by-month"))

    rows = _csv(response)
    assert rows[0] == ["Month", "Median (hours)", "90th percentile (hours)", "Reports", "Still waiting"]
    assert rows[-1] == [MONTH, "6.0", "8.0", "3", "1"]
    assert rows[1] == [f"{YEAR - 1}-04", "", "", "0", "0"]  # no figure is an empty cell, not a zero


def test_the_state_csv_counts_every_state(scenario, frozen, alice, client_as):
    response = client_as(alice).get(_url("triage:metrics_csv", "reports-by-state", severity="high"))

    rows = dict(_csv(response)[1:])
    assert rows["Resolved"] == "2"
    assert rows["Spam"] == "0"
    assert "-high.csv" in response.headers["Content-Disposition"]


def test_an_unknown_chart_is_not_found(db, frozen, alice, client_as):
    assert client_as(alice).get(_url("triage:metrics_csv", "passwords")).status_code == 404


def test_it_says_what_is_wrong_with_a_bad_month(db, frozen, alice, client_as):
    client = client_as(alice)

    for month, message in [
        ("2025-13", "is not a month"),
        ("March", "is not a month"),
        (f"{YEAR + 1}-01", "has not begun yet"),
        ("1999-12", "from 2000 on"),
        ("0000-01", "from 2000 on"),  # year 0 is no date at all
        ("\u0662\u0660\u0662\u0665-\u0660\u0661", "is not a month"),  # Arabic-Indic digits
    ]:
        page = client.get(reverse("triage:metrics"), {"month": month})
        assert page.status_code == 400
        assert message in page.content.decode()
        export = client.get(reverse("triage:metrics_csv", args=["open-backlog"]), {"month": month})
        assert export.status_code == 400
        assert message in export.content.decode()


def test_an_unknown_severity_is_refused(db, frozen, alice, client_as):
    page = client_as(alice).get(reverse("triage:metrics"), {"severity": "apocalyptic"})

    assert page.status_code == 400
    assert "Select a valid choice" in page.content.decode()


def test_it_shows_this_month_by_default(db, frozen, dave, client_as):
    page = client_as(dave).get(reverse("triage:metrics"))

    assert page.status_code == 200
    assert page.context["board"].window.labels[-1] == MONTH
    assert "No figures yet" in page.content.decode()


@pytest.mark.parametrize("name", ["triage:metrics", "triage:metrics_csv"])
def test_it_rejects_viewers(db, charlie, client_as, name):
    args = ["open-backlog"] if name.endswith("csv") else []

    assert client_as(charlie).get(reverse(name, args=args)).status_code == 403


@pytest.mark.parametrize("name", ["triage:metrics", "triage:metrics_csv"])
def test_it_rejects_anonymous_visitors(db, client, name):
    args = ["open-backlog"] if name.endswith("csv") else []

    response = client.get(reverse(name, args=args))

    assert response.status_code == 302
    assert response.headers["Location"].startswith(reverse("account_login"))


def test_the_staff_navigation_links_to_the_dashboard_for_triagers_only(db, alice, charlie, client_as):
    link = f'href="{reverse("triage:metrics")}"'

    assert link in client_as(alice).get(reverse("home")).content.decode()
    assert link not in client_as(charlie).get(reverse("home")).content.decode()


# --- The charts themselves -----------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script> & "quotes"'


def _chart(kind: str = "line", **overrides: Any) -> Chart:
    values: dict[str, Any] = {
        "slug": "sample",
        "title": f"Title {HOSTILE}",
        "description": f"Description {HOSTILE}",
        "kind": kind,
        "category_label": "Month",
        "categories": ["2025-01", HOSTILE, "=cmd|' /C calc'!A0"],
        "series": [Series(f"Series {HOSTILE}", [1.0, None, 3.5]), Series("Other", [2.0, 2.5, None])],
        "unit": "hours",
    }
    values.update(overrides)
    return Chart(**values)


@pytest.mark.parametrize("kind", ["line", "bar"])
def test_the_svg_escapes_every_label(kind):
    svg = str(render_svg(_chart(kind)))

    assert "<script>" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in svg
    assert svg.startswith('<svg class="chart chart-')
    assert svg.endswith("</svg>")
    assert '<title id="chart-sample-title">Title &lt;script&gt;' in svg
    assert '<desc id="chart-sample-desc">Description &lt;script&gt;' in svg


def test_a_line_breaks_where_a_figure_is_missing():
    svg = str(render_svg(_chart("line")))

    # The first series has figures in months 1 and 3 only: two one-point segments, not one line.
    assert svg.count('class="line series-0"') == 2
    assert svg.count("<circle") == 4


def test_a_chart_without_figures_says_so():
    empty = _chart(series=[Series("Median", [None, None, None])])

    assert "No figures yet" in render_svg(empty)
    assert empty.table()[1][0] == ["2025-01", "—"]


def test_csv_cells_cannot_start_a_formula():
    rows = _chart().csv_rows()

    assert rows[3][0] == "'=cmd|' /C calc'!A0"
    for text in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "\uff1d1"]:
        assert safe_cell(text) == f"'{text}"
    assert safe_cell("2025-03") == "2025-03"


def test_a_chart_refuses_a_slug_unfit_for_a_url():
    with pytest.raises(ValueError, match="lowercase words"):
        _chart(slug="../etc")


def test_a_chart_refuses_series_that_do_not_match_its_categories():
    with pytest.raises(ValueError, match="has 1 values for 3 categories"):
        _chart(series=[Series("Short", [1.0])])
