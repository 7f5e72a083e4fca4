"""The LMTP listener and the mailgate: the real aiosmtpd server on loopback, the real client process.

``receive_email`` and ``accepts_recipient`` are replaced by a scripted core, so these tests pin the
adapters' side of the contract: what they hand over, when they answer, and what each outcome becomes.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.intake.mail import mailgate, receive
from bastion.intake.mail.lmtp import IntakeHandler, serve
from bastion.intake.mail.receive import MailRefused, MailSource, Outcome, Received, TemporaryMailFailure

REPO = Path(__file__).resolve().parents[3]
MESSAGE = (
    b"From: rita@example.org\r\nTo: security@example.org\r\nSubject: XSS\r\nMessage-ID: <1@x>\r\n\r\nHi\r\n"
)
SECRET = "the-proof-of-concept-payload"


class Core:
    """Stands in for the core: records each delivery and does what ``outcome`` says for its recipient."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, MailSource, str | None]] = []
        self.known = {"security@example.org", "urgent@example.org"}
        self.outcome: Callable[[str | None], Received] = lambda recipient: Received(Outcome.REPORT, "T-1")

    def receive_email(self, raw: bytes, *, source: MailSource, recipient: str | None = None) -> Received:
        self.calls.append((raw, source, recipient))
        return self.outcome(recipient)

    def accepts_recipient(self, address: str) -> bool:
        return address in self.known


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> Core:
    fake = Core()
    monkeypatch.setattr(receive, "receive_email", fake.receive_email)
    monkeypatch.setattr(receive, "accepts_recipient", fake.accepts_recipient)
    return fake


class Listener:
    """``serve()`` in a thread with its own event loop, as ``bastion lmtp`` runs it in its process."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.address: tuple[str, int] = ("", 0)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await serve("127.0.0.1", 0, max_bytes=self.max_bytes, stop=self._stop, ready=self._bound)

    def _bound(self, address: tuple[str, int]) -> None:
        self.address = address
        self._ready.set()

    def start(self) -> Listener:
        self._thread.start()
        assert self._ready.wait(10), "the LMTP listener did not start"
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=40)
        assert not self._thread.is_alive()

    def client(self) -> smtplib.LMTP:
        client = smtplib.LMTP(*self.address, local_hostname="localhost", timeout=10)
        client.ehlo()
        return client


@pytest.fixture
def listener(core: Core) -> Iterator[Listener]:
    running = Listener(max_bytes=64 * 1024).start()
    yield running
    running.stop()


def _replies(client: smtplib.LMTP, raw: bytes, recipients: list[str]) -> list[tuple[int, bytes]]:
    """MAIL, RCPT each, DATA; then every per-recipient reply (smtplib reads only the first)."""
    assert client.mail("rita@example.org")[0] == 250
    for recipient in recipients:
        assert client.rcpt(recipient)[0] == 250
    replies = [client.data(raw)]
    replies += [client.getreply() for _ in recipients[1:]]
    return replies


def _send_in_background(client: smtplib.LMTP, replies: list[tuple[int, bytes]]) -> threading.Thread:
    def send() -> None:
        replies.extend(_replies(client, MESSAGE, ["security@example.org"]))

    sender = threading.Thread(target=send)
    sender.start()
    return sender


class HeldCommit:
    """A core outcome that waits to be released: the moment between receiving and returning."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, recipient: str | None) -> Received:
        self.entered.set()
        assert self.release.wait(10)
        return Received(Outcome.REPORT, "T-1")


# --- LMTP ------------------------------------------------------------------------------------------


def test_it_delivers_the_bytes_as_received_and_answers_250(listener, core):
    with listener.client() as client:
        (reply,) = _replies(client, MESSAGE, ["security@example.org"])

    assert reply == (250, b"2.0.0 Delivered")
    assert core.calls == [(MESSAGE, MailSource.LMTP, "security@example.org")]


def test_it_refuses_an_unknown_recipient_at_rcpt(listener, core):
    with listener.client() as client:
        client.mail("rita@example.org")
        code, text = client.rcpt("nobody@example.org")

    assert (code, text) == (550, b"5.1.1 No such mailbox here")
    assert core.calls == []


def test_it_answers_250_only_after_the_core_returned(listener, core):
    core.outcome = held = HeldCommit()
    replies: list[tuple[int, bytes]] = []
    with listener.client() as client:
        sender = _send_in_background(client, replies)
        assert held.entered.wait(10)
        assert replies == []  # the core has not returned, so nothing is acknowledged yet
        held.release.set()
        sender.join(10)

    assert replies == [(250, b"2.0.0 Delivered")]


