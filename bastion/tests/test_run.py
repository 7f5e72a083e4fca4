"""``bastion run``: serves the app and the worker, prints the setup link, and stops cleanly."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {"BASTION_DATA_DIR": str(tmp_path / "var"), "BASTION_LISTEN": f"127.0.0.1:{port}"}
    # Never the default LMTP port: a developer's own instance may be using it.
    env["BASTION_LMTP_LISTEN"] = f"127.0.0.1:{_free_port()}"
    return env


def _read_until(process: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Collect stdout lines until one contains ``marker``; fail after ``timeout`` seconds."""
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            seen += line
            if marker in line:
                return seen
        elif process.poll() is not None:
            break
        else:
            time.sleep(0.05)
    raise AssertionError(f"never saw {marker!r}; output so far:\n{seen}")


def _get(url: str, timeout: float = 20) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL we built
                return response.status, response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _lhlo(host: str, port: int, timeout: float = 20) -> int:
    """The LMTP listener's answer to LHLO, once it is up (it starts beside the web server)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with smtplib.LMTP(host, port, local_hostname="localhost", timeout=5) as client:
                return client.ehlo()[0]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_it_refuses_to_start_on_an_unmigrated_database(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bastion.cli", "run"],
        cwd=REPO,
        env=_env(tmp_path, _free_port()),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "bastion migrate" in result.stderr


def test_it_serves_prints_a_setup_link_and_stops_all_processes_on_sigterm(tmp_path):
    port = _free_port()
    env = _env(tmp_path, port)
    lmtp_host, lmtp_port = env["BASTION_LMTP_LISTEN"].split(":")
    subprocess.run([sys.executable, "-m", "bastion.cli", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "bastion.cli", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        output = _read_until(process, "Press Ctrl-C", timeout=60)
        assert f"http://127.0.0.1:{port}/" in output
        link = next(line.strip() for line in output.splitlines() if "/accounts/setup/" in line)
        status, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert (status, body) == (200, b'{"status": "ok"}')
        status, body = _get(link)
        assert status == 200
        assert b"Create the first admin" in body
        assert f"Mail is accepted over LMTP at 127.0.0.1:{lmtp_port}" in output
        assert _lhlo(lmtp_host, int(lmtp_port)) == 250
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
    # The children went with it: nothing listens on the ports any more.
    for address in [("127.0.0.1", port), (lmtp_host, int(lmtp_port))]:
        with socket.socket() as sock:
            assert sock.connect_ex(address) != 0
