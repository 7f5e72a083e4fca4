"""The inbox's filters: one form and one function, shared by the inbox page and the staff API.

:func:`filter_reports` takes a user and plain query parameters (no request), validates them with
:class:`InboxFilterForm` and returns a :class:`FilterResult`: the filtered reports, the cleaned
values, and an error per bad parameter (an unknown status, a bad date, an unknown assignee, an
unknown parameter) that a person can act on. :meth:`FilterResult.page` then cuts one page by keyset
(see :mod:`bastion.triage.keyset`): no COUNT and no OFFSET, so a page deep in a million reports
costs what the first one does.

Every filter is clear metadata. ``q`` searches metadata only: an exact tracking ID jumps to that
report; otherwise a tracking-ID prefix, a CWE (``CWE-79`` or ``79``), a CVSS vector fragment, or
label and asset names. ``text`` searches *inside* reports, and since nothing is ever indexed in
clear, that means opening them: only once the other filters have narrowed the set to at most
:data:`CONTENT_SEARCH_MAX` reports, each opened in memory, and the read audited as one
REPORTS_SEARCHED row (see :func:`search_contents`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cvss import constants3 as cvss3_metrics
from cvss import constants4 as cvss4_metrics
from django import forms
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.http import QueryDict
from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.accounts.permissions import AnyUser
from bastion.audit.events import Event
from bastion.audit.services import record
from bastion.lib.when import zone_named
from bastion.reports import identifiers
from bastion.reports.models import Asset, Channel, Label, Report, ReportQuerySet, Severity
from bastion.reports.sealing import open_field, open_json
from bastion.reports.workflow import CLOSED, Status
from bastion.triage import keyset
from bastion.triage.access import inbox_rows, reports_for
from bastion.triage.filter_fields import FastSelectMultiple, ValuesField
from bastion.vault.errors import KeyDestroyed

# Opening a report costs an unwrap and two AES-GCM opens; 500 is well under a second, and few
# enough that a search cannot become a quiet bulk export of the whole database.
CONTENT_SEARCH_MAX = 500
DUE_SOON_HOURS = 24
# Below this many labelled reports, a label filter starts from them rather than from the newest
# report (measured at a million reports: 1,000 carriers sort in ~5 ms; EXISTS found nothing in 350).
RARE_LABEL = 1_000
MAX_DUE_HOURS = 24 * 30
OPEN = [status.value for status in Status if status not in CLOSED]
UNRATED = "unrated"
_CWE = re.compile(r"^(?:cwe[-\s]?)?(\d{1,5})$", re.IGNORECASE)
_CROCKFORD_ALIASES = str.maketrans("ILO", "110")  # read as the digits people mistake them for
# Every CVSS 3.x and 4.0 metric and the values it takes, as the ``cvss`` package (which scores the
# vectors) names them: upper-cased metric → upper-cased value → the value as a vector spells it.
# Only these make ``q`` a vector part, so "admin:hunter2" is not taken for one.
CVSS_METRICS: dict[str, dict[str, str]] = {}
for _names in (cvss3_metrics.METRICS_VALUE_NAMES, cvss4_metrics.METRICS_VALUE_NAMES):
    for _metric, _values in _names.items():
        CVSS_METRICS.setdefault(_metric.upper(), {}).update({v.upper(): v for v in _values})
CVSS_PREFIXES = ("CVSS:3.0", "CVSS:3.1", "CVSS:4.0")
# Days before this are no report's; days whose bounds do not fit a datetime are refused too.
EARLIEST_DAY = date(1970, 1, 1)
DAY_RANGE = "Choose a day from 1970-01-01 to 9999-12-30."


def _status_choices() -> list[tuple[str, str]]:
    return [("any", "Any"), ("open", "Open"), ("closed", "Closed"), *Status.choices]


class InboxFilterForm(forms.Form):
    """Narrow the inbox; every field is optional, and several values of one field mean "any of them".

    ``user`` is who is looking: "me" is them, and dates are days in their time zone. ``after`` and
    ``before`` are page positions (cursors); ``limit`` is the page size. ``text`` searches inside
    reports (see the module docstring).
    """

    status = ValuesField(noun="status", choices=_status_choices)
    severity = ValuesField(noun="severity", choices=[*Severity.choices, (UNRATED, "Unrated")])
    assignee = ValuesField(noun="assignee", widget=FastSelectMultiple)
    asset = ValuesField(noun="asset", commas=False, widget=FastSelectMultiple)
    channel = ValuesField(noun="channel", choices=Channel.choices)
    label = ValuesField(noun="label", widget=FastSelectMultiple)
    clock = ValuesField(
        noun="clock state",
        choices=[("due_soon", "Due soon"), ("overdue", "Overdue"), ("breached", "Target missed")],
        help_text="Sorted by the next due time, soonest first.",
    )
    due_hours = forms.IntegerField(
        label="Due soon means within (hours)",
        required=False,
        min_value=1,
        max_value=MAX_DUE_HOURS,
        widget=forms.NumberInput(attrs={"placeholder": str(DUE_SOON_HOURS)}),
    )
    received_after = forms.DateField(label="Received from", required=False, input_formats=["%Y-%m-%d"])
    received_before = forms.DateField(label="Received until", required=False, input_formats=["%Y-%m-%d"])
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "BST-…, CWE-79, AV:N, label, asset"}),
        help_text="Tracking ID, CWE, CVSS vector, label or asset name (not the reports' contents).",
    )
    text = forms.CharField(label="Search inside content", required=False, max_length=200)
    after = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    limit = forms.IntegerField(
        required=False, min_value=1, max_value=keyset.MAX_PAGE, widget=forms.HiddenInput
    )

    def __init__(self, data: Any = None, *, user: AnyUser, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.user = user
        for name in ("received_after", "received_before"):
            self.fields[name].error_messages["invalid"] = (
                "Enter a date as YYYY-MM-DD, for example 2026-01-31."
            )
            self.fields[name].widget.input_type = "date"
        holders = User.objects.filter(role__in=[Role.TRIAGER, Role.ADMIN]).order_by("full_name", "email")
        assignee = self._values("assignee")
        assignee.choices = [("me", "Me"), ("unassigned", "Unassigned")] + [
            (str(u.pk), (u.full_name or u.email) + ("" if u.is_active else " (inactive)")) for u in holders
        ]
        assignee.aliases = {u.email.lower(): str(u.pk) for u in holders}
        assets = list(Asset.objects.order_by("name").values_list("pk", "name"))
        asset = self._values("asset")
        asset.choices = [("none", "No asset")] + [(str(pk), name) for pk, name in assets]
        asset.aliases = {name.lower(): str(pk) for pk, name in assets}
        label = self._values("label")
        label.choices = [
            (name, name) for name in Label.objects.order_by("name").values_list("name", flat=True)
        ]

    def _values(self, name: str) -> ValuesField:
        found = self.fields[name]
        assert isinstance(found, ValuesField)
        return found

    def clean_after(self) -> keyset.Position | None:
        return self._position("after")

    def clean_before(self) -> keyset.Position | None:
        return self._position("before")

    def _position(self, name: str) -> keyset.Position | None:
        value = self.cleaned_data.get(name) or ""
        if not value:
            return None
        position = keyset.Position.decode(value)
        if position is None:
            raise ValidationError("This page link is broken or out of date: start again from the first page.")
        return position

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("after") and cleaned.get("before"):
            self.add_error("before", "Give either after or before, not both.")
        zone = self.time_zone()
        for name, days_after in (("received_after", 0), ("received_before", 1)):
            day = cleaned.get(name)
            if day is not None and day_start(day, zone, days_after=days_after) is None:
                self.add_error(name, DAY_RANGE)
        start, end = cleaned.get("received_after"), cleaned.get("received_before")
        if start and end and start > end and "received_before" not in self.errors:
            self.add_error("received_before", "This is earlier than the “received from” date.")
        by_due = bool(cleaned.get("clock"))
        for name in ("after", "before"):
            position = cleaned.get(name)
            if position is not None and position.by_due != by_due and name not in self.errors:
                self.add_error(
                    name, "This page link belongs to another sort order: start from the first page."
                )
        return cleaned

    def time_zone(self) -> ZoneInfo:
        """The viewer's time zone, which date filters are days in."""
        return zone_named(getattr(self.user, "time_zone", "") or "UTC")[0]


