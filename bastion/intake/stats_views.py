"""The opt-in public response figures at ``/security/stats``: rolling 90 days, aggregates only.

The page exists only while the default program's ``publish_stats`` is on (a 404 otherwise, so an
unpublished page does not even say it could exist). It shows medians, shares and two counts,
never anything per report: no tracking IDs, no dates of single reports, and any figure drawn from
fewer than ``metrics.PUBLIC_MIN_COUNT`` reports is withheld (see ``metrics.public_summary``).

Anyone may load it, so the figures are cached for a few minutes: a crawler or a flood cannot make
the database count the same 90 days over and over. The switch itself is read on every request,
so turning publishing off takes the page down at once (shared caches may keep it as long as
``max-age``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from bastion.reports import metrics
from bastion.reports.models import ClockKind, Program

CACHE_KEY = "intake:public-stats"
CACHE_SECONDS = 300
_HOURS_PER_DAY = 24
# Up to two days, hours read better ("30 hours"); after that, days ("4.5 days").
_HOURS_UP_TO = 48

WITHHELD = f"Not shown: fewer than {metrics.PUBLIC_MIN_COUNT} reports"


@dataclass(frozen=True)
class Figure:
    """One line of the page: what it measures and its value as text (``withheld`` when not shown)."""

    label: str
    text: str
    withheld: bool


def stats_published() -> bool:
    """Whether the public figures are on (the default program's switch).

    Asked as a filter, not through ``Program.objects.default()``: the public policy page asks
    too, and must not fail even on a database whose default program has gone missing.
    """
    return Program.objects.filter(is_default=True, publish_stats=True).exists()


def _duration(hours: float) -> str:
    if hours < _HOURS_UP_TO:
        return f"{hours:.1f} hours"
    return f"{hours / _HOURS_PER_DAY:.1f} days"


def _figures(summary: metrics.PublicSummary) -> list[Figure]:
    rows: list[tuple[str, str | None]] = [
        ("Reports received", None if summary.received is None else str(summary.received)),
        ("Of those, resolved so far", None if summary.resolved is None else str(summary.resolved)),
    ]
    for milestone in metrics.PUBLIC_MILESTONES:
        hours = summary.median_hours[milestone]
        label = f"Median time to {metrics.MILESTONE_LABELS[milestone].lower()}"
        rows.append((label, None if hours is None else _duration(hours)))
    for kind in metrics.PUBLIC_TARGETS:
        share = summary.inside_target[kind]
        label = f"Inside our {ClockKind(kind).label.lower()} target"
        rows.append((label, None if share is None else f"{share:.1f} %"))
    return [Figure(label, WITHHELD if text is None else text, text is None) for label, text in rows]


@require_GET
def stats(request: HttpRequest) -> HttpResponse:
    """Rolling 90-day response figures, when the program publishes them; 404 otherwise."""
    if not stats_published():
        raise Http404("Response figures are not published.")
    summary = cache.get(CACHE_KEY)
    if summary is None:
        summary = metrics.public_summary()
        if summary is None:  # switched off between the two reads
            raise Http404("Response figures are not published.")
        cache.set(CACHE_KEY, summary, CACHE_SECONDS)
    context = {
        "summary": summary,
        "figures": _figures(summary),
        "days": metrics.PUBLIC_DAYS,
        "min_count": metrics.PUBLIC_MIN_COUNT,
    }
    response = render(request, "intake/stats.html", context)
    if request.user.is_authenticated:
        # The page's header names the signed-in staff member and carries their CSRF token: a
        # shared cache must never keep that copy for the next visitor.
        patch_cache_control(response, private=True, no_store=True)
    else:
        patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    return response
