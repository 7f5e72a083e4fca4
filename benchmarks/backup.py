"""Backup, restore and key rotation at 100,000 reports and 2 GiB of attachments, against sqlite3 + tar + gpg.

Usage: ``.venv/bin/python benchmarks/backup.py [--reports 100000] [--gib 2] [--runs 3] [--rebuild]
[--skip-bastion] [--skip-rotate] [--profile]``

It builds a throw-away SQLite instance under ``var/bench/backup-<reports>-<gib>/`` with inbox.py's
builder (``--reports`` sealed synthetic reports, each with its own data key), then adds ``--gib`` of
attachments: real Attachment rows on random reports whose blobs are real sealed streams
(``SealedStream`` under the report's data key and the attachment's ``stream_aad``, written through the
blob storage, as intake's ``seal_files`` does), random bytes in a realistic mix of sizes (most 4 KiB to
256 KiB, some up to 4 MiB, a few up to 64 MiB). The instance is cached while its parameters match.

Then it measures, ``--runs`` times each, in the same run and on the same data:

1. ``bastion backup`` to one directory destination, against the reference:
   ``sqlite3 DB ".backup X"`` then ``tar -c X files/ | gpg --encrypt -z 0`` to the same two recipient
   keys (the operator's key and the drill key Bastion adds);
2. ``bastion restore ARCHIVE --force`` into a fresh data dir (same master key, copied), against
   ``gpg --decrypt | tar -x`` plus copying the database file into place;
3. ``bastion keys rotate`` over every data key, on a copy of the database and keys (the cached
   instance keeps its keys): wall time and keys/s.

Wall time of each command as an operator runs it (Python start included), and the peak RSS of each
process in it (``VmHWM`` from ``/proc``, polled). Goals (issue 8): backup at most 1.25x the reference,
restore at most 1.5x, memory flat (the same peak RSS whatever the data size). ``--profile`` also runs
backup and restore once under cProfile and prints where the time goes.

Not a test: it asserts nothing about time, and it stops by itself (bounded runs).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pstats
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import inbox

REPO = inbox.REPO
SCHEMA_VERSION = 1  # bump when the generated attachments change shape, so cached instances are rebuilt
KIB, MIB = 1024, 1024 * 1024
# (share of files, smallest, largest): most attachments are screenshots and logs, a few are videos.
SIZE_BANDS = [(0.70, 4 * KIB, 256 * KIB), (0.25, 256 * KIB, 4 * MIB), (0.05, 4 * MIB, 64 * MIB)]
ROW_BATCH = 200
POLL_SECONDS = 0.1  # a /proc walk costs ~4 ms of CPU: faster polling would load the 2 cores measured
GOALS = {"backup": 1.25, "restore": 1.5}
OPERATOR = "Bench operator <operator@bench.example>"


@dataclass(frozen=True)
class Params:
    """What an instance was built from; a cached instance is reused only when these match."""

    reports: int
    gib: float
    seed: int
    schema: int = SCHEMA_VERSION

    def slug(self) -> str:
        return f"backup-{self.reports}-{self.gib:g}"


@dataclass
class Instance:
    """Where a built instance lives: its data dir, its bench keys, and scratch space for the runs."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def keys(self) -> Path:
        """The master key dir (Bastion's default, inside the data dir; never in an archive)."""
        return self.data / "keys"

    @property
    def database(self) -> Path:
        return self.data / "bastion.sqlite3"

    @property
    def bench_keys(self) -> Path:
        return self.root / "bench-keys"

    @property
    def scratch(self) -> Path:
        return self.root / "scratch"


# --- Building --------------------------------------------------------------------------------------


def attachment_sizes(total: int, rng: random.Random) -> list[int]:
    """Sizes summing to ``total``: log-uniform within each band of SIZE_BANDS, bands drawn by share."""
    sizes: list[int] = []
    left = total
    while left > 0:
        pick, low, high = rng.random(), SIZE_BANDS[-1][1], SIZE_BANDS[-1][2]
        for share, band_low, band_high in SIZE_BANDS:
            if pick < share:
                low, high = band_low, band_high
                break
            pick -= share
        size = min(left, int(math.exp(rng.uniform(math.log(low), math.log(high)))))
        sizes.append(size)
        left -= size
    return sizes


