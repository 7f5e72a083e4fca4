"""Finding the reports that look like a given one: in memory, after decryption, never indexed.

The pool is open reports and reports closed in the last :data:`RECENT_DAYS` days, on the same asset
when the report has one, newest first and at most :data:`POOL_LIMIT` of them. Each pool report's
title and content are opened in memory, scored, and dropped: there is no plaintext index on disk,
ever, and nothing of the text outlives the call except what the returned candidates show. The
score mixes rapidfuzz similarity of titles and bodies, the rare terms both share (weighted by IDF
over the pool), the URLs and paths both mention, and the asset and CWE. Every candidate says *why*
it matched.

The search is one staff read of many reports: one audit row (DUPLICATES_SEARCHED) names the
report, the pool size and the candidates shown (tracking IDs only, never terms), and it is
committed before any candidate is returned. The decryption itself runs outside the transaction:
under SQLite a transaction holds the database's one write lock, and intake must not wait a second
for a staff member's search. ``benchmarks/duplicates.py`` measures it over 5,000 reports.
"""

from __future__ import annotations

import heapq
import math
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports import receipts
from bastion.reports.models import Report, ReportQuerySet
from bastion.reports.sealing import SealedRow, open_field
from bastion.reports.services._shared import require_staff_reader
from bastion.reports.workflow import CLOSED, Status
from bastion.vault.envelope import unwrap_data_key
from bastion.vault.errors import SealError
from bastion.vault.keys import KeyProvider, get_key_provider

POOL_LIMIT = 5_000
"""The newest this many pool reports are compared (5,000 is the issue's measured load)."""
RECENT_DAYS = 90
"""Closed reports stay in the pool this long after closing."""
MIN_SCORE = 30
"""Below this score a report is not shown as a candidate (tuned on the benchmark's corpus)."""
SHOWN_TERMS = 5
SHOWN_ENDPOINTS = 3

# What rapidfuzz's token-set ratio gives texts that share nothing but common words: counted as 0.
TITLE_FLOOR, BODY_FLOOR = 40, 50
# Weights of the score's parts; they sum to 100.
W_TITLE, W_BODY, W_TERMS, W_ENDPOINTS, W_ASSET, W_CWE = 30, 20, 25, 15, 5, 5

# Case-sensitive on purpose: a pattern that starts with a literal is found by a fast scan, and
# IGNORECASE (or a leading \b) makes the engine try every position, 15 times slower here.
_URL = re.compile(r"https?://[^\s<>()\[\]{}\"'`|\\^]+")
# A path on its own: "/api/v1/export", "GET /users/{id}". Not "and/or" or "1/2": _endpoints skips a
# match right after a word character, and one without a letter (dates, fractions). The pattern
# starts with its literal slash, so the regex engine jumps from slash to slash.
_PATH = re.compile(r"/[\w~%.{}:-]+(?:/[\w~%.{}:-]*)*")
_NOT_BEFORE_PATH = frozenset("/.~%-")
_WORD = re.compile(r"[a-z][a-z0-9_]{2,}")
_STOPWORD_TEXT = """
    about above after again against all also and any are because been before being below between
    both but can could did does doing down during each few for from further had has have having her
    here hers him his how into its itself just more most not now off once only other our ours out
    over own same she should some such than that the their theirs them then there these they this
    those through too under until very was were what when where which while who whom why will with
    would you your yours yourself http https www com
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class Candidate:
    """A report that may be the same issue, with the reasons it matched and a score (0 to 100).

    ``title``, ``shared_terms`` and ``shared_endpoints`` are plaintext from both reports, for the
    staff member who searched; they are kept out of the repr and are never stored.
    ``came_first`` says whether the candidate was received before the searched report, so it can
    be its original (otherwise the searched report is the original, and the candidate the duplicate).
    """

    report: Report
    score: int
    title: str = field(repr=False)
    title_similarity: int
    body_similarity: int
    shared_terms: tuple[str, ...] = field(repr=False)
    shared_endpoints: tuple[str, ...] = field(repr=False)
    same_asset: bool
    same_cwe: bool
    came_first: bool


@dataclass(frozen=True)
class _Text:
    """One report's text as the comparison needs it: in memory only, for the length of one search."""

    title: str = field(repr=False)  # as written, to show
    title_key: str = field(repr=False)  # lowercased, punctuation folded: what rapidfuzz compares
    body_key: str = field(repr=False)
    terms: frozenset[str] = field(repr=False)
    endpoints: dict[str, str] = field(repr=False)  # matching form -> form shown


