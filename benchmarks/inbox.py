"""The inbox at a million reports: p50/p95 of each filter, the report page and duplicate suggestion.

Usage: ``.venv/bin/python benchmarks/inbox.py [--reports 1000000] [--requests 30] [--rebuild]``

It builds a throw-away SQLite instance under ``var/bench/inbox-<reports>-<seed>/`` (its own data
directory, so its own master key and secret), holding ``--reports`` synthetic reports sealed as
usual: each has its own data key wrapped by the master key, and a sealed title, content and
reporter (``bastion.vault`` and ``bastion.reports.sealing`` functions, the submission's formats).
Status, severity, assignee, asset, channel, labels, CVSS/CWE and the clock columns vary the way a
real queue does (most old reports closed, the recent ones open, some overdue or breached). Rows go
in with ``executemany`` in batches; the built instance is kept and reused while its parameters
(and the schema) match, so only the first run pays for it (about 2 minutes per million).

Then it measures, each ``--requests`` times, through the real views (``django.test.Client``,
signed in as a triager with MFA, in this process):

- the inbox list unfiltered, deep down (a cursor half-way through the table), and with each filter;
- the report page (an audited opening) of a report submitted through ``submit_report``;
- duplicate suggestion over 5,000 open candidates on one asset
  (``reports.services.duplicates.find_duplicate_candidates``, skipped with a note if absent).

The reference, measured in the same run, is the bare SQL of the same page: the statements the
view ran for that request, replayed through ``sqlite3`` with no Django around them. It prints a
table with p50, p95 and the ratio to the reference (goal: list/filter p95 < 150 ms on SQLite;
suggestion < 2 s). ``--plans`` also prints SQLite's query plan of each list's main statement.

Not a test: it asserts nothing about time, and it stops by itself (bounded requests).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCHEMA_VERSION = 1  # bump when the generated data changes shape, so cached instances are rebuilt
BATCH = 10_000
STAFF = 8
DUP_CANDIDATES = 5_000


def configure(data_dir: Path) -> None:
    """Point Bastion at the benchmark's own data directory, then start Django."""
    sys.path.insert(0, str(REPO))
    for name in [k for k in os.environ if k.startswith("BASTION_") or k == "DATABASE_URL"]:
        del os.environ[name]
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bastion.settings",
            "BASTION_DATA_DIR": str(data_dir),
            "BASTION_ALLOWED_HOSTS": "testserver,localhost",
            "BASTION_LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()


# --- What the synthetic queue looks like ----------------------------------------------------------

VULNS = [
    ("Stored XSS", 79),
    ("Reflected XSS", 79),
    ("SQL injection", 89),
    ("Path traversal", 22),
    ("CSRF", 352),
    ("SSRF", 918),
    ("Broken authentication", 287),
    ("IDOR", 639),
    ("Information disclosure", 200),
    ("Open redirect", 601),
    ("Unrestricted file upload", 434),
    ("Missing rate limit", 770),
]
PLACES = [
    "profile page", "invoice export", "password reset", "search endpoint", "admin dashboard",
    "file preview", "OAuth callback", "billing API", "team invitations", "webhook settings",
    "support chat", "mobile login", "GraphQL gateway", "report download", "avatar upload",
]  # fmt: skip
ENDPOINTS = ["/api/v2/users", "/export", "/reset", "/search", "/admin", "/preview", "/oauth/callback",
             "/billing/invoices", "/teams/invite", "/hooks", "/chat", "/m/login", "/graphql",
             "/files"]  # fmt: skip
LABELS = ["needs-poc", "payments", "auth", "mobile", "api", "regression", "customer-impact", "pii",
          "third-party", "infra", "low-hanging", "hall-of-fame", "legacy", "sso", "disclosed"]  # fmt: skip
VECTORS = {
    "low": ("CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N", "2.6"),
    "medium": ("CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:U/C:L/I:L/A:N", "4.6"),
    "high": ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:L/A:N", "8.2"),
    "critical": ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "10.0"),
    "none": ("CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", "0.0"),
}
OPEN = ["new", "needs_more_info", "triaged", "retesting"]
CLOSED = ["resolved", "informative", "duplicate", "not_applicable", "spam"]
CLOSED_WEIGHTS = [35, 20, 15, 15, 15]