class RandomFile:
    """A readable of ``size`` random bytes, made as read (constant memory, like an upload)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, size: int = -1, /) -> bytes:
        count = self.left if size < 0 else min(size, self.left)
        self.left -= count
        return os.urandom(count)


def add_attachments(params: Params) -> tuple[int, int]:
    """Seal ``params.gib`` GiB of random files onto random reports; (files, plaintext bytes)."""
    from django.db import transaction

    from bastion.reports.models import Attachment, Report
    from bastion.reports.sealing import seal_json, stream_aad
    from bastion.vault.storage import get_blob_storage, new_blob_name
    from bastion.vault.streams import SealedStream

    rng = random.Random(params.seed)  # noqa: S311  (synthetic data, reproducible by seed: not crypto)
    sizes = attachment_sizes(int(params.gib * 1024**3), rng)
    report_ids = list(Report.objects.values_list("id", flat=True))
    storage = get_blob_storage()
    print(f"sealing {len(sizes):,} attachments ({sum(sizes) / MIB:,.0f} MiB)", flush=True)
    began, done, rows = time.monotonic(), 0, []
    for number, size in enumerate(sizes, 1):
        report = Report.objects.select_related("data_key").get(pk=rng.choice(report_ids))
        key = report.data_key_plain()
        attachment = Attachment(uid=uuid.uuid4(), blob_name=new_blob_name(), report=report)
        sealed = SealedStream(RandomFile(size), key=key, aad=stream_aad(attachment, "blob"))
        storage.write(attachment.blob_name, sealed)
        attachment.size, attachment.sha256 = sealed.digest.size, sealed.digest.sha256
        kind = rng.choice(
            [("screenshot.png", "image/png"), ("poc.txt", "text/plain"), ("capture.mp4", "video/mp4")]
        )
        attachment.meta = seal_json(
            attachment, "meta", {"filename": kind[0], "content_type": kind[1]}, key=key
        )
        rows.append(attachment)
        done += size
        if len(rows) == ROW_BATCH or number == len(sizes):
            with transaction.atomic():
                Attachment.objects.bulk_create(rows)
            rows = []
            rate = done / MIB / (time.monotonic() - began)
            print(f"  {number:>6,} files, {done / MIB:>8,.0f} MiB ({rate:,.0f} MiB/s)", flush=True)
    return len(sizes), sum(sizes)


def gpg(home: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run gpg in ``home`` (a private throw-away home); its stdout."""
    result = subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--quiet", *args],
        input=stdin,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"gpg {' '.join(args[:2])} failed: {result.stderr.decode(errors='replace')[-500:]}"
        )
    return result.stdout


@contextmanager
def gpg_home() -> Iterator[Path]:
    """A private gpg home in the temp dir (short, for the agent's socket path); its agent stopped at exit."""
    home = Path(tempfile.mkdtemp(prefix="bench-gpg-"))
    try:
        yield home
    finally:
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, capture_output=True
        )
        shutil.rmtree(home, ignore_errors=True)


def make_operator_key(into: Path) -> None:
    """The operator's backup key (Curve25519, `gpg --quick-gen-key`), public and secret, armored."""
    into.mkdir(mode=0o700, parents=True, exist_ok=True)
    with gpg_home() as home:
        secret = ["--pinentry-mode", "loopback", "--passphrase", ""]
        gpg(home, *secret, "--quick-gen-key", OPERATOR, "future-default", "default", "never")
        (into / "operator.pub.asc").write_bytes(gpg(home, "--armor", "--export", OPERATOR))
        (into / "operator.sec.asc").write_bytes(
            gpg(home, *secret, "--armor", "--export-secret-keys", OPERATOR)
        )


def prepare(params: Params, root: Path, rebuild: bool) -> Instance:
    """The instance, built now unless a finished one with the same params exists."""
    instance = Instance(root / params.slug())
    marker = instance.root / "built.json"
    wanted = json.dumps(params.__dict__, sort_keys=True)
    cached = marker.exists() and marker.read_text() == wanted and not rebuild
    if not cached and instance.root.exists():
        shutil.rmtree(instance.root)
    instance.root.mkdir(parents=True, exist_ok=True)
    inbox.configure(instance.data)
    if cached:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print(f"reusing {instance.root} ({params.reports:,} reports, {params.gib:g} GiB)", flush=True)
        return instance
    began = time.monotonic()
    inbox.build(inbox.Params(reports=params.reports, seed=params.seed), instance.data)
    add_attachments(params)
    make_operator_key(instance.bench_keys)
    marker.write_text(wanted)
    print(f"built in {time.monotonic() - began:,.0f} s", flush=True)
    return instance


