"""Duplicate suggestion over 5,000 open candidates, against the floor any in-memory search pays.

Usage: ``.venv/bin/python benchmarks/duplicates.py [--reports 5000] [--runs 7] [--families 500]``

It builds a throw-away Bastion (SQLite, its own data dir and master key), then stores ``--reports``
open reports on one asset, sealed as usual (a data key per report wrapped by the master key, title
and content sealed with their AAD), plus noise the pool must leave out: 10 % on another asset and
10 % closed long ago. The bulk path skips what a search never reads (receipt signature, timeline,
audit row, clocks), so 5,000 reports take seconds, not minutes. The texts come in ``--families``
groups that describe the same issue in different words, like reporters do.

Measured side by side in the same run, each ``--runs`` times (p50 and p95):

- **pool query**: loading the pool's rows as model instances (no decryption);
- **decrypt only**: the pool query, plus unwrapping every data key (``data_key_plain()``) and
  opening every title and content: the plain way to read the pool, before any comparison;
- **rapidfuzz only**: rapidfuzz's ``process.extract`` over the same texts, already decrypted:
  the raw library throughput;
- **find_duplicate_candidates**: the service end to end (pool, decryption, scoring, audit row).

It also prints how well the planted duplicates rank (how many of a report's family the top 10
holds, and how many of the top 10 are not of its family). Not a test: it asserts nothing about time,
and it stops by itself (bounded reports and runs). Goal (issue 6): suggestion < 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_WORD_TEXT = (
    "account admin api attacker auth authorization bypass cache callback cookie cors csrf "
    "database debug delete deserialization download email endpoint error export file filter "
    "graphql header host html idor image import inject injection invoice javascript json jwt "
    "ldap leak link log login logout markdown message metadata oauth password path payload "
    "permission preview profile proxy query redirect referer render request reset response "
    "role sandbox script search secret server session signature sql ssrf storage template "
    "tenant token traversal upload user validation webhook xml xss xxe"
)
WORDS = _WORD_TEXT.split()
_FILLER_TEXT = (
    "the a an when then while which this that with from into after before because so it is was "
    "can could would should may might also not only just very some any each every other"
)
FILLER = _FILLER_TEXT.split()
HOSTS = ["app.example.com", "api.example.com", "admin.example.com", "example.com"]


def family_spec(rng: random.Random, n: int) -> dict[str, object]:
    """What one issue is about: its words, a rare term of its own, an endpoint, a CWE."""
    segments = rng.sample(WORDS, 3)
    return {
        "topic": rng.sample(WORDS, 6),
        "rare": f"{rng.choice(WORDS)}{n:04d}x",  # a function or parameter name only this issue has
        "path": "/" + "/".join(["api", f"v{rng.randint(1, 3)}", *segments]),
        "host": rng.choice(HOSTS),
        "cwe": rng.choice([22, 79, 89, 200, 284, 352, 502, 611, 639, 918]),
    }


def report_text(rng: random.Random, spec: dict[str, object]) -> tuple[str, str]:
    """A title and description for the issue ``spec``, in one reporter's own words."""
    topic = list(spec["topic"])  # type: ignore[call-overload]
    rng.shuffle(topic)
    title = " ".join(rng.sample(topic, 3) + rng.sample(WORDS, 1)).capitalize()
    sentences = []
    for _ in range(rng.randint(6, 14)):
        words = rng.sample(topic, 2) + rng.sample(WORDS, 4) + rng.sample(FILLER, 5)
        rng.shuffle(words)
        sentences.append(" ".join(words).capitalize() + ".")
    if rng.random() < 0.8:
        url = f"https://{spec['host']}{spec['path']}" if rng.random() < 0.5 else f"GET {spec['path']}"
        sentences.insert(rng.randint(0, len(sentences)), f"Request: {url}?id={rng.randint(1, 999)}")
    if rng.random() < 0.7:
        sentences.append(f"The bug is in {spec['rare']}().")
    return title, " ".join(sentences)