@dataclass(frozen=True)
class Params:
    """What an instance was built from; a cached instance is reused only when these match."""

    reports: int
    seed: int
    schema: int = SCHEMA_VERSION

    def slug(self) -> str:
        return f"inbox-{self.reports}-{self.seed}"


class CachedKeys:
    """The instance's key provider with its master keys read once (the file provider reads per call)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.version = inner.current_version()
        self.keys: dict[int, bytes] = {}

    def current_version(self) -> int:
        return int(self.version)

    def master_key(self, version: int) -> bytes:
        if version not in self.keys:
            self.keys[version] = self.inner.master_key(version)
        return self.keys[version]

    def versions(self) -> list[int]:
        return list(self.inner.versions())


class Table:
    """INSERT rows into one model's table, every column not given taking the field's default."""

    def __init__(self, model: Any, connection: Any) -> None:
        from django.db.models import AutoField, BigAutoField

        fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoField | BigAutoField)]
        self.explicit_id = any(isinstance(f, AutoField | BigAutoField) for f in model._meta.concrete_fields)
        self.names = (["id"] if self.explicit_id else []) + [f.attname for f in fields]
        columns = (["id"] if self.explicit_id else []) + [f.column for f in fields]
        defaults = {}
        for f in fields:
            value = f.get_default()
            defaults[f.attname] = f.get_db_prep_save(value, connection) if value is not None else None
        self.defaults = defaults
        quoted = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        # Names from the model's own metadata, values as parameters: nothing here comes from input.
        self.sql = f'INSERT INTO "{model._meta.db_table}" ({quoted}) VALUES ({marks})'  # noqa: S608

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] if name in values else self.defaults.get(name) for name in self.names)


def when(value: datetime) -> str:
    """A datetime as Django stores it in SQLite (naive UTC, ``str()``)."""
    return str(value.astimezone(UTC).replace(tzinfo=None))


def build(params: Params, data_dir: Path) -> None:
    """Fill the instance's database with ``params.reports`` sealed synthetic reports."""
    from allauth.mfa.totp.internal.auth import TOTP
    from django.core.management import call_command
    from django.db import connection

    from bastion.accounts.models import Role, User
    from bastion.reports import identifiers, receipts
    from bastion.reports.models import Asset, Label, Program, Report, Reporter
    from bastion.vault.envelope import new_data_key, wrap_data_key
    from bastion.vault.keys import get_key_provider
    from bastion.vault.models import DataKey
    from bastion.vault.sealing import seal_text

    call_command("migrate", verbosity=0)
    rng = random.Random(params.seed)  # noqa: S311  (synthetic data, reproducible by seed: not crypto)
    now = datetime.now(UTC)
    print(f"building {params.reports:,} reports in {data_dir} (once; later runs reuse it)", flush=True)

    staff = []
    for n in range(STAFF + 1):
        role = Role.ADMIN if n == STAFF else Role.TRIAGER
        # No password (unusable): the benchmark signs in with force_login, and Argon2 is slow on purpose.
        user = User.objects.create_user(
            f"triager{n}@bench.example", None, full_name=f"Triager {n}", role=role
        )
        TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        staff.append(user.pk)
    program = Program.objects.default()
    assets = [Asset.objects.create(name=f"app{n}.example.com", program=program).pk for n in range(40)]
    labels = [Label.objects.create(name=name).pk for name in LABELS]
    asset_weights = [1 / (n + 1) for n in range(len(assets))]
    label_weights = [1 / (n + 1) for n in range(len(labels))]

    provider = CachedKeys(get_key_provider())
    version = provider.current_version()
    reports_t, reporters_t, keys_t = (
        Table(Report, connection),
        Table(Reporter, connection),
        Table(DataKey, connection),
    )
    through = Report.labels.through
    labels_sql = f'INSERT INTO "{through._meta.db_table}" (report_id, label_id) VALUES (?, ?)'  # noqa: S608
    tracking: set[str] = set()
    span = timedelta(days=5 * 365)
    start = now - span
    recent = now - timedelta(days=30)
    dup_left = DUP_CANDIDATES
    connection.ensure_connection()
    raw = connection.connection
    # The build is throw-away: no fsync per batch (the measured runs keep Bastion's settings).
    raw.execute("PRAGMA synchronous=OFF")
    began = time.monotonic()
    for first in range(0, params.reports, BATCH):
        keys, reporters, reports, report_labels = [], [], [], []
        for i in range(first, min(first + BATCH, params.reports)):
            pk = i + 1
            received = start + span * (i / params.reports) + timedelta(seconds=rng.random())
            # Every 97th report shares its neighbour's second-precision time: ties the cursor must break.
            if i % 97 == 0:
                received = received.replace(microsecond=0)
            is_recent = received >= recent
            if rng.random() < (0.7 if is_recent else 0.01):
                status = rng.choices(OPEN, [45, 10, 38, 7])[0]
            else:
                status = rng.choices(CLOSED, CLOSED_WEIGHTS)[0]
            is_open = status in OPEN
            asset = rng.choices(assets, asset_weights)[0] if rng.random() < 0.8 else None
            if is_open and dup_left > 0 and rng.random() < 0.5:
                asset, dup_left = assets[0], dup_left - 1
            elif asset == assets[0] and is_open:
                asset = assets[1]
            unrated = status in ("new", "spam") and rng.random() < 0.7
            severity = "" if unrated else rng.choices(list(VECTORS), [30, 35, 20, 10, 5])[0]
            assignee = None if status == "new" and rng.random() < 0.5 else rng.choice(staff)
            if status == "spam":
                assignee = None
            vuln, cwe = rng.choice(VULNS)
            place, endpoint = rng.choice(PLACES), rng.choice(ENDPOINTS)
            title = f"{vuln} in the {place}"
            content = receipts.content_json(
                description=(
                    f"The {place} at https://app.example.com{endpoint}?id={rng.randrange(10**6)} is "
                    f"vulnerable to {vuln.lower()}. " + "Observed while testing the tenant boundary. " * 6
                ),
                product=f"app{rng.randrange(40)}",
                version=f"2026.{rng.randrange(1, 12)}",
                steps=f"1. Sign in\n2. Open {endpoint}\n3. Change the id parameter\n",
                impact="An attacker reads or changes another customer's data.",
            )
            due = None
            breached = None
            if is_open and status != "needs_more_info":
                hours = 24 if status == "new" else (120 if severity in ("", "none", "low") else 72)
                due = received + timedelta(hours=hours + rng.randrange(0, 96))
                if due < now:
                    breached = due
            elif not is_open and rng.random() < 0.15:
                breached = received + timedelta(hours=24)
            uid = uuid.uuid4()
            subject = f"report:{uid}"
            plain = new_data_key()

            def sealed(text: str, field: str, uid: uuid.UUID = uid, plain: bytes = plain) -> bytes:
                return seal_text(text, key=plain, model_label="reports.Report", field=field, row_id=uid)

            key_id = uuid.uuid4()
            keys.append(
                keys_t.row(
                    {
                        "id": key_id.hex,
                        "subject": subject,
                        "wrapped": wrap_data_key(
                            plain, master_version=version, subject=subject, provider=provider
                        ),
                        "master_version": version,
                        "created_at": when(received),
                    }
                )
            )
            reporter_uid = uuid.uuid4()
            email = f"researcher{rng.randrange(50_000)}@mail.example"
            reporters.append(
                reporters_t.row(
                    {
                        "id": pk,
                        "uid": reporter_uid.hex,
                        "name": seal_text(f"Researcher {pk}", key=plain, model_label="reports.Reporter",
                                          field="name", row_id=reporter_uid),
                        "email": seal_text(email, key=plain, model_label="reports.Reporter", field="email",
                                           row_id=reporter_uid),
                        "email_digest": identifiers.email_digest(email),
                        "created_at": when(received),
                        "updated_at": when(received),
                    }
                )
            )  # fmt: skip
            tid = identifiers.new_tracking_id()
            while tid in tracking:
                tid = identifiers.new_tracking_id()
            tracking.add(tid)
            vector, score = VECTORS[severity] if severity and status not in ("new", "spam") else ("", None)
            closed_at = received + timedelta(days=rng.randrange(1, 60)) if not is_open else None
            reports.append(
                reports_t.row(
                    {
                        "id": pk,
                        "uid": uid.hex,
                        "tracking_id": tid,
                        "status": status,
                        "channel": rng.choices(["web", "email", "api"], [55, 35, 10])[0],
                        "data_key_id": key_id.hex,
                        "reporter_id": pk,
                        "title": sealed(title, "title"),
                        "content": sealed(content, "content"),
                        "policy_version": 1,
                        "received_at": when(received),
                        "submission_sha256": hashlib.sha256(tid.encode()).hexdigest(),
                        "portal_nonce": uuid.uuid4().hex,
                        "acknowledged_at": when(received),
                        "asset_id": asset,
                        "assignee_id": assignee,
                        "severity": severity,
                        "cvss_v3": vector,
                        "cvss_score": score,
                        "cwe_id": cwe if vector else None,
                        "next_due_at": when(due) if due else None,
                        "breached_at": when(breached) if breached else None,
                        "first_response_at": None if status == "new" else when(received + timedelta(hours=5)),
                        "triaged_at": when(received + timedelta(days=1)) if status in ("triaged", "retesting",
                                                                                      "resolved") else None,
                        "closed_at": when(closed_at) if closed_at else None,
                    }
                )
            )  # fmt: skip
            if rng.random() < 0.3:
                for label in set(rng.choices(labels, label_weights, k=rng.choice([1, 1, 1, 2]))):
                    report_labels.append((pk, label))
        raw.execute("BEGIN")
        raw.executemany(keys_t.sql, keys)
        raw.executemany(reporters_t.sql, reporters)
        raw.executemany(reports_t.sql, reports)
        raw.executemany(labels_sql, report_labels)
        raw.execute("COMMIT")
        done = min(first + BATCH, params.reports)
        if done % 100_000 == 0 or done == params.reports:
            rate = done / (time.monotonic() - began)
            print(f"  {done:>9,} reports ({rate:,.0f}/s)", flush=True)
    real_reports(count=20)
    call_command("migrate", verbosity=0)  # nothing to do; proves the schema is current