def second_recipient(instance: Instance) -> Path:
    """The reference's second recipient: Bastion's own drill key (the same two recipients as Bastion's)."""
    path = instance.bench_keys / "drill.pub.asc"
    try:
        from bastion.vault.backup.recipients import drill_key
    except ImportError:  # not landed yet: a second gpg key of the same kind is as fair
        if not path.exists():
            with gpg_home() as home:
                who = "Bench second <second@bench.example>"
                gpg(home, "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", who,
                    "future-default", "default", "never")  # fmt: skip
                path.write_bytes(gpg(home, "--armor", "--export", who))
        return path
    path.write_text(drill_key().public.armored_public())
    return path


# --- Measuring -------------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc (ppid is the 2nd field after the command's closing paren)."""
    found: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        found.setdefault(ppid, []).append(int(entry.name))
    return found


def _peak_kib(pid: int) -> tuple[str, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    name, peak = "", 0
    for line in status.splitlines():
        if line.startswith("Name:"):
            name = line.split(None, 1)[1]
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1])
    return name, peak


class PeakWatcher:
    """Polls the peak RSS (VmHWM) of a process and all its descendants until it exits.

    Per process name (python, gpg, tar...), the largest peak seen. VmHWM is a high-water mark, so a
    poll any time before a process exits sees its peak so far.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            tree, todo = _children(), [self.pid]
            while todo:
                pid = todo.pop()
                todo.extend(tree.get(pid, []))
                seen = _peak_kib(pid)
                if seen and seen[1]:
                    name = "python" if seen[0].startswith("python") else seen[0]
                    self.peaks[name] = max(self.peaks.get(name, 0), seen[1])
            self._stop.wait(POLL_SECONDS)

    def stop(self) -> dict[str, float]:
        """Stop polling; the peaks in MiB by process name."""
        self._stop.set()
        self._thread.join()
        return {name: kib / 1024 for name, kib in self.peaks.items()}


@dataclass
class Sample:
    """One timed command: wall seconds and peak RSS (MiB) per process name."""

    seconds: float
    rss: dict[str, float]

    def __add__(self, other: Sample) -> Sample:
        names = set(self.rss) | set(other.rss)
        return Sample(
            self.seconds + other.seconds, {n: max(self.rss.get(n, 0), other.rss.get(n, 0)) for n in names}
        )


def run(
    args: Sequence[str], *, env: dict[str, str], log: Path, pipeline: bool = False, settle: bool = True
) -> Sample:
    """Run a command to the end, timing it and watching its processes' memory; RuntimeError if it fails.

    Untimed first (``settle``): a ``sync``, so no command pays to flush what the one before it left
    dirty (the reference leaves 2 GiB unsynced; Bastion syncs what it wrote before it reports
    success). The step that measures what flushing the reference's own output costs does not settle
    first, or there would be nothing left for it to flush.
    """
    if settle:
        os.sync()
    with log.open("ab") as out:
        began = time.perf_counter()
        process = subprocess.Popen(  # bash -c only for our own pipelines
            ["bash", "-o", "pipefail", "-c", args[0]] if pipeline else list(args),
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=out,
        )
        watcher = PeakWatcher(process.pid)
        code = process.wait()
        seconds = time.perf_counter() - began
        rss = watcher.stop()
    if code != 0:
        tail = log.read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{' '.join(args)[:200]} exited {code}; log {log}:\n{tail}")
    return Sample(seconds, rss)


def base_env(data_dir: Path, keys_dir: Path) -> dict[str, str]:
    """A child's environment: this one without any BASTION_* setting, then the instance's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_") and k != "DATABASE_URL"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bastion.settings",
            "BASTION_DATA_DIR": str(data_dir),
            "BASTION_MASTER_KEY_DIR": str(keys_dir),
            "BASTION_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def bastion(*args: str) -> list[str]:
    return [sys.executable, "-m", "bastion.cli", *args]


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (whatever its WAL holds), as one file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        src.close()
        dst.close()


def count(database: Path, table: str) -> int:
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608 - our table names
    finally:
        db.close()


