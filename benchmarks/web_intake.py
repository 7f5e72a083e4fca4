"""Durable API submissions per second, Bastion against a bare Django insert, and a kill -9 check.

Usage: ``.venv/bin/python benchmarks/web_intake.py [--seconds 15] [--clients 8] [--rounds 2]``

For each round it runs, side by side on this machine:
- **reference**: ``benchmarks/bare_app`` (one row per POST, same granian processes and threads, same
  SQLite settings and backend);
- **bastion**: ``bastion run`` with ``POST /api/v1/reports`` (sealing, receipt signing, audit row,
  acknowledgement task), flood limits raised so the load is not throttled.
Each gets ``--clients`` keep-alive clients posting for ``--seconds``. It prints requests/s, p50 and
p99 latency, and the ratio bastion/reference (goal: >= 0.5, p99 < 150 ms).

Then the crash check: clients submit with Idempotency-Keys while the server is killed with SIGKILL
mid-loop; after a restart every submission that got a 201 must exist exactly once, and the ones
that got no answer are retried with the same key and must not be duplicated.

Not a test: it asserts nothing about time. It stops by itself (bounded seconds and requests).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout} s")


def bastion_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BASTION_", "DATABASE_URL"))}
    env |= {
        "BASTION_DATA_DIR": str(data_dir),
        "BASTION_LISTEN": f"127.0.0.1:{port}",
        # The benchmark is one client address hammering the API: lift the flood limits.
        "BASTION_INTAKE_LIMIT_PER_IP": "1000000/60",
        "BASTION_INTAKE_LIMIT_PER_EMAIL": "1000000/60",
        "BASTION_INTAKE_LIMIT_GLOBAL": "1000000/60",
        "BASTION_LOG_LEVEL": "WARNING",
    }
    return env


def start_bastion(data_dir: Path, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = bastion_env(data_dir, port)
    subprocess.run([PYTHON, "-m", "bastion.cli", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    process = subprocess.Popen(
        [PYTHON, "-m", "bastion.cli", "run", "--workers", str(workers), "--threads", str(threads)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port)
    return process


def start_reference(db: Path, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BARE_APP_DB": str(db), "PYTHONPATH": str(REPO)}
    subprocess.run([PYTHON, str(REPO / "benchmarks/bare_app/app.py")], env=env, check=True)
    process = subprocess.Popen(
        [
            *(PYTHON, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port)),
            *("--workers", str(workers), "--blocking-threads", str(threads)),
            *("--no-ws", "--log-level", "warning"),
            "benchmarks.bare_app.app:application",
        ],
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    wait_for_port(port)
    return process


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def report_payload(n: int) -> dict[str, object]:
    return {
        "title": f"Stored XSS in the profile page #{n}",
        "description": "The display name is rendered without escaping.\n\n" + "Details. " * 60,
        "product": "example.org web app",
        "version": "2026.11",
        "steps": "1. Set the display name to <script>alert(1)</script>\n2. Open the profile.",
        "impact": "Session theft for any visitor of the profile.",
        "email": f"rita+{n}@example.org",
        "credit_preference": "handle",
        "reporter_handle": "rita",
    }


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def load(port: int, path: str, clients: int, seconds: float) -> LoadResult:
    """``clients`` keep-alive connections POSTing JSON for ``seconds``; counts only 201s."""
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        errors = 0
        while time.monotonic() < deadline:
            with lock:
                n = next(counter)
            body = json.dumps(report_payload(n))
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                ok = response.status == 201
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            if ok:
                mine.append(time.perf_counter() - started)
            else:
                errors += 1
        conn.close()
        with lock:
            result.latencies.extend(mine)
            result.errors += errors

    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - started
    return result


def throughput(args: argparse.Namespace, work: Path) -> None:
    rows = []
    for round_no in range(1, args.rounds + 1):
        ref_port, bastion_port = free_port(), free_port()
        reference = start_reference(work / f"bare-{round_no}.sqlite3", ref_port, args.workers, args.threads)
        try:
            load(ref_port, "/submit", args.clients, 2)  # warm-up
            ref = load(ref_port, "/submit", args.clients, args.seconds)
        finally:
            stop(reference)
        bastion = start_bastion(work / f"bastion-{round_no}", bastion_port, args.workers, args.threads)
        try:
            load(bastion_port, "/api/v1/reports", args.clients, 2)
            ours = load(bastion_port, "/api/v1/reports", args.clients, args.seconds)
        finally:
            stop(bastion)
        rows.append((round_no, ref, ours))

    shape = f"{args.workers} processes x {args.threads} WSGI threads"
    print(f"\nweb intake: {args.clients} clients, {args.seconds:.0f} s per run, {shape}")
    print(f"{'round':>5}  {'server':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for round_no, ref, ours in rows:
        for name, r in (("reference", ref), ("bastion", ours)):
            print(
                f"{round_no:>5}  {name:<10} {r.rate:>8.1f} {r.percentile(50):>8.1f} "
                f"{r.percentile(99):>8.1f} {r.errors:>7}"
            )
        print(f"{'':>5}  ratio bastion/reference: {ours.rate / ref.rate:.2f}")
    ratios = [ours.rate / ref.rate for _, ref, ours in rows]
    print(
        f"median ratio: {statistics.median(ratios):.2f} (goal >= 0.5); "
        f"worst bastion p99: {max(o.percentile(99) for _, _, o in rows):.1f} ms (goal < 150)"
    )


def crash_check(args: argparse.Namespace, work: Path) -> None:
    """Kill -9 mid-loop; every 201 must survive, and retries with the same key must not duplicate."""
    data_dir, port = work / "crash", free_port()
    server = start_bastion(data_dir, port, args.workers, args.threads)
    acknowledged: dict[str, str] = {}  # idempotency key -> tracking id
    unanswered: list[tuple[str, dict[str, object]]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 6
    counter = iter(range(10**9))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop_at:
            with lock:
                n = next(counter)
            key, payload = str(uuid.uuid4()), report_payload(n)
            try:
                conn.request(
                    "POST",
                    "/api/v1/reports",
                    body=json.dumps(payload),
                    headers={"Content-Type": "application/json", "Idempotency-Key": key},
                )
                response = conn.getresponse()
                body = response.read()
                if response.status == 201:
                    with lock:
                        acknowledged[key] = json.loads(body)["tracking_id"]
                    continue
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            with lock:
                unanswered.append((key, payload))
            time.sleep(0.05)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    stop(server, signal.SIGKILL)
    killed_after = len(acknowledged)
    for thread in threads:
        thread.join()

    server = start_bastion(data_dir, port, args.workers, args.threads)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        retried = 0
        for key, payload in unanswered[:200]:
            conn.request(
                "POST",
                "/api/v1/reports",
                body=json.dumps(payload),
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
            )
            response = conn.getresponse()
            response.read()
            retried += response.status in (200, 201)
    finally:
        stop(server)

    db = sqlite3.connect(data_dir / "bastion.sqlite3")
    stored = {row[0] for row in db.execute("SELECT tracking_id FROM reports_report")}
    total = db.execute("SELECT count(*) FROM reports_report").fetchone()[0]
    keys = db.execute(
        "SELECT count(DISTINCT idempotency_key_digest), count(idempotency_key_digest) FROM reports_report"
    ).fetchone()
    missing = [tid for tid in acknowledged.values() if tid not in stored]
    print("\ncrash check (kill -9 of bastion run mid-loop, 4 clients)")
    print(f"acknowledged (201) before the kill: {killed_after}; unanswered, retried after restart: {retried}")
    print(f"acknowledged but missing after restart: {len(missing)} (must be 0)")
    print(f"reports stored: {total}; duplicate idempotency keys: {keys[1] - keys[0]} (must be 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=8)
    # bastion run's defaults: a web process per core, two threads each.
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-crash", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bastion-bench-") as tmp:
        throughput(args, Path(tmp))
        if not args.skip_crash:
            crash_check(args, Path(tmp))


if __name__ == "__main__":
    main()