def day_start(day: date, zone: ZoneInfo, *, days_after: int = 0) -> datetime | None:
    """The instant (in UTC) the day ``days_after`` days after ``day`` begins in ``zone``.

    None for a day before 1970, or one whose bound does not fit a datetime (the last day of year
    9999 has no next day; year 1 in a zone east of UTC begins in year 0): a 400, never a 500.
    """
    if day < EARLIEST_DAY:
        return None
    try:
        return datetime.combine(day + timedelta(days=days_after), time.min, zone).astimezone(UTC)
    except (OverflowError, ValueError):
        return None


@dataclass
class FilterResult:
    """What :func:`filter_reports` found: the rows, the cleaned filters, and any errors.

    ``rows`` is None when a filter is bad; ``errors`` then maps each bad parameter to its messages.
    ``jump_to`` is the report an exact tracking ID named. ``opened`` is how many reports a content
    search opened (None: no content search). Page through ``rows`` with :meth:`page`.
    """

    form: InboxFilterForm
    rows: ReportQuerySet | None
    errors: dict[str, list[str]]
    cleaned: dict[str, Any] = field(default_factory=dict)
    jump_to: Report | None = None
    opened: int | None = None
    plan: keyset.Plan | None = None

    @property
    def by_due(self) -> bool:
        """Sorted by next due time (a clock filter is on) rather than newest first."""
        return bool(self.cleaned.get("clock"))

    def raise_for_errors(self) -> None:
        """ValidationError keyed by parameter (``error.message_dict``) if any filter was bad."""
        if self.errors:
            raise ValidationError(self.errors)

    def page(self, *, size: int | None = None) -> keyset.Page:
        """The page the ``after``/``before`` cursor (or neither: the first page) points at."""
        assert self.plan is not None, "no page of a refused filter"
        size = size or self.cleaned.get("limit") or keyset.PAGE_SIZE
        user = self.form.user
        return keyset.page(
            self.plan,
            visible=reports_for(user),
            rows=inbox_rows(user),
            after=self.cleaned.get("after"),
            before=self.cleaned.get("before"),
            size=size,
        )