def blob_files(files_dir: Path) -> int:
    return sum(1 for path in files_dir.rglob("*") if path.is_file() and not path.name.startswith("."))


@dataclass
class Results:
    """Every sample of every measured step, by step name."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, sample: Sample) -> None:
        self.samples.setdefault(name, []).append(sample)
        rss = ", ".join(f"{n} {mib:,.0f}" for n, mib in sorted(self.samples[name][-1].rss.items()))
        print(f"  {name}: {sample.seconds:,.2f} s (peak RSS MiB: {rss})", flush=True)


class Bench:
    """The measured steps, each on the cached instance or a scratch copy of it."""

    def __init__(self, instance: Instance, results: Results) -> None:
        self.instance = instance
        self.results = results
        self.expected_reports = count(instance.database, "reports_report")
        self.expected_files = count(instance.database, "reports_attachment")
        self.recipients = [instance.bench_keys / "operator.pub.asc", second_recipient(instance)]

    def scratch(self, name: str) -> Path:
        path = self.instance.scratch / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True, mode=0o700)
        return path

    def bastion_backup(self, run_dir: Path) -> Path:
        """``bastion backup`` to one directory; the archive it wrote."""
        destination = run_dir / "destination"
        destination.mkdir()
        env = base_env(self.instance.data, self.instance.keys)
        env.update(
            {
                "BASTION_BACKUP_TO": str(destination),
                "BASTION_BACKUP_RECIPIENTS": str(self.recipients[0]),
                "BASTION_BACKUP_WORK_DIR": str(run_dir / "work"),
            }
        )
        self.results.add("backup", run(bastion("backup"), env=env, log=run_dir / "bastion-backup.log"))
        archives = [path for path in destination.rglob("*") if path.is_file()]
        if len(archives) != 1:
            raise RuntimeError(f"expected one archive in {destination}, found {len(archives)}")
        return archives[0]

    def reference_backup(self, run_dir: Path) -> Path:
        """``sqlite3 .backup`` + ``tar | gpg --encrypt -z 0`` to the same two recipients."""
        out, snap = run_dir / "reference.tar.gpg", run_dir / "bastion.sqlite3"
        env = base_env(self.instance.data, self.instance.keys)
        log = run_dir / "reference-backup.log"
        snapshot = run(
            [f'sqlite3 "{self.instance.database}" ".backup \'{snap}\'"'], env=env, log=log, pipeline=True
        )
        with gpg_home() as home:
            recipients = " ".join(f'--recipient-file "{path}"' for path in self.recipients)
            pipeline = (
                f'tar -c -f - -C "{run_dir}" bastion.sqlite3 -C "{self.instance.data}" files'
                f' | gpg --homedir "{home}" --batch --trust-model always -z 0 --encrypt {recipients}'
                f' -o "{out}"'
            )
            archive = run([pipeline], env=env, log=log, pipeline=True)
        snap.unlink()
        self.results.add("backup (reference)", snapshot + archive)
        # Not part of the reference: Bastion fsyncs its archive (a backup must survive a crash), so
        # this row shows what the same durability costs the reference.
        flush = run([f'sync "{out}"'], env=env, log=log, pipeline=True, settle=False)
        self.results.add("backup (reference + fsync)", snapshot + archive + flush)
        return out

    def bastion_restore(self, run_dir: Path, archive: Path) -> None:
        """``bastion restore ARCHIVE --force`` into a fresh data dir, with a copy of the master keys."""
        data = run_dir / "restored"
        keys = run_dir / "restored-keys"
        shutil.copytree(self.instance.keys, keys)
        env = base_env(data, keys)
        sample = run(
            bastion("restore", str(archive), "--force"), env=env, log=run_dir / "bastion-restore.log"
        )
        self.results.add("restore", sample)
        self.check_restored(data / "bastion.sqlite3", data / "files", "restore")
        shutil.rmtree(data)
        shutil.rmtree(keys)

    def reference_restore(self, run_dir: Path, archive: Path, secret_home: Path) -> None:
        """``gpg --decrypt | tar -x``, then the database file copied into place."""
        into, data = run_dir / "reference-restored", run_dir / "reference-data"
        into.mkdir()
        data.mkdir()
        env = base_env(data, self.instance.keys)
        log = run_dir / "reference-restore.log"
        unpack = run(
            [f'gpg --homedir "{secret_home}" --batch --decrypt "{archive}" | tar -x -f - -C "{into}"'],
            env=env,
            log=log,
            pipeline=True,
        )
        place = run(
            [f'cp "{into}/bastion.sqlite3" "{data}/bastion.sqlite3"'],
            env=env,
            log=log,
            pipeline=True,
            settle=False,  # the same restore: what it extracted is still dirty, for the sync row below
        )
        self.results.add("restore (reference)", unpack + place)
        # Not part of the reference: Bastion's restore makes what it wrote durable before it says
        # it is done; this row shows what the same durability costs the reference.
        flush = run(["sync"], env=env, log=log, pipeline=True, settle=False)
        self.results.add("restore (reference + sync)", unpack + place + flush)
        self.check_restored(data / "bastion.sqlite3", into / "files", "restore (reference)")
        shutil.rmtree(into)
        shutil.rmtree(data)

    def check_restored(self, database: Path, files: Path, what: str) -> None:
        """Not timed: the restored copy holds every report and every blob (else the time means nothing)."""
        reports, blobs = count(database, "reports_report"), blob_files(files)
        if reports != self.expected_reports or blobs != self.expected_files:
            raise RuntimeError(
                f"{what} brought back {reports:,} reports and {blobs:,} blobs, "
                f"expected {self.expected_reports:,} and {self.expected_files:,}"
            )

    def rotate(self, run_dir: Path) -> None:
        """``bastion keys rotate`` on a copy of the database and keys (not of the files: it reads none)."""
        data = run_dir / "rotate-data"
        shutil.copytree(self.instance.keys, data / "keys")
        copy_database(self.instance.database, data / "bastion.sqlite3")
        keys = count(data / "bastion.sqlite3", "vault_datakey")
        env = base_env(data, data / "keys")
        sample = run(bastion("keys", "rotate"), env=env, log=run_dir / "rotate.log")
        self.results.add("keys rotate", sample)
        self.results.notes.append(f"keys rotate: {keys:,} data keys, {keys / sample.seconds:,.0f} keys/s")
        shutil.rmtree(data)


def attempt(results: Results, step: str, call: Callable[[], None]) -> None:
    """Run one of Bastion's steps; if it fails, say so in the notes and go on with the others."""
    try:
        call()
    except RuntimeError as error:
        last = str(error).strip().splitlines()[-1][:300]
        results.notes.append(f"{step} FAILED: {last}")
        print(f"  {step} FAILED: {last}", flush=True)


