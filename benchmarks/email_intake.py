"""Email intake: messages per second through the MTA pipe (``bastion mailgate``) and LMTP, and a kill -9.

Usage: ``.venv/bin/python benchmarks/email_intake.py [--messages 200] [--parallel 4] [--skip-crash]``

Against one ``bastion run`` (web, worker and the LMTP listener), it feeds ``--messages`` plaintext
and as many PGP/MIME encrypted and signed (Curve25519) messages, each one new report from its own
sender, sequentially and ``--parallel`` at a time:

- **mailgate**: a new mailgate process per message (``python -I -S .../mailgate.py``, as the README's
  Postfix example runs it), message on stdin; a message counts when the process exits 0 (committed);
- **lmtp**: an LMTP client per worker thread, one connection for all its messages, as Postfix's
  lmtp transport does; a message counts on the 250 after its data.

Before each run it waits (bounded) until the worker has done the tasks already queued, so a run
measures its own messages and the acknowledgements they cause; the wait is printed per run.
It prints msg/s, p50 and p99 per run. The reference is Request Tracker 5's ``rt-mailgate`` on this
machine, as the issue states it: 5.8 msg/s sequential (p99 230 ms), 9.8 msg/s with 4 in parallel
(p99 4.3 s). Goals: plaintext sequential >= 10x (58 msg/s), encrypted >= 5x RT's plaintext
(29 msg/s), p99 < 0.5 s at 4 parallel.

Then the crash check: mailgate deliveries run while ``bastion run`` is killed with SIGKILL; after a
restart the ones that did not exit 0 are delivered again (as the MTA would retry them), and every
message must be stored exactly once. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bastion.lib import openpgp
from benchmarks.web_intake import PYTHON, REPO, LoadResult, bastion_env, free_port, stop, wait_for_port

RECIPIENT = "security@localhost"
RT_REFERENCE = {"sequential": (5.8, 230.0), "parallel": (9.8, 4300.0)}  # msg/s, p99 ms


def plain_message(n: int, tag: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Researcher {n} <researcher{n}.{tag}@example.org>"
    msg["To"] = RECIPIENT
    msg["Subject"] = f"SQL injection in the search endpoint #{n}"
    msg["Message-ID"] = f"<bench.{tag}.{n}@example.org>"
    msg.set_content("The q parameter reaches the query unescaped.\n\n" + "Steps and details. " * 40)
    return msg.as_bytes()


def encrypted_message(n: int, tag: str, org: openpgp.PublicKey, sender: openpgp.SecretKey) -> bytes:
    inner = EmailMessage()
    inner.set_content("The q parameter reaches the query unescaped.\n\n" + "Steps and details. " * 40)
    armored = openpgp.encrypt(inner.as_bytes(), recipients=[org], signer=sender)
    outer = MIMEMultipart("encrypted", protocol="application/pgp-encrypted")
    outer["From"] = f"Researcher {n} <researcher{n}.{tag}@example.org>"
    outer["To"] = RECIPIENT
    outer["Subject"] = "..."
    outer["Message-ID"] = f"<bench.{tag}.{n}@example.org>"
    outer.attach(MIMEApplication(b"Version: 1\r\n", "pgp-encrypted"))
    outer.attach(MIMEApplication(armored, "octet-stream"))
    return outer.as_bytes()


MAILGATE = REPO / "bastion" / "intake" / "mail" / "mailgate.py"


def via_mailgate(port: int) -> Callable[[bytes], bool]:
    # As the README's Postfix example runs it: the module as a bare script, without site-packages.
    command = [PYTHON, "-I", "-S", str(MAILGATE), "--recipient", RECIPIENT, "--lmtp", f"127.0.0.1:{port}"]

    def deliver(message: bytes) -> bool:
        done = subprocess.run(command, input=message, capture_output=True, cwd=REPO, check=False)
        return done.returncode == 0

    return deliver


def via_lmtp(port: int) -> Callable[[], Callable[[bytes], bool]]:
    def connect() -> Callable[[bytes], bool]:
        client = smtplib.LMTP("127.0.0.1", port)  # its ehlo() says LHLO

        def deliver(message: bytes) -> bool:
            refused = client.sendmail("", [RECIPIENT], message)
            return not refused

        return deliver

    return connect


def start_costs(runs: int = 30) -> list[tuple[str, float]]:
    """Median wall time of starting the pipe client without delivering, against the bare interpreter."""
    commands = {
        "python -I -S -c pass (the interpreter alone)": [PYTHON, "-I", "-S", "-c", "pass"],
        "python -I -S mailgate.py --help (README's pipe)": [PYTHON, "-I", "-S", str(MAILGATE), "--help"],
        "bastion mailgate --help (site-packages)": [PYTHON, "-m", "bastion.cli", "mailgate", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):  # round-robin, so a busy moment on the shared machine hits each alike
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, cwd=REPO, check=True)
            times[name].append(time.perf_counter() - started)
    return [(name, 1000 * sorted(spent)[len(spent) // 2]) for name, spent in times.items()]


def feed(
    messages: list[bytes], workers: int, make_deliver: Callable[[], Callable[[bytes], bool]]
) -> LoadResult:
    run, lock, queue = LoadResult(), threading.Lock(), list(reversed(messages))

    def worker() -> None:
        deliver = make_deliver()
        while True:
            with lock:
                if not queue:
                    return
                message = queue.pop()
            started = time.perf_counter()
            try:
                ok = deliver(message)
            except (OSError, smtplib.SMTPException):
                ok = False
            elapsed = time.perf_counter() - started
            with lock:
                if ok:
                    run.latencies.append(elapsed)
                else:
                    run.errors += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.monotonic() - started
    return run


def start(data_dir: Path, port: int, lmtp_port: int, db: Path) -> subprocess.Popen[bytes]:
    env = bench_env(data_dir, port, lmtp_port)
    subprocess.run([PYTHON, "-m", "bastion.cli", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    process = subprocess.Popen(
        [PYTHON, "-m", "bastion.cli", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port)
    wait_for_port(lmtp_port)
    return process


def bench_env(data_dir: Path, port: int, lmtp_port: int) -> dict[str, str]:
    return bastion_env(data_dir, port) | {
        "BASTION_LMTP_LISTEN": f"127.0.0.1:{lmtp_port}",
        "BASTION_FROM_EMAIL": RECIPIENT,
        "BASTION_MAIL_LIMIT_PER_SENDER": "1000000/60",
        "BASTION_MAIL_LIMIT_GLOBAL": "1000000/60",
    }


def stored(db: Path, message_ids: list[str]) -> dict[str, int]:
    """How many ReceivedMail rows each Message-ID has (the dedupe digest is a plain SHA-256)."""
    digests = {hashlib.sha256(f"email\x00{mid}".encode()).hexdigest(): mid for mid in message_ids}
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT dedupe_digest FROM reports_receivedmail").fetchall()
    counts = dict.fromkeys(message_ids, 0)
    for (digest,) in rows:
        if digest in digests:
            counts[digests[digest]] += 1
    return counts


def settle(db: Path, timeout: float = 120) -> float:
    """Wait until the worker has done every queued task (the previous run's acknowledgements).

    Each run then measures its own messages and the acknowledgements they cause, not the tail of the
    run before it. Returns the seconds waited (printed beside each run).
    """
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with sqlite3.connect(db) as conn:
            (waiting,) = conn.execute(
                "SELECT count(*) FROM django_tasks_database_dbtaskresult WHERE status IN ('READY', 'RUNNING')"
                " AND (run_after <= strftime('%Y-%m-%d %H:%M:%f', 'now') OR run_after LIKE '9999-%')"
            ).fetchone()
        if not waiting:
            break
        time.sleep(0.2)
    return time.monotonic() - started


def throughput(args: argparse.Namespace, work: Path) -> None:
    port, lmtp_port = free_port(), free_port()
    data_dir = work / "bench"
    server = start(data_dir, port, lmtp_port, data_dir / "bastion.sqlite3")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/security-key.asc") as response:
            org = openpgp.load_public_key(response.read())
        sender = openpgp.generate_org_key("Benchmark researcher <researcher@example.org>")
        rows = []
        for kind in ("plain", "encrypted"):
            for path in ("mailgate", "lmtp"):
                for workers in (1, args.parallel):
                    tag = f"{kind}-{path}-{workers}"
                    if kind == "plain":
                        messages = [plain_message(n, tag) for n in range(args.messages)]
                    else:
                        messages = [encrypted_message(n, tag, org, sender) for n in range(args.messages)]
                    make = (lambda: via_mailgate(lmtp_port)) if path == "mailgate" else via_lmtp(lmtp_port)
                    drained = settle(data_dir / "bastion.sqlite3")
                    run = feed(messages, workers, make)
                    rows.append((kind, path, workers, run, drained))
    finally:
        stop(server)
    print(f"\nemail intake: {args.messages} messages per run, each a new report")
    print(
        f"{'messages':10} {'path':9} {'parallel':>8} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}"
        f" {'queue drained before, s':>24}"
    )
    for kind, path, workers, run, drained in rows:
        print(
            f"{kind:10} {path:9} {workers:8d} {run.rate:8.1f} {run.percentile(50):8.1f}"
            f" {run.percentile(99):8.1f} {run.errors:7d} {drained:24.1f}"
        )
    print("\nstarting the pipe client (no delivery), median of 30:")
    for name, ms in start_costs():
        print(f"  {name:50} {ms:6.1f} ms")
    seq_rt, par_rt = RT_REFERENCE["sequential"][0], RT_REFERENCE["parallel"][0]
    print(f"reference (RT 5 rt-mailgate, from the issue): {seq_rt} msg/s sequential, {par_rt} msg/s x4")
    for kind, path, workers, run, _drained in rows:
        ratio = run.rate / (seq_rt if workers == 1 else par_rt)
        print(f"  {kind:10} {path:9} x{workers}: {ratio:5.1f}x RT")


def crash_check(args: argparse.Namespace, work: Path) -> None:
    port, lmtp_port = free_port(), free_port()
    data_dir = work / "crash"
    db = data_dir / "bastion.sqlite3"
    server = start(data_dir, port, lmtp_port, db)
    messages = [plain_message(n, "crash") for n in range(args.crash_messages)]
    ids = [f"<bench.crash.{n}@example.org>" for n in range(args.crash_messages)]
    acknowledged: set[int] = set()
    lock = threading.Lock()
    deliver = via_mailgate(lmtp_port)
    pending = list(range(len(messages)))

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                n = pending.pop(0)
            if deliver(messages[n]):
                with lock:
                    acknowledged.add(n)

    threads = [threading.Thread(target=worker) for _ in range(args.parallel)]
    for thread in threads:
        thread.start()
    time.sleep(args.kill_after)
    stop(server, signal.SIGKILL)
    for thread in threads:
        thread.join()
    before = len(acknowledged)
    counts = stored(db, ids)
    missing = [ids[n] for n in acknowledged if counts[ids[n]] != 1]
    server = start(data_dir, port, lmtp_port, db)
    try:
        retried = [n for n in range(len(messages)) if n not in acknowledged]
        for n in retried:  # what the MTA does with every message that got no exit 0
            deliver(messages[n])
    finally:
        stop(server)
    counts = stored(db, ids)
    print(
        f"\ncrash check (kill -9 of bastion run after {args.kill_after} s, {args.parallel} mailgates at once)"
    )
    print(f"  acknowledged (exit 0) before the kill: {before}; retried after restart: {len(retried)}")
    print(f"  acknowledged but missing right after the kill: {len(missing)}")
    print(f"  after the retries: {sum(1 for c in counts.values() if c == 1)} stored once, "
          f"{sum(1 for c in counts.values() if c == 0)} missing, "
          f"{sum(1 for c in counts.values() if c > 1)} duplicated")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--crash-messages", type=int, default=300)
    parser.add_argument("--kill-after", type=float, default=3.0)
    parser.add_argument("--skip-crash", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bastion-bench-") as tmp:
        if not args.skip_throughput:
            throughput(args, Path(tmp))
        if not args.skip_crash:
            crash_check(args, Path(tmp))


if __name__ == "__main__":
    main()