def filter_reports(
    user: AnyUser,
    data: Mapping[str, str | list[str]],
    *,
    now: datetime | None = None,
    ip: str | None = None,
) -> FilterResult:
    """The reports ``user`` may see that match ``data`` (query parameters), newest first.

    With a clock filter they are sorted by next due time, soonest first. A content search
    (``text``) opens the candidate reports and records that read (see :func:`search_contents`).
    """
    params = _as_query(data)
    form = InboxFilterForm(params, user=user)
    unknown = {
        name: [f"Unknown filter “{name[:40]}”: the filters are {', '.join(form.fields)}."]
        for name in params
        if name not in form.fields
    }
    if not form.is_valid() or unknown:
        errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()} | unknown
        for messages in unknown.values():
            form.add_error(None, messages)
        return FilterResult(form=form, rows=None, errors=errors)
    cleaned = dict(form.cleaned_data)
    now = now or timezone.now()
    visible = reports_for(user)
    query = cleaned["q"].strip()
    exact = identifiers.normalize_tracking_id(query) if query else None
    # Searching inside, an exact ID narrows the search to that report rather than skipping it.
    if exact is not None and not cleaned["text"].strip():
        found = visible.filter(tracking_id=exact).first()
        if found is not None:
            return FilterResult(
                form=form, rows=visible.filter(pk=found.pk), errors={}, cleaned=cleaned, jump_to=found
            )
    try:
        plan, q_kind = _plan(form, cleaned, now=now, exact=exact, vendor=connections[visible.db].vendor)
    except ValidationError as error:
        form.add_error("q", error)
        return FilterResult(form=form, rows=None, errors={"q": list(error.messages)})
    rows = plan.rows(visible)
    opened = None
    if cleaned["text"].strip():
        candidates = rows.order_by()[: CONTENT_SEARCH_MAX + 1].count()
        if candidates > CONTENT_SEARCH_MAX:
            message = (
                f"Searching inside reports opens each one, so it works on at most {CONTENT_SEARCH_MAX:,} "
                f"reports: these filters match more. Narrow them first (asset, status, assignee, dates)."
            )
            form.add_error("text", message)
            return FilterResult(form=form, rows=None, errors={"text": [message]}, cleaned=cleaned)
        matched, opened = search_contents(
            rows=rows, text=cleaned["text"], actor=user, filters={**cleaned, "q": q_kind}, ip=ip
        )
        plan = plan.only(matched)
        rows = plan.rows(visible)
    return FilterResult(form=form, rows=rows, errors={}, cleaned=cleaned, opened=opened, plan=plan)