def real_reports(*, count: int) -> None:
    """A few reports submitted the real way (receipt, timeline, audit), for the report page."""
    from bastion.audit.services import Actor
    from bastion.reports.models import Channel
    from bastion.reports.services import Submission, submit_report

    for n in range(count):
        submission = Submission(
            title=f"Stored XSS in the profile page (real {n})",
            description="The display name is rendered without escaping.\n\n" + "Details. " * 60,
            product="app0",
            version="2026.11",
            steps="1. Set the display name to <script>\n2. Open the profile",
            impact="Session theft.",
            email=f"real{n}@mail.example",
        )
        submit_report(
            submission=submission,
            channel=Channel.WEB,
            policy_version=1,
            actor=Actor.anonymous(),
            acknowledge=False,
        )


def prepare(params: Params, root: Path, rebuild: bool) -> Path:
    """The instance's data directory, built now unless a finished one with the same params exists."""
    data_dir = root / params.slug()
    marker = data_dir / "built.json"
    wanted = json.dumps(params.__dict__, sort_keys=True)
    cached = marker.exists() and marker.read_text() == wanted and not rebuild
    if not cached and data_dir.exists():
        shutil.rmtree(data_dir)
    configure(data_dir)
    if cached:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"reusing {data_dir} ({params.reports:,} reports)", flush=True)
    else:
        build(params, data_dir)
        marker.write_text(wanted)
    return data_dir