def measure(instance: Instance, runs: int, *, skip_bastion: bool, skip_rotate: bool) -> Results:
    """Each step ``runs`` times, Bastion's and the reference's in alternating order (evens out caches)."""
    from django.db import connections

    connections.close_all()  # the children must see the instance alone
    results = Results()
    bench = Bench(instance, results)
    with gpg_home() as secret_home:
        gpg(secret_home, "--import", str(instance.bench_keys / "operator.sec.asc"))
        for number in range(runs):
            run_dir = bench.scratch(f"run-{number}")
            print(f"run {number + 1}/{runs}", flush=True)
            order = ["bastion", "reference"] if number % 2 == 0 else ["reference", "bastion"]
            archives: dict[str, Path] = {}
            for who in order:
                if who == "bastion" and not skip_bastion:
                    archives[who] = bench.bastion_backup(run_dir)
                elif who == "reference":
                    archives[who] = bench.reference_backup(run_dir)
            for who in order:
                if who == "bastion" and not skip_bastion:
                    attempt(results, "restore", partial(bench.bastion_restore, run_dir, archives["bastion"]))
                elif who == "reference":
                    bench.reference_restore(run_dir, archives[who], secret_home)
            if not skip_bastion:
                size = archives["bastion"].stat().st_size
                results.notes.append(
                    f"run {number + 1}: archive {size / MIB:,.0f} MiB, reference "
                    f"{archives['reference'].stat().st_size / MIB:,.0f} MiB"
                )
            if not skip_rotate:
                attempt(results, "keys rotate", partial(bench.rotate, run_dir))
            shutil.rmtree(run_dir)
    return results


