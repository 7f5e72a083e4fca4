"""Small server-side SVG charts (bars and lines), their data tables and their CSV rows.

One ``Chart`` is drawn three ways from the same numbers: an SVG for the eye, a table for screen
readers and for anyone who wants the figures (the template puts it under the chart), and CSV
rows for the export. They can never disagree.

Why no JavaScript chart library: the strict CSP allows only our own scripts, a chart is a dozen
rectangles or one polyline, and an SVG drawn on the server works with scripts off and prints.

Every piece of text that reaches the SVG (titles, labels, series names) is escaped here, for
text and for attribute values alike; colours come from classes in ``triage/metrics.css`` (no
style attributes: the CSP forbids inline styles), with presentation attributes as a fallback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, PLOT_HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 36, 28
# Category labels too wide to sit side by side are turned this far, and cut at this many characters.
SLANT_DEGREES, SLANT_SINE = 35, 0.574
MAX_LABEL = 24
TICKS = 4
# About how wide one character of 11 px text is: enough to keep labels from overlapping.
CHAR_WIDTH = 6.5
# Readable on light and dark backgrounds; CSS may override them (see metrics.css).
PALETTE = ("#1f4fd1", "#b54708", "#067647", "#b42318", "#6941c6", "#5b6472")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Cells a spreadsheet would run as a formula (OWASP "CSV injection"): =, +, -, @, tab, CR, and
# their full-width forms, which some spreadsheets also accept.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

Value = float | int | None


@dataclass(frozen=True)
class Series:
    """One named run of values, parallel to the chart's categories (None: no figure)."""

    name: str
    values: Sequence[Value]


@dataclass(frozen=True)
class Chart:
    """What a chart shows: categories along the x axis, one or more series, and a unit.

    ``extra`` columns appear in the table and the CSV but are not drawn (e.g. how many reports
    a median is drawn from). ``slug`` names the chart in ids and in its CSV's URL. ``digits`` is
    how many decimals a value shows (0: counts, whose axis then has whole-number steps).
    """

    slug: str
    title: str
    description: str
    kind: Literal["bar", "line"]
    category_label: str
    categories: Sequence[str]
    series: Sequence[Series]
    unit: str
    extra: Sequence[Series] = field(default_factory=tuple)
    digits: int = 1
    ceiling: float | None = None  # a fixed top for the y axis (100 for percentages)

    def __post_init__(self) -> None:
        if not _SLUG.match(self.slug):
            raise ValueError(f"A chart slug is lowercase words joined by hyphens, not {self.slug!r}.")
        for run in (*self.series, *self.extra):
            if len(run.values) != len(self.categories):
                raise ValueError(
                    f"Series {run.name!r} has {len(run.values)} values for {len(self.categories)} categories."
                )

    @property
    def is_empty(self) -> bool:
        """True when no series has a single figure to draw."""
        return all(value is None for run in self.series for value in run.values)

    def format(self, value: Value) -> str:
        """A value as the table shows it ("—" for none)."""
        if value is None:
            return "—"
        if isinstance(value, int):
            return str(value)
        return f"{value:.{self.digits}f}"

    def table(self) -> tuple[list[str], list[list[str]]]:
        """The header and the rows of the data table, formatted."""
        columns = [*self.series, *self.extra]
        header = [self.category_label, *(f"{run.name} ({self.unit})" for run in self.series)]
        header += [run.name for run in self.extra]
        rows = [
            [category, *(self.format(run.values[i]) for run in columns)]
            for i, category in enumerate(self.categories)
        ]
        return header, rows

    def csv_rows(self) -> list[list[str | float | int]]:
        """The header and rows for a CSV export: numbers as numbers, no figure as an empty cell."""
        columns = [*self.series, *self.extra]
        header = [self.category_label, *(f"{run.name} ({self.unit})" for run in self.series)]
        header += [run.name for run in self.extra]
        rows: list[list[str | float | int]] = [[safe_cell(text) for text in header]]
        for i, category in enumerate(self.categories):
            cells: list[str | float | int] = [safe_cell(category)]
            for run in columns:
                value = run.values[i]
                cells.append(
                    "" if value is None else round(value, self.digits) if isinstance(value, float) else value
                )
            rows.append(cells)
        return rows


def safe_cell(text: str) -> str:
    """``text`` made inert for spreadsheets: a leading formula character gets a ``'`` before it."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text


# --- Drawing -------------------------------------------------------------------------------------


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n at or above ``value`` (1 for nothing to show)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover  (the loop ends at 10, which always fits)


def axis_top(largest: float, *, whole: bool = False) -> float:
    """The top of a y axis over values up to ``largest``: ``TICKS`` round steps (whole ones for counts)."""
    step = nice_ceiling(largest / TICKS)
    if whole:
        step = max(1, math.ceil(step))
    return step * TICKS


def _num(value: float) -> str:
    """A coordinate, short: SVG needs no more than a tenth of a pixel."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _shortened(label: str) -> str:
    """A category label cut to ``MAX_LABEL`` characters (the data table keeps it whole)."""
    return label if len(label) <= MAX_LABEL else f"{label[: MAX_LABEL - 1]}…"


def _tick(value: float) -> str:
    return f"{value:g}"