def setup_django(data_dir: Path) -> None:
    os.environ["BASTION_DATA_DIR"] = str(data_dir)
    os.environ["BASTION_TASKS_BACKEND"] = "immediate"
    os.environ["BASTION_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bastion.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def generate(args: argparse.Namespace) -> tuple[list[int], dict[int, int]]:
    """Store the reports; the ids of the asset's open ones and each report's family."""
    from django.db import transaction
    from django.utils import timezone

    from bastion.reports import receipts
    from bastion.reports.models import Asset, Channel, Program, Report, Reporter
    from bastion.reports.sealing import seal_field
    from bastion.reports.workflow import Status
    from bastion.vault.keys import get_key_provider
    from bastion.vault.models import DataKey
    from bastion.vault.services import prepare_data_key

    rng = random.Random(6)  # noqa: S311  (a repeatable corpus, not a secret)
    program = Program.objects.default()
    asset = Asset.objects.create(name="Web app", program=program)
    other = Asset.objects.create(name="Mobile app", program=program)
    specs = [family_spec(rng, n) for n in range(args.families)]
    provider = get_key_provider()
    now = timezone.now()
    total = args.reports + args.reports // 5
    families: dict[int, int] = {}
    rows: list[tuple[DataKey, Reporter, Report, int]] = []
    for n in range(total):
        family = rng.randrange(args.families)
        spec = specs[family]
        title, description = report_text(rng, spec)
        uid = uuid.uuid4()
        data_key, key = prepare_data_key(subject=f"report:{uid}", provider=provider)
        reporter = Reporter(uid=uuid.uuid4())
        reporter.handle = seal_field(reporter, "handle", f"reporter{n}", key=key)
        noise = n >= args.reports
        closed_long_ago = noise and n % 2 == 0
        report = Report(
            uid=uid,
            tracking_id=f"BST-{n:010d}",
            channel=Channel.WEB,
            data_key=data_key,
            reporter=reporter,
            policy_version=1,
            received_at=now - timedelta(minutes=total - n) - timedelta(days=200 if closed_long_ago else 0),
            submission_sha256="0" * 64,
            asset=other if noise and not closed_long_ago else asset,
            cwe_id=int(spec["cwe"]),  # type: ignore[call-overload]
            status=Status.RESOLVED if closed_long_ago else rng.choice([Status.NEW, Status.TRIAGED]),
            closed_at=now - timedelta(days=150) if closed_long_ago else None,
        )
        report.title = seal_field(report, "title", title, key=key)
        content = receipts.content_json(
            description=description, product="Example", version="1.0", steps="", impact=""
        )
        report.content = seal_field(report, "content", content, key=key)
        rows.append((data_key, reporter, report, family))
    with transaction.atomic():
        DataKey.objects.bulk_create([row[0] for row in rows], batch_size=500)
        Reporter.objects.bulk_create([row[1] for row in rows], batch_size=500)
        Report.objects.bulk_create([row[2] for row in rows], batch_size=500)
    for _, _, report, family in rows:
        families[report.pk] = family
    ids = [r.pk for _, _, r, _ in rows if r.asset_id == asset.pk and r.closed_at is None]
    return ids, families


def timed(fn: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds of each of ``runs`` calls (CPU time barely moves with the load)."""
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--families", type=int, default=500)
    parser.add_argument("--quality-queries", type=int, default=50)
    args = parser.parse_args()
    args.runs = max(1, min(args.runs, 50))
    work = Path(tempfile.mkdtemp(prefix="bastion-bench-duplicates-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    setup_django(work / "data")
    from rapidfuzz import fuzz, process
    from rapidfuzz.utils import default_process

    from bastion.accounts.models import Role, User
    from bastion.reports.models import Report
    from bastion.reports.sealing import open_field
    from bastion.reports.services.duplicates import POOL_LIMIT, duplicate_pool, find_duplicate_candidates

    started = time.perf_counter()
    ids, families = generate(args)
    print(f"stored {len(families):,} sealed reports in {time.perf_counter() - started:.1f} s")
    alice = User.objects.create_user("alice@bench.example", role=Role.TRIAGER)
    rng = random.Random(7)  # noqa: S311  (a repeatable sample, not a secret)
    query = Report.objects.select_related("data_key").get(pk=ids[len(ids) // 2])

    def pool_query() -> list[Report]:
        return list(duplicate_pool(query).select_related("data_key")[:POOL_LIMIT])

    def decrypt_only() -> list[str]:
        texts = []
        for other in pool_query():
            key = other.data_key_plain()
            texts.append(f"{open_field(other, 'title', key=key)} {open_field(other, 'content', key=key)}")
        return texts

    texts = [default_process(t) for t in decrypt_only()]
    mine = texts[0]

    def rapidfuzz_only() -> object:
        return process.extract(mine, texts, scorer=fuzz.token_set_ratio, limit=10)

    rows = []
    for name, fn in [
        ("pool query", pool_query),
        ("decrypt only", decrypt_only),
        ("rapidfuzz only", rapidfuzz_only),
        ("find_duplicate_candidates", lambda: find_duplicate_candidates(report=query, actor=alice)),
    ]:
        wall, cpu = timed(fn, args.runs)
        rows.append((name, wall, cpu))
    pool = len(pool_query())
    service = statistics.median(rows[-1][1])
    print(f"\npool: {pool:,} reports (of {len(families):,} stored); {args.runs} runs each\n")
    print(f"{'step':<28} {'p50 ms':>9} {'p95 ms':>9} {'CPU p50 ms':>11} {'x service':>10}")
    for name, wall, cpu in rows:
        ordered = sorted(wall)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
        print(
            f"{name:<28} {statistics.median(wall) * 1000:>9.1f} {p95 * 1000:>9.1f} "
            f"{statistics.median(cpu) * 1000:>11.1f} {statistics.median(wall) / service:>10.2f}"
        )
    quality(args, ids, families, alice, rng)
    print(f"\nload average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def quality(args, ids, families, alice, rng) -> None:  # type: ignore[no-untyped-def]
    """How the planted duplicates rank: family members found in the top 10, and strangers in it."""
    from bastion.reports.models import Report
    from bastion.reports.services.duplicates import find_duplicate_candidates

    found = possible = strangers = shown = 0
    for pk in rng.sample(ids, min(args.quality_queries, len(ids))):
        query = Report.objects.select_related("data_key").get(pk=pk)
        family = families[pk]
        siblings = sum(1 for other in ids if other != pk and families[other] == family)
        candidates = find_duplicate_candidates(report=query, actor=alice)
        hits = sum(1 for c in candidates if families[c.report.pk] == family)
        found += hits
        possible += min(10, siblings)
        strangers += len(candidates) - hits
        shown += len(candidates)
    print(
        f"\nquality over {args.quality_queries} queries: {found}/{possible} family members in the top 10 "
        f"({found / max(1, possible):.0%}); {strangers}/{shown} shown candidates not of the family"
    )


if __name__ == "__main__":
    main()