@dataclass
class _PoolRow:
    """The sealed columns of one pool report: all a comparison reads, without a model instance.

    5,000 Report instances cost a quarter of the search; this row is enough for ``open_field``
    (it has the report's ``uid`` and ``_meta``, which the AAD binds to).
    """

    pk: int
    uid: uuid.UUID
    asset_id: int | None
    cwe_id: int | None
    title: bytes = field(repr=False)
    content: bytes = field(repr=False)
    wrapped: bytes = field(repr=False)
    master_version: int
    subject: str
    _meta = Report._meta


class _OnceProvider:
    """The configured key provider, each master key read once per search instead of once per report.

    Unwrapping 5,000 data keys would otherwise read the master key file 5,000 times. The cache lives
    in this object, which lives for one search: no key outlives the call.
    """

    def __init__(self, inner: KeyProvider) -> None:
        self.inner = inner
        self.keys: dict[int, bytes] = {}

    def current_version(self) -> int:
        return self.inner.current_version()

    def versions(self) -> list[int]:
        return self.inner.versions()

    def master_key(self, version: int) -> bytes:
        if version not in self.keys:
            self.keys[version] = self.inner.master_key(version)
        return self.keys[version]


def duplicate_pool(report: Report, *, within: ReportQuerySet | None = None) -> ReportQuerySet:
    """The reports ``report`` is compared with, newest first (the search takes the first POOL_LIMIT).

    ``within`` is what the searcher may see (the caller's access scope, e.g. triage's
    ``reports_for(user)``): a report outside it is never opened nor shown. None: every report.

    Open reports, and reports closed in the last RECENT_DAYS days; on ``report``'s asset when it
    has one. Left out: the report itself, reports already closed as a duplicate of another (their
    original is the one to match), and reports whose key was shredded (nothing to compare).
    """
    recent = timezone.now() - timedelta(days=RECENT_DAYS)
    scope = within if within is not None else Report.objects.all()
    rows = scope.filter(
        ~Q(status__in=list(CLOSED))
        | Q(closed_at__gte=recent)
        # closed_at is set by every close since triage came; older closed rows go by arrival.
        | Q(closed_at__isnull=True, received_at__gte=recent)
    )
    if report.asset_id is not None:
        rows = rows.filter(asset_id=report.asset_id)
    return (
        rows.exclude(pk=report.pk)
        .exclude(status=Status.DUPLICATE, duplicate_of__isnull=False)
        .filter(data_key__destroyed_at__isnull=True)
        .order_by("-received_at", "-id")
    )


def _pool_rows(report: Report, within: ReportQuerySet | None) -> list[_PoolRow]:
    columns = ("pk", "uid", "asset_id", "cwe_id", "title", "content")
    keys = ("data_key__wrapped", "data_key__master_version", "data_key__subject")
    rows = duplicate_pool(report, within=within).values_list(*columns, *keys)[:POOL_LIMIT]
    return [
        _PoolRow(pk, uid, asset, cwe, bytes(title), bytes(content), bytes(wrapped), version, subject)
        for pk, uid, asset, cwe, title, content, wrapped, version, subject in rows
    ]