def _as_query(data: Mapping[str, str | list[str]]) -> QueryDict:
    if isinstance(data, QueryDict):
        return data
    query = QueryDict(mutable=True)
    for name, value in data.items():
        query.setlist(name, [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)])
    return query


def _plan(
    form: InboxFilterForm, cleaned: dict[str, Any], *, now: datetime, exact: str | None, vendor: str
) -> tuple[keyset.Plan, str | None]:
    """Turn the cleaned filters into a keyset plan: column filters (index walks) and the rest.

    Also the kind of metadata ``q`` matched (see :func:`_search_metadata`), None without ``q``.
    """
    plan = keyset.Plan(by_due=bool(cleaned["clock"]))
    statuses = set(cleaned["status"]) - {"any"}
    chosen = {s for s in statuses if s not in ("open", "closed")}
    chosen |= set(OPEN) if "open" in statuses else set()
    chosen |= {s.value for s in CLOSED} if "closed" in statuses else set()
    if chosen and len(chosen) < len(Status):
        plan.column("status", sorted(chosen))
    if cleaned["severity"]:
        plan.column("severity", ["" if value == UNRATED else value for value in cleaned["severity"]])
    if cleaned["assignee"]:
        user_pk = getattr(form.user, "pk", None)
        wanted = {"me": user_pk, "unassigned": None}
        plan.column("assignee_id", [wanted[v] if v in wanted else int(v) for v in cleaned["assignee"]])
    if cleaned["asset"]:
        plan.column("asset_id", [None if value == "none" else int(value) for value in cleaned["asset"]])
    if cleaned["channel"]:
        plan.column("channel", cleaned["channel"])
    if cleaned["label"]:
        ids = list(Label.objects.filter(name__in=cleaned["label"]).values_list("pk", flat=True))
        _filter_labelled(plan, ids)
    zone = form.time_zone()
    if cleaned["received_after"]:
        plan.where(Q(received_at__gte=day_start(cleaned["received_after"], zone)))
    if cleaned["received_before"]:
        plan.where(Q(received_at__lt=day_start(cleaned["received_before"], zone, days_after=1)))
    if cleaned["clock"]:
        plan.where(_clock_states(cleaned["clock"], now=now, hours=cleaned["due_hours"] or DUE_SOON_HOURS))
        plan.include_not_running = "breached" in cleaned["clock"]
    q_kind = None
    if cleaned["q"].strip():
        q_kind = _search_metadata(plan, cleaned["q"].strip(), exact=exact, vendor=vendor)
    return plan, q_kind