def profile(instance: Instance) -> None:
    """One backup and one restore under cProfile: the top of each, by cumulative time."""
    bench = Bench(instance, Results())
    run_dir = bench.scratch("profile")
    destination = run_dir / "destination"
    destination.mkdir()
    env = base_env(instance.data, instance.keys)
    env.update(
        {
            "BASTION_BACKUP_TO": str(destination),
            "BASTION_BACKUP_RECIPIENTS": str(bench.recipients[0]),
            "BASTION_BACKUP_WORK_DIR": str(run_dir / "work"),
        }
    )
    profiled = [sys.executable, "-m", "cProfile", "-o"]
    sample = run([*profiled, str(run_dir / "backup.prof"), "-m", "bastion.cli", "backup"], env=env,
                 log=run_dir / "backup.log")  # fmt: skip
    print(f"\nbackup under cProfile: {sample.seconds:,.2f} s")
    pstats.Stats(str(run_dir / "backup.prof")).sort_stats("cumulative").print_stats(30)
    archive = next(path for path in destination.rglob("*") if path.is_file())
    keys = run_dir / "keys"
    shutil.copytree(instance.keys, keys)
    env = base_env(run_dir / "restored", keys)
    restore = ["-m", "bastion.cli", "restore", str(archive), "--force"]
    sample = run([*profiled, str(run_dir / "restore.prof"), *restore], env=env, log=run_dir / "restore.log")
    print(f"\nrestore under cProfile: {sample.seconds:,.2f} s")
    pstats.Stats(str(run_dir / "restore.prof")).sort_stats("cumulative").print_stats(30)
    shutil.rmtree(run_dir)


def print_table(results: Results, params: Params, files: int, size: int) -> None:
    print()
    print(
        f"Backup benchmark: {params.reports:,} reports, {files:,} attachments "
        f"({size / MIB:,.0f} MiB sealed), SQLite, {len(next(iter(results.samples.values()), []))} runs"
    )
    print()
    print("| step | p50 s | min s | max s | reference p50 s | x reference | goal | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    order = [
        "backup",
        "backup (reference)",
        "backup (reference + fsync)",
        "restore",
        "restore (reference)",
        "restore (reference + sync)",
    ]
    for name, samples in sorted(
        results.samples.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)
    ):
        times = [sample.seconds for sample in samples]
        p50 = statistics.median(times)
        reference = results.samples.get(f"{name} (reference)")
        ref_p50 = statistics.median(s.seconds for s in reference) if reference else None
        ratio = f"{p50 / ref_p50:.2f}" if ref_p50 else "-"
        goal = f"<= {GOALS[name]}" if name in GOALS else "-"
        peaks: dict[str, float] = {}
        for sample in samples:
            for process, mib in sample.rss.items():
                peaks[process] = max(peaks.get(process, 0), mib)
        rss = ", ".join(
            f"{process} {mib:,.0f}" for process, mib in sorted(peaks.items(), key=lambda p: -p[1])
        )
        ref_text = f"{ref_p50:.2f}" if ref_p50 else "-"
        spread = f"{p50:.2f} | {min(times):.2f} | {max(times):.2f}"
        print(f"| {name} | {spread} | {ref_text} | {ratio} | {goal} | {rss} |")
    for note in results.notes:
        print(f"- {note}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000, help="synthetic reports (default 100,000)")
    parser.add_argument("--gib", type=float, default=2.0, help="GiB of sealed attachments (default 2)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each step (default 3)")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--dir", type=Path, default=REPO / "var" / "bench", help="where instances are kept")
    parser.add_argument("--rebuild", action="store_true", help="build the instance again even if cached")
    parser.add_argument("--build-only", action="store_true", help="build (or check) the instance only")
    parser.add_argument("--skip-bastion", action="store_true", help="measure the reference pipeline only")
    parser.add_argument("--skip-rotate", action="store_true", help="do not measure `bastion keys rotate`")
    parser.add_argument("--profile", action="store_true", help="also profile one backup and one restore")
    args = parser.parse_args(argv)
    params = Params(reports=args.reports, gib=args.gib, seed=args.seed)
    instance = prepare(params, args.dir, args.rebuild)
    if args.build_only:
        return 0
    files = count(instance.database, "reports_attachment")
    size = sum(path.stat().st_size for path in (instance.data / "files").rglob("*") if path.is_file())
    try:
        results = measure(instance, args.runs, skip_bastion=args.skip_bastion, skip_rotate=args.skip_rotate)
        print_table(results, params, files, size)
        if args.profile:
            profile(instance)
    finally:
        shutil.rmtree(instance.scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