def _text(row: SealedRow, key: bytes) -> _Text:
    title = open_field(row, "title", key=key) or ""
    content = receipts.parse_content(open_field(row, "content", key=key) or "{}")
    body = "\n".join(content.get(name, "") for name in ("description", "steps", "impact"))
    everything = f"{title}\n{content.get('product', '')}\n{body}"
    urls = _URL.findall(everything)
    rest = _URL.sub(" ", everything) if urls else everything
    return _Text(
        title=title,
        title_key=default_process(title),
        body_key=default_process(body),
        terms=frozenset(_WORD.findall(rest.lower())) - _STOPWORDS,
        endpoints=_endpoints(urls, rest),
    )


def _endpoints(urls: list[str], rest: str) -> dict[str, str]:
    """The endpoints in ``urls`` and in ``rest`` (the text without them), by how they match.

    Each form an endpoint matches by maps to the form shown. A URL matches by host+path and by its
    path alone, so ``https://app.example/api/export`` and a bare ``GET /api/export`` in another
    report are the same endpoint. Queries and fragments are dropped: the endpoint is the same
    whatever parameters a proof of concept passed.
    """
    found: dict[str, str] = {}
    for url in urls:
        try:
            parts = urlsplit(url.rstrip(".,;:!?"))
            host = (parts.hostname or "").lower()
        except ValueError:  # a malformed URL (a bad port, a broken IPv6 literal) is no endpoint
            continue
        path = _clean_path(parts.path)
        shown = f"{host}{path}"
        if shown:
            found[f"//{shown}"] = shown
        if path:
            found.setdefault(path, shown)
    for match in _PATH.finditer(rest):
        before = rest[match.start() - 1] if match.start() else " "
        if before.isalnum() or before == "_" or before in _NOT_BEFORE_PATH:
            continue
        path = _clean_path(match.group())
        if path and any(ch.isalpha() for ch in path):
            found.setdefault(path, path)
    return found


def _clean_path(path: str) -> str:
    path = path.rstrip(".,;:!?").rstrip("/").lower()
    return path if len(path) > 1 else ""


def find_duplicate_candidates(
    *,
    report: Report,
    actor: ActorArg,
    within: ReportQuerySet | None = None,
    limit: int = 10,
    ip: str | None = None,
) -> list[Candidate]:
    """The ``limit`` pool reports most like ``report``, best first, each with its reasons.

    Triagers and admins only (PermissionDenied otherwise). The search is audited as one
    DUPLICATES_SEARCHED row (pool size and the candidates' tracking IDs), committed before the
    candidates are returned. A pool report that will not open (damaged) is skipped, not fatal.
    ``within`` limits the pool to what the searcher may see (see :func:`duplicate_pool`).
    """
    require_staff_reader(actor)
    limit = max(1, limit)
    provider = _OnceProvider(get_key_provider())
    mine = _text(report, report.data_key.unwrap(provider=provider))
    pool: list[tuple[_PoolRow, _Text]] = []
    for row in _pool_rows(report, within):
        try:
            key = unwrap_data_key(
                row.wrapped, master_version=row.master_version, subject=row.subject, provider=provider
            )
            pool.append((row, _text(row, key)))
        except SealError:
            continue  # damaged or tampered: it cannot be compared, and it must not stop the search
    candidates = _ranked(report, mine, pool, limit=limit)
    with transaction.atomic():
        data = {"pool": len(pool), "candidates": [c.report.tracking_id for c in candidates]}
        record(event=Event.DUPLICATES_SEARCHED, actor=actor, target=report, data=data, ip=ip)
    return candidates