def _filter_labelled(plan: keyset.Plan, label_ids: list[int]) -> None:
    """Keep reports carrying any of the labels, by whichever walk is short.

    Usually EXISTS on the M2M table, checked along the newest-first walk: a common label finds a
    page within a few hundred rows. A rare label would make that walk long (an unused one, the
    whole table), so when few reports carry it (counted on the M2M table's label index, up to
    RARE_LABEL) the walk starts from those reports instead; when none do, nothing is walked.
    """
    through = Report.labels.through
    tagged = through.objects.filter(label_id__in=label_ids)
    carriers = tagged.order_by()[: RARE_LABEL + 1].count()
    if carriers == 0:
        plan.empty = True
    elif carriers <= RARE_LABEL:
        plan.where(Q(pk__in=tagged.values("report_id")))
    else:
        plan.where(_labelled(label_ids))


def _labelled(label_ids: Iterable[int]) -> Exists:
    """Carries any of the labels: EXISTS on the M2M table (its (report, label) index answers it)."""
    through = Report.labels.through
    return Exists(through.objects.filter(report_id=OuterRef("pk"), label_id__in=list(label_ids)))


def _clock_states(states: list[str], *, now: datetime, hours: int) -> Q:
    """Any of the chosen clock states; each is a range on next_due_at, or a set breach time."""
    chosen = Q()
    if "due_soon" in states:
        chosen |= Q(next_due_at__gte=now, next_due_at__lt=now + timedelta(hours=hours))
    if "overdue" in states:
        chosen |= Q(next_due_at__lt=now)
    if "breached" in states:
        chosen |= Q(breached_at__isnull=False)
    return chosen


def _search_metadata(plan: keyset.Plan, query: str, *, exact: str | None, vendor: str) -> str:
    """Add ``q``'s filter: one kind of metadata, so each search stays one index walk where it can.

    Returns which kind it matched (tracking_id, cwe, cvss, label, asset, label_or_asset or
    tracking_id_prefix): a content search's audit row records that, never the text, which may be
    anything a person typed or pasted. A full tracking ID that names no visible report matches
    nothing (not an error: it may be someone else's to see). ValidationError when the text is no
    kind of metadata at all.
    """
    if exact is not None:
        plan.where(Q(tracking_id=exact))
        return "tracking_id"
    cwe = _CWE.fullmatch(query)
    if cwe:
        plan.where(Q(cwe_id=int(cwe[1])))
        return "cwe"
    fragment = cvss_fragment(query)
    if fragment is not None:
        plan.where(Q(cvss_v3__contains=fragment) | Q(cvss_v4__contains=fragment))
        return "cvss"
    labels = list(Label.objects.filter(name__icontains=query).values_list("pk", flat=True))
    assets = list(Asset.objects.filter(name__icontains=query).values_list("pk", flat=True))
    prefix = _tracking_prefix(query)
    if labels and assets:
        plan.where(_labelled(labels) | Q(asset_id__in=assets))
        return "label_or_asset"
    if labels:
        plan.where(_labelled(labels))
        return "label"
    if assets:
        plan.narrow("asset_id", assets)
        return "asset"
    if prefix is not None:
        plan.where(_starts_with(prefix, vendor=vendor))
        return "tracking_id_prefix"
    raise ValidationError(
        f"“{query[:80]}” is not a tracking ID (BST-…, at least two characters after BST-), a CWE "
        "(CWE-79), a CVSS vector part (AV:N) or part of a label or asset name. To look inside "
        "reports, use “Search inside content”.",
        code="no_metadata",
    )


def _starts_with(prefix: str, *, vendor: str) -> Q:
    """Tracking IDs beginning with ``prefix``, by a walk of an index on tracking_id.

    SQLite compares text bytewise and answers a range from its unique index on tracking_id (a LIKE
    it would scan for: its LIKE optimisation needs case_sensitive_like). PostgreSQL orders by the
    database's collation, under which DEL, the range's end, may sort anywhere (ICU ignores it, so
    the range holds nothing); there LIKE 'BST-AB%' is bytewise, and walks the varchar_pattern_ops
    index Django gives a unique CharField. Tracking IDs are upper-case ASCII: both are exact.
    """
    if vendor == "sqlite":
        return Q(tracking_id__gte=prefix, tracking_id__lt=prefix + "\x7f")
    return Q(tracking_id__startswith=prefix)