def test_each_recipient_gets_its_own_delivery_and_reply_in_order(listener, core):
    def by_recipient(recipient: str | None) -> Received:
        if recipient == "urgent@example.org":
            raise TemporaryMailFailure("database is locked")
        return Received(Outcome.DUPLICATE)

    core.outcome = by_recipient
    with listener.client() as client:
        replies = _replies(client, MESSAGE, ["security@example.org", "urgent@example.org"])

    assert [code for code, _ in replies] == [250, 451]
    assert replies[1][1].startswith(b"4.3.0 ")
    assert [recipient for _, _, recipient in core.calls] == ["security@example.org", "urgent@example.org"]


def test_a_refusal_bounces_with_the_cores_text(listener, core):
    def refuse(recipient: str | None) -> Received:
        raise MailRefused("Your message could not be read.\nPlease send it again as plain text.")

    core.outcome = refuse
    with listener.client() as client:
        (reply,) = _replies(client, MESSAGE, ["security@example.org"])

    assert reply == (554, b"5.6.0 Your message could not be read. Please send it again as plain text.")


def test_an_unexpected_error_is_a_temporary_failure_and_its_message_is_not_logged(listener, core, caplog):
    def crash(recipient: str | None) -> Received:
        raise ValueError(f"cannot parse {SECRET}")

    core.outcome = crash
    with listener.client() as client:
        (reply,) = _replies(client, MESSAGE, ["security@example.org"])

    assert reply[0] == 451
    assert "ValueError" in caplog.text
    assert SECRET not in caplog.text


def test_a_failing_recipient_check_is_a_temporary_failure(listener, core, monkeypatch):
    def down(address: str) -> bool:
        raise ConnectionError("database is down")

    monkeypatch.setattr(receive, "accepts_recipient", down)
    with listener.client() as client:
        client.mail("rita@example.org")
        code, _ = client.rcpt("security@example.org")

    assert code == 451


def test_an_error_outside_the_hooks_is_answered_451_and_its_message_not_logged(caplog):
    handler = IntakeHandler(max_bytes=1024, executor=None)  # type: ignore[arg-type]

    reply = asyncio.run(handler.handle_exception(ValueError(SECRET)))

    assert reply.startswith("451 4.3.0 ")
    assert "ValueError" in caplog.text
    assert SECRET not in caplog.text


def test_an_oversize_message_is_refused_once_per_recipient_with_a_clear_text(listener, core):
    big = MESSAGE + b"x" * 70_000 + b"\r\n"
    with listener.client() as client:
        replies = _replies(client, big, ["security@example.org", "urgent@example.org"])
        # The session is still usable afterwards.
        assert client.noop()[0] == 250

    assert [code for code, _ in replies] == [552, 552]
    text = replies[0][1].decode()
    assert text.startswith("5.3.4 Message too big")
    assert "64 KiB" in text
    assert "/security/report" in text
    assert core.calls == []


def test_a_declared_size_over_the_limit_is_refused_at_mail(listener, core):
    with listener.client() as client:
        assert "size" in client.esmtp_features
        code, text = client.mail("rita@example.org", ["SIZE=70000"])

    assert code == 552
    assert text.startswith(b"5.3.4 Message too big")


def test_long_lines_are_accepted(listener, core):
    long_line = MESSAGE + b"a" * 5000 + b"\r\n"
    with listener.client() as client:
        (reply,) = _replies(client, long_line, ["security@example.org"])

    assert reply[0] == 250
    assert core.calls[0][0] == long_line


def test_a_delivery_in_progress_is_answered_before_the_listener_stops(core):
    running = Listener(max_bytes=64 * 1024).start()
    core.outcome = held = HeldCommit()
    replies: list[tuple[int, bytes]] = []
    client = running.client()
    sender = _send_in_background(client, replies)
    assert held.entered.wait(10)
    stopper = threading.Thread(target=running.stop)
    stopper.start()
    held.release.set()
    sender.join(10)
    stopper.join(40)
    client.close()

    assert replies == [(250, b"2.0.0 Delivered")]
    with socket.socket() as probe:
        assert probe.connect_ex(running.address) != 0  # and it no longer listens


@pytest.mark.slow
def test_the_lmtp_command_listens_until_sigterm(tmp_path):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    env |= {"BASTION_DATA_DIR": str(tmp_path), "BASTION_LMTP_LISTEN": f"127.0.0.1:{port}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bastion.cli", "lmtp"], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == f"LMTP listening on 127.0.0.1:{port}\n"
        with smtplib.LMTP("127.0.0.1", port, local_hostname="localhost", timeout=10) as client:
            assert client.ehlo()[0] == 250
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