def _ranked(
    report: Report, mine: _Text, pool: list[tuple[_PoolRow, _Text]], *, limit: int
) -> list[Candidate]:
    """The best ``limit`` pool reports at or above MIN_SCORE, best first, with their reasons."""
    # IDF over the pool and the report itself, for the report's own terms: a term most reports
    # use says little, one only two reports use says a lot.
    frequency: Counter[str] = Counter()
    for _, text in pool:
        frequency.update(text.terms & mine.terms)
    size = len(pool) + 1
    idf = {term: math.log((size + 1) / (frequency[term] + 1)) + 1 for term in mine.terms}
    total_weight = sum(idf.values()) or 1.0
    my_endpoints = len(set(mine.endpoints.values())) or 1

    def quick(item: tuple[_PoolRow, _Text]) -> float:
        """The score without the body similarity, the one part that is slow to compute."""
        row, text = item
        shared_endpoints = _shared_endpoints(mine, text)
        return (
            W_TITLE * _similarity(mine.title_key, text.title_key, TITLE_FLOOR)
            + W_TERMS * sum(idf[term] for term in mine.terms & text.terms) / total_weight
            + W_ENDPOINTS * min(1.0, len(shared_endpoints) / my_endpoints)
            + W_ASSET * (report.asset_id is not None and row.asset_id == report.asset_id)
            + W_CWE * (report.cwe_id is not None and row.cwe_id == report.cwe_id)
        )

    # Exact top-k with less work: the body can add at most W_BODY, so once the best report left
    # could not beat the k-th best score (or MIN_SCORE) even with identical bodies, stop.
    ordered = sorted(((quick(item), index) for index, item in enumerate(pool)), reverse=True)
    best: list[tuple[float, int]] = []  # a min-heap of (score, pool index)
    for partial, index in ordered:
        bar = max(MIN_SCORE, best[0][0] if len(best) == limit else 0.0)
        if partial + W_BODY < bar:
            break
        text = pool[index][1]
        total = partial + W_BODY * _similarity(mine.body_key, text.body_key, BODY_FLOOR)
        if total < bar:
            continue
        if len(best) == limit:
            heapq.heapreplace(best, (total, index))
        else:
            heapq.heappush(best, (total, index))
    best.sort(key=lambda entry: (-entry[0], entry[1]))
    reports = Report.objects.in_bulk([pool[index][0].pk for _, index in best])
    return [
        _candidate(report, reports[pool[index][0].pk], pool[index][1], mine, idf, value)
        for value, index in best
    ]


def _similarity(mine: str, other: str, floor: int) -> float:
    """rapidfuzz's token-set ratio, rescaled so ``floor`` (what unrelated texts score) counts as 0."""
    if not mine or not other:
        return 0.0
    ratio = fuzz.token_set_ratio(mine, other, score_cutoff=floor)
    return max(0.0, (ratio - floor) / (100 - floor))


def _candidate(
    report: Report, other: Report, text: _Text, mine: _Text, idf: dict[str, float], value: float
) -> Candidate:
    shared = mine.terms & text.terms
    endpoints = _shared_endpoints(mine, text)
    return Candidate(
        report=other,
        score=round(value),
        title=text.title,
        title_similarity=round(fuzz.token_set_ratio(mine.title_key, text.title_key)),
        body_similarity=round(fuzz.token_set_ratio(mine.body_key, text.body_key)),
        # The rarest shared terms say most about why; ties alphabetically, so the list is stable.
        shared_terms=tuple(sorted(shared, key=lambda term: (-idf[term], term))[:SHOWN_TERMS]),
        shared_endpoints=_most_specific(endpoints)[:SHOWN_ENDPOINTS],
        same_asset=report.asset_id is not None and other.asset_id == report.asset_id,
        same_cwe=report.cwe_id is not None and other.cwe_id == report.cwe_id,
        came_first=(other.received_at, other.pk) < (report.received_at, report.pk),
    )


def _shared_endpoints(mine: _Text, other: _Text) -> set[str]:
    """The endpoints both mention, each as the more specific report wrote it (with its host, say)."""
    shared = mine.endpoints.keys() & other.endpoints.keys()
    return {max(mine.endpoints[form], other.endpoints[form], key=len) for form in shared}


def _most_specific(endpoints: set[str]) -> tuple[str, ...]:
    """``endpoints`` without those another one already spells out (a path shown with its host)."""
    kept = [e for e in endpoints if not any(o != e and o.endswith(e) for o in endpoints)]
    return tuple(sorted(kept, key=lambda e: (-len(e), e)))