# --- Measuring ------------------------------------------------------------------------------------


@dataclass
class Row:
    """One measured line of the table: the view's times, and its reference's."""

    name: str
    times: list[float]
    reference: list[float]
    shown: int | str = ""
    note: str = ""


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))] * 1000


def timed(call: Callable[[], Any], runs: int, warm: int = 2) -> tuple[list[float], Any]:
    result = None
    for _ in range(warm):
        result = call()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - began)
    return times, result


def replay(db_path: str, statements: Iterable[str], runs: int) -> list[float]:
    """The reference: the page's own SQL statements, run through sqlite3 with nothing around them."""
    bare = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    reads = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]

    def run() -> None:
        for sql in reads:
            bare.execute(sql).fetchall()

    times, _ = timed(run, runs)
    bare.close()
    return times


def print_plan(db_path: str, statements: Iterable[str]) -> None:
    bare = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    for sql in statements:
        if 'FROM "reports_report"' in sql and "LIMIT" in sql and "IN (" not in sql.split("WHERE", 1)[-1][:12]:
            plan = [row[3] for row in bare.execute("EXPLAIN QUERY PLAN " + sql)]
            print("      " + " | ".join(plan))
    bare.close()


def list_cases() -> list[tuple[str, dict[str, Any]]]:
    """Each inbox filter the benchmark measures, with the query parameters that make it."""
    from django.db.models import Count

    from bastion.reports.models import Asset, Label, Report
    from bastion.triage.keyset import NEWEST, Position

    Label.objects.get_or_create(name="unused")
    assets = list(Asset.objects.order_by("pk").values_list("pk", "name"))  # made busiest first
    popular, rare = assets[0], assets[-1]
    middle = Report.objects.order_by("-received_at", "-id").values_list("received_at", "id")
    count = Report.objects.order_by().values("id").last()
    half = (count or {"id": 2})["id"] // 2
    halfway = middle.filter(id__lte=half).first()
    cursor = Position(NEWEST, *halfway).encode() if halfway else ""
    # The content search needs the other filters to leave at most 500 reports: the open reports on
    # the asset with the most of them under that bound.
    counts = (
        Report.objects.filter(status__in=OPEN, asset__isnull=False)
        .values("asset")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    narrow = next((row for row in counts if row["n"] <= 500), None)
    tracking = Report.objects.order_by("id").values_list("tracking_id", flat=True).first() or "BST-00"
    cases: list[tuple[str, dict[str, Any]]] = [
        ("unfiltered, first page", {}),
        ("unfiltered, half-way down (cursor)", {"after": cursor}),
        ("status=new", {"status": "new"}),
        ("status=open (4 statuses)", {"status": "open"}),
        ("status=closed (5 statuses)", {"status": "closed"}),
        ("severity=critical", {"severity": "critical"}),
        ("severity=unrated", {"severity": "unrated"}),
        ("assignee=me", {"assignee": "me"}),
        ("assignee=unassigned", {"assignee": "unassigned"}),
        (f"asset={popular[1]} (most reports)", {"asset": str(popular[0])}),
        (f"asset={rare[1]} (fewest)", {"asset": str(rare[0])}),
        ("asset=none", {"asset": "none"}),
        ("channel=email", {"channel": "email"}),
        ("label=needs-poc (common)", {"label": "needs-poc"}),
        ("label=disclosed (rare)", {"label": "disclosed"}),
        ("label=unused (on no report)", {"label": "unused"}),
        ("clock=due_soon", {"clock": "due_soon"}),
        ("clock=overdue", {"clock": "overdue"}),
        ("clock=breached", {"clock": "breached"}),
        ("received in one month", {"received_after": "2024-03-01", "received_before": "2024-03-31"}),
        ("status=open & assignee=me", {"status": "open", "assignee": "me"}),
        ("status=open & severity=high,critical", {"status": "open", "severity": "high,critical"}),
        ("clock=overdue & assignee=me", {"clock": "overdue", "assignee": "me"}),
        (f"q={tracking[:6]} (tracking ID prefix)", {"q": tracking[:6]}),
        ("q=CWE-79", {"q": "CWE-79"}),
        ("q=CWE-601 (rarer)", {"q": "CWE-601"}),
        ("q=CWE-9999 (on no report)", {"q": "CWE-9999"}),
        ("q=AV:N/AC:H (CVSS part)", {"q": "AV:N/AC:H"}),
        ("q=payments (label name)", {"q": "payments"}),
        ("q=app7.example (asset name)", {"q": "app7.example"}),
    ]
    if narrow is not None:
        cases.append(
            (
                f"content search, {narrow['n']} open on one asset",
                {"status": "open", "asset": str(narrow["asset"]), "text": "tenant boundary"},
            )
        )
    return cases


def measure(runs: int, plans: bool) -> list[Row]:
    """Time each case through the real views, and its reference, side by side."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from bastion.accounts.models import User
    from bastion.reports.models import Report

    db_path = str(settings.DATABASES["default"]["NAME"])
    user = User.objects.get(email="triager0@bench.example")
    client = Client()
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    inbox = reverse("triage:inbox")
    rows: list[Row] = []
    for name, params in list_cases():
        text = params.pop("text", None)

        def request(params: dict[str, Any] = params, text: str | None = text, name: str = name) -> Any:
            if text is not None:
                response = client.post(
                    inbox + "?" + "&".join(f"{k}={v}" for k, v in params.items()), {"text": text}
                )
            else:
                response = client.get(inbox, params)
            assert response.status_code == 200, (name, response.status_code, response.content[-2000:])
            return response

        times, response = timed(request, runs)
        with CaptureQueriesContext(connection) as captured:
            request()
        statements = [query["sql"] for query in captured.captured_queries]
        shown = response.content.count(b'class="inbox-row"')
        rows.append(Row(name, times, replay(db_path, statements, runs), shown))
        print(f"  {name}: p95 {percentile(times, 0.95):.1f} ms", flush=True)
        if plans:
            print_plan(db_path, statements)

    real = list(Report.objects.filter(title__isnull=False, receipt__isnull=False).order_by("-id")[:20])
    cycle = iter(real * (runs + 5))

    def report_page() -> Any:
        response = client.get(reverse("triage:report", args=[next(cycle).tracking_id]))
        assert response.status_code == 200
        return response

    times, _ = timed(report_page, runs)
    with CaptureQueriesContext(connection) as captured:
        report_page()
    statements = [query["sql"] for query in captured.captured_queries]
    rows.append(Row("report page (audited opening)", times, replay(db_path, statements, runs), 1))
    print(f"  report page: p95 {percentile(times, 0.95):.1f} ms", flush=True)
    rows.append(duplicates(user, max(3, runs // 6)))
    return rows


def duplicates(user: Any, runs: int) -> Row:
    """Duplicate suggestion for a report on the asset with 5,000 open reports."""
    from bastion.reports.models import Asset, Report
    from bastion.reports.services.duplicates import duplicate_pool, find_duplicate_candidates

    name = f"duplicate suggestion ({DUP_CANDIDATES:,} open candidates)"
    asset = Asset.objects.order_by("pk").first()
    report = (
        Report.objects.filter(asset=asset, status="new").select_related("data_key").order_by("-id").first()
    )
    if report is None:
        return Row(name, [], [], note="skipped: no open report on the busiest asset")
    pool = duplicate_pool(report).count()

    def suggest() -> Any:
        return find_duplicate_candidates(report=report, actor=user)

    times, found = timed(suggest, runs, warm=1)
    # Reference: the pool's rows alone, loaded and decrypted (the floor of any in-memory search).
    from bastion.reports.sealing import open_field

    def decrypt_only() -> None:
        for row in duplicate_pool(report).select_related("data_key")[:DUP_CANDIDATES]:
            key = row.data_key_plain()
            open_field(row, "title", key=key)
            open_field(row, "content", key=key)

    reference, _ = timed(decrypt_only, runs, warm=1)
    return Row(name, times, reference, len(found), note=f"pool of {pool:,}")


def print_table(rows: list[Row], params: Params) -> None:
    print()
    print(f"Inbox benchmark: {params.reports:,} reports, SQLite, p50/p95 over each row's requests")
    print()
    print("| measured | p50 ms | p95 ms | reference p50 ms | x reference | rows shown |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        if not row.times:
            print(f"| {row.name} | - | - | - | - | {row.note} |")
            continue
        p50, p95 = percentile(row.times, 0.5), percentile(row.times, 0.95)
        ref = percentile(row.reference, 0.5) if row.reference else float("nan")
        ratio = p50 / ref if row.reference and ref else float("nan")
        shown = f"{row.shown}" + (f" ({row.note})" if row.note else "")
        print(f"| {row.name} | {p50:.1f} | {p95:.1f} | {ref:.2f} | {ratio:.1f} | {shown} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reports", type=int, default=1_000_000, help="synthetic reports (default 1,000,000)"
    )
    parser.add_argument("--requests", type=int, default=30, help="requests measured per row (default 30)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--dir", type=Path, default=REPO / "var" / "bench", help="where instances are kept")
    parser.add_argument("--rebuild", action="store_true", help="build the instance again even if cached")
    parser.add_argument("--plans", action="store_true", help="print each list's SQLite query plan")
    parser.add_argument(
        "--build-only", action="store_true", help="build (or check) the instance, measure nothing"
    )
    args = parser.parse_args(argv)
    params = Params(reports=args.reports, seed=args.seed)
    prepare(params, args.dir, args.rebuild)
    if args.build_only:
        return 0
    rows = measure(args.requests, args.plans)
    print_table(rows, params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