def render_svg(chart: Chart) -> SafeString:
    """``chart`` as an accessible inline SVG: role img, labelled by its <title> and <desc>."""
    ident = f"chart-{chart.slug}"
    values = [v for run in chart.series for v in run.values if v is not None]
    top = chart.ceiling or axis_top(max(values, default=0), whole=chart.digits == 0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, PLOT_HEIGHT
    count = max(len(chart.categories), 1)
    slot = plot_w / count
    labels = [_shortened(category) for category in chart.categories]
    # Every category is labelled; when the labels would touch, they are slanted and the chart grows
    # downwards to make room for them.
    widest = max((len(label) for label in labels), default=1)
    slanted = (widest + 1) * CHAR_WIDTH > slot
    bottom = BOTTOM + (math.ceil(widest * CHAR_WIDTH * SLANT_SINE) if slanted else 0)
    height = TOP + plot_h + bottom

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * value / top

    parts = [
        f'<svg class="chart chart-{chart.kind}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(chart.title)}</title>',
        f'<desc id="{ident}-desc">{escape(chart.description)}</desc>',
    ]
    # Gridlines and y-axis labels, in the chart's unit.
    for i in range(TICKS + 1):
        value = top * i / TICKS
        level = _num(y(value))
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{level}" y2="{level}" '
            f'stroke="currentColor" stroke-opacity="0.15"/>'
        )
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{_num(y(value) + 4)}" text-anchor="end" '
            f'font-size="11" fill="currentColor">{escape(_tick(value))}</text>'
        )
    parts.append(
        f'<text class="unit" x="{LEFT - 6}" y="{TOP - 14}" text-anchor="end" font-size="11" '
        f'fill="currentColor">{escape(chart.unit)}</text>'
    )
    base = TOP + plot_h + 16
    for i, label in enumerate(labels):
        x = _num(LEFT + slot * (i + 0.5))
        placed = (
            f'x="{x}" y="{base}" text-anchor="end" transform="rotate(-{SLANT_DEGREES} {x} {base})"'
            if slanted
            else f'x="{x}" y="{base}" text-anchor="middle"'
        )
        parts.append(
            f'<text class="category" {placed} font-size="11" fill="currentColor">{escape(label)}</text>'
        )
    parts.append(_bars(chart, slot, y) if chart.kind == "bar" else _lines(chart, slot, y))
    parts.append(_legend(chart))
    if chart.is_empty:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" '
            f'font-size="14" fill="currentColor">No figures yet</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every text above went through escape())


def _point_title(chart: Chart, run: Series, index: int, value: float) -> str:
    text = f"{run.name}, {chart.categories[index]}: {chart.format(value)} {chart.unit}"
    return f"<title>{escape(text)}</title>"


def _bars(chart: Chart, slot: float, y: Callable[[float], float]) -> str:
    """Grouped bars: one per series in each category's slot."""
    parts = []
    groups = len(chart.series)
    bar = slot * 0.8 / groups
    floor = y(0)
    for s, run in enumerate(chart.series):
        colour = PALETTE[s % len(PALETTE)]
        for i, value in enumerate(run.values):
            if value is None:
                continue
            x = LEFT + slot * i + slot * 0.1 + bar * s
            top = y(value)
            parts.append(
                f'<rect class="series-{s}" x="{_num(x)}" y="{_num(top)}" width="{_num(bar)}" '
                f'height="{_num(max(floor - top, 0))}" fill="{colour}">'
                f"{_point_title(chart, run, i, value)}</rect>"
            )
    return "".join(parts)


def _lines(chart: Chart, slot: float, y: Callable[[float], float]) -> str:
    """One polyline per series, broken where a value is missing, with a dot per point."""
    parts = []
    for s, run in enumerate(chart.series):
        colour = PALETTE[s % len(PALETTE)]
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, value in enumerate(run.values):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x = LEFT + slot * (i + 0.5)
            segment.append(f"{_num(x)},{_num(y(value))}")
            parts.append(
                f'<circle class="series-{s}" cx="{_num(x)}" cy="{_num(y(value))}" r="3.5" '
                f'fill="{colour}">{_point_title(chart, run, i, value)}</circle>'
            )
        if segment:
            segments.append(segment)
        for points in segments:
            parts.insert(
                0,
                f'<polyline class="line series-{s}" points="{" ".join(points)}" fill="none" '
                f'stroke="{colour}" stroke-width="2"/>',
            )
    return "".join(parts)


def _legend(chart: Chart) -> str:
    """Series names along the top, each beside its colour (only when there is more than one)."""
    if len(chart.series) < 2:
        return ""
    parts = []
    x = float(LEFT)
    for s, run in enumerate(chart.series):
        colour = PALETTE[s % len(PALETTE)]
        parts.append(f'<rect class="series-{s}" x="{_num(x)}" y="8" width="12" height="12" fill="{colour}"/>')
        parts.append(
            f'<text class="legend" x="{_num(x + 16)}" y="18" font-size="11" fill="currentColor">'
            f"{escape(run.name)}</text>"
        )
        x += 16 + CHAR_WIDTH * len(run.name) + 18
    return f'<g class="legend" aria-hidden="true">{"".join(parts)}</g>'