@pytest.mark.slow
def test_the_lmtp_command_names_the_setting_when_its_port_is_taken(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
        env |= {"BASTION_DATA_DIR": str(tmp_path), "BASTION_LMTP_LISTEN": f"127.0.0.1:{port}"}
        result = subprocess.run(
            [sys.executable, "-m", "bastion.cli", "lmtp"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert result.returncode != 0
    assert f"BASTION_LMTP_LISTEN=127.0.0.1:{port}: cannot listen there" in result.stderr


# --- mailgate --------------------------------------------------------------------------------------


def _mailgate(
    args: list[str], stdin: bytes, *, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The real ``bastion mailgate``, as an MTA's pipe runs it: a fresh process, the message on stdin."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    return subprocess.run(
        [sys.executable, "-m", "bastion.cli", "mailgate", *args],
        cwd=REPO,
        env={**clean, **(env or {})},
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def _at(listener: Listener) -> list[str]:
    return ["--lmtp", f"{listener.address[0]}:{listener.address[1]}"]


def test_mailgate_exits_0_once_stored_and_sends_the_message_with_crlf_line_ends(listener, core):
    piped = b"From: rita@example.org\nSubject: dots\n\n.a line that starts with a dot\n..two\nend\n"
    result = _mailgate([*_at(listener), "--recipient", "security@example.org"], piped)

    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert core.calls == [(piped.replace(b"\n", b"\r\n"), MailSource.LMTP, "security@example.org")]


def test_mailgate_runs_as_a_bare_script_without_site_packages(listener, core, tmp_path):
    # The README's Postfix example: `python -I -S .../mailgate.py`, from anywhere, stdlib only.
    script = REPO / "bastion" / "intake" / "mail" / "mailgate.py"
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(script), *_at(listener), "--recipient", "security@example.org"],
        cwd=tmp_path,
        input=MESSAGE,
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stderr) == (0, b"")
    assert len(core.calls) == 1


def test_mailgate_takes_the_recipient_and_listener_from_the_environment(listener, core):
    env = {"RECIPIENT": "urgent@example.org", "BASTION_LMTP_LISTEN": f"127.0.0.1:{listener.address[1]}"}
    result = _mailgate([], MESSAGE, env=env)

    assert result.returncode == 0
    assert core.calls[0][2] == "urgent@example.org"


def test_mailgate_exits_75_when_no_listener_is_running():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    # The module run directly, as `python -m` (the other tests go through `bastion mailgate`).
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bastion.intake.mail.mailgate",
            "--lmtp",
            f"127.0.0.1:{port}",
            "--recipient=s@x",
        ],
        cwd=REPO,
        input=MESSAGE,
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 75
    assert result.stdout.startswith(b"4.4.1 Bastion's mail listener did not answer")


def test_mailgate_exits_75_on_a_temporary_failure(listener, core):
    def busy(recipient: str | None) -> Received:
        raise TemporaryMailFailure("database is locked")

    core.outcome = busy
    result = _mailgate([*_at(listener), "--recipient", "security@example.org"], MESSAGE)

    assert result.returncode == 75
    assert result.stdout.startswith(b"4.3.0 ")


def test_mailgate_bounces_a_refusal_with_the_text_first_on_its_output(listener, core):
    # Long enough to travel as a multi-line reply; it comes out as one line, the status code once.
    text = "Sealed attachments over 20 MB are not accepted. " * 10

    def refuse(recipient: str | None) -> Received:
        raise MailRefused(text)

    core.outcome = refuse
    result = _mailgate([*_at(listener), "--recipient", "security@example.org"], MESSAGE)

    assert result.returncode == 65
    assert result.stdout == f"5.6.0 {text.strip()}\n".encode()


def test_mailgate_bounces_an_oversize_message_without_sending_it(listener, core):
    result = _mailgate([*_at(listener), "--recipient", "security@example.org"], MESSAGE + b"x" * 100_000)

    assert result.returncode == 65
    assert result.stdout.startswith(b"5.3.4 Message too big: this address accepts messages of up to 64 KiB.")
    assert core.calls == []


def test_mailgate_exits_67_for_an_unknown_recipient(listener, core):
    result = _mailgate([*_at(listener), "--recipient", "nobody@example.org"], MESSAGE)

    assert result.returncode == 67
    assert result.stdout == b"5.1.1 No such mailbox here\n"


def test_mailgate_without_a_recipient_holds_the_mail_rather_than_bouncing_it():
    result = _mailgate(["--lmtp", "127.0.0.1:9"], MESSAGE)

    assert result.returncode == 75
    assert result.stdout.startswith(b"4.3.5 bastion mailgate: no recipient")


def test_mailgate_never_loads_django():
    probe = (
        "import sys; from bastion.cli import main; main(['mailgate', '--help']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.startswith("usage: bastion mailgate")
    assert result.stdout.splitlines()[-1] == "[]"


def _run_mailgate(
    args: list[str], stdin: bytes = MESSAGE, env: dict[str, str] | None = None
) -> tuple[int, str]:
    """The mailgate in this process, for the cases that need no MTA-like process around them."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("ORIGINAL_RECIPIENT", "RECIPIENT", "BASTION_LMTP_LISTEN"):
            patch.delenv(name, raising=False)
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        status = mailgate.main(args, stdin=io.BytesIO(stdin), stdout=out)
    return status, out.getvalue()


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--recipient"], "--recipient needs a value"),
        (["--recipient", "s@x", "--sender", "r@x"], "unknown option '--sender'"),
        (["--recipient", "s@x", "--lmtp", "localhost"], "expected HOST:PORT"),
        (["--recipient", "s@x", "--lmtp", "localhost:99999"], "expected HOST:PORT"),
    ],
)
def test_mailgate_holds_the_mail_when_its_command_line_is_wrong(args, complaint):
    status, output = _run_mailgate(args)

    assert status == 75
    assert output.startswith("4.3.5 bastion mailgate: ")
    assert complaint in output


def test_mailgate_prints_its_usage():
    status, output = _run_mailgate(["--help"])

    assert (status, output.split(maxsplit=2)[:2]) == (0, ["usage:", "bastion"])


def test_mailgate_refuses_a_recipient_that_would_bend_the_protocol():
    status, output = _run_mailgate(["--recipient", "s@x> NOTIFY=NEVER", "--lmtp", "127.0.0.1:9"])

    assert (status, output) == (67, "5.1.3 Bad recipient address syntax\n")


def test_mailgate_ends_a_message_without_a_final_newline_properly(listener, core):
    env = {"ORIGINAL_RECIPIENT": "security@example.org"}
    status, _ = _run_mailgate([*_at(listener)], b"Subject: x\n\nno newline", env=env)

    assert status == 0
    assert core.calls[0][0] == b"Subject: x\r\n\r\nno newline\r\n"


def _odd_listener(replies: list[bytes]) -> int:
    """A one-connection peer that answers from a script, for listeners unlike ours; its port."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        with server, server.accept()[0] as conn, conn.makefile("rb") as lines:
            conn.sendall(replies[0])
            line = b""
            for reply in replies[1:]:
                line = line or lines.readline()
                conn.sendall(reply)
                if line.startswith(b"DATA") and reply.startswith(b"354"):
                    while lines.readline() not in (b".\r\n", b""):
                        pass
                    line = b"(after data)"  # the next reply answers the data, not a new command
                else:
                    line = b""

    threading.Thread(target=answer, daemon=True).start()
    return int(server.getsockname()[1])


def test_mailgate_copes_with_a_listener_that_announces_no_size_and_hangs_up_at_quit():
    port = _odd_listener(
        [b"220 hi\r\n", b"250 odd\r\n", b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n", b"250 ok\r\n"]
    )

    assert _run_mailgate(["--recipient", "s@x", "--lmtp", f"127.0.0.1:{port}"]) == (0, "")


def test_mailgate_refuses_an_oversize_message_even_if_the_listener_would_take_it():
    port = _odd_listener([b"220 hi\r\n", b"250-odd\r\n250 SIZE 10\r\n", b"250 ok\r\n"])

    status, output = _run_mailgate(["--recipient", "s@x", "--lmtp", f"127.0.0.1:{port}"])

    assert (status, output) == (65, "5.3.4 Message too big: the limit is 10 bytes\n")


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([b"hello\r\n"], "4.4.1 Bastion's mail listener did not answer (ConnectionError)\n"),
        ([b"554 go away\r\n"], "4.0.0 go away\n"),
        ([b"220 hi\r\n", b"421-4.3.2 shutting\r\n421 4.3.2 down\r\n"], "4.3.2 shutting down\n"),
    ],
)
def test_mailgate_retries_later_when_the_listener_misbehaves_before_the_message(replies, expected):
    port = _odd_listener(replies)

    assert _run_mailgate(["--recipient", "s@x", "--lmtp", f"127.0.0.1:{port}"]) == (75, expected)