def cvss_fragment(query: str) -> str | None:
    """``query`` as a part of a CVSS vector as stored (``/AV:N/AC:L``, ``CVSS:3.1/AV:N``), or None.

    A part is ``metric:value`` pairs joined by "/", each a real metric with one of its values
    (any case), optionally after the version prefix. Without the prefix the part gets a leading
    "/", so ``AV:N`` does not also find ``MAV:N``.
    """
    pieces = [piece.strip() for piece in query.strip().strip("/").split("/")]
    spelled: list[str] = []
    for number, piece in enumerate(pieces):
        if number == 0 and piece.upper() in CVSS_PREFIXES:
            spelled.append(piece.upper())
            continue
        metric, colon, value = piece.partition(":")
        values = CVSS_METRICS.get(metric.upper())
        if not colon or values is None or value.upper() not in values:
            return None
        spelled.append(f"{metric.upper()}:{values[value.upper()]}")
    fragment = "/".join(spelled)
    return fragment if fragment.startswith("CVSS:") else f"/{fragment}"


def _tracking_prefix(query: str) -> str | None:
    """``BST-`` and the typed start of a tracking ID (two characters at least), in stored form.

    Without the ``BST`` prefix the text must hold a digit, so a word such as "payments" (all of
    whose letters are in the alphabet) is not taken for one.
    """
    cleaned = "".join(query.split()).upper().replace("-", "")
    marker = identifiers.TRACKING_PREFIX[:-1]
    has_marker = cleaned.startswith(marker)
    rest = cleaned[len(marker) :] if has_marker else cleaned
    if not has_marker and not any(c.isdigit() for c in rest):
        return None
    rest = rest.translate(_CROCKFORD_ALIASES)
    if not 2 <= len(rest) < identifiers.TRACKING_LENGTH or any(c not in identifiers.CROCKFORD for c in rest):
        return None
    return identifiers.TRACKING_PREFIX + rest


def search_contents(
    *, rows: ReportQuerySet, text: str, actor: AnyUser, filters: Mapping[str, Any], ip: str | None = None
) -> tuple[list[int], int]:
    """The ids of ``rows`` whose title or content holds every word of ``text``, and how many were opened.

    The caller has bounded ``rows`` (at most CONTENT_SEARCH_MAX). Each report is opened in memory
    with its own data key; nothing is written anywhere but one audit row, REPORTS_SEARCHED, for the
    whole read: how many reports were opened and matched, and the metadata filters that chose them
    (``q`` only as the kind of metadata it matched). The words searched for are *not* recorded.
    They are often copied from a report ("the /export endpoint…"), so they are report plaintext,
    and the audit trail can neither be shredded with a report's key nor deleted.
    Shredded reports cannot be opened and are skipped.
    """
    words = text.casefold().split()
    matched: list[int] = []
    opened = 0
    for report in (
        rows.select_related("data_key").order_by().only("pk", "uid", "title", "content", "data_key")
    ):
        try:
            key = report.data_key_plain()
        except KeyDestroyed:
            continue
        opened += 1
        haystack = [open_field(report, "title", key=key) or ""]
        haystack += [str(value) for value in open_json(report, "content", key=key).values()]
        folded = "\n".join(haystack).casefold()
        if all(word in folded for word in words):
            matched.append(report.pk)
    if opened:
        data = {"opened": opened, "matched": len(matched), "filters": _described(filters)}
        with transaction.atomic():
            record(event=Event.REPORTS_SEARCHED, actor=actor, data=data, ip=ip)
    return matched, opened


def _described(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata filters of a content search, for its audit row (never the words searched).

    ``q`` is recorded as the kind of metadata it matched ("cvss", "label"…), never its text:
    whatever was typed there, a vector or a pasted secret, must not reach the audit trail.
    """
    shown: dict[str, Any] = {}
    for name in ("status", "severity", "assignee", "asset", "channel", "label", "clock", "q"):
        value = filters.get(name)
        if value:
            shown[name] = value
    for name in ("received_after", "received_before"):
        if filters.get(name):
            shown[name] = filters[name].isoformat()
    return shown
