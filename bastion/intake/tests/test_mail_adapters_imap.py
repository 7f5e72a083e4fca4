"""The IMAP poll against a real server: Debian's Dovecot, standalone on loopback, one per test module.

``receive_email`` is a scripted stand-in (the core has its own tests); the mailbox, the folders,
the flags and the TLS are real. Each test uses folders of its own, so one server serves them all.
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from imap_tools import MailBoxUnencrypted
from imap_tools.errors import MailboxLoginError

from bastion.intake.mail import imap, receive
from bastion.intake.mail.receive import MailRefused, MailSource, Outcome, Received, TemporaryMailFailure
from bastion.intake.tasks import poll_imap_mailbox, schedule_imap_poll
from bastion.worker import scheduler

REPO = Path(__file__).resolve().parents[3]
USER, PASSWORD = "security", "imap-test-password"
_folders = itertools.count(1)


@dataclass(frozen=True)
class Dovecot:
    plain_port: int
    tls_port: int
    cert: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _config(root: Path, cert: Path, key: Path, plain_port: int, tls_port: int) -> str:
    # Dovecot refuses mail access as uid 0; as root the mailboxes belong to nobody. Run as another
    # user, everything (its own helper processes included) runs as that user.
    if os.getuid() == 0:
        mail_user, services = pwd.getpwnam("nobody"), ""
    else:
        mail_user = pwd.getpwuid(os.getuid())
        services = f"default_internal_user = {mail_user.pw_name}\ndefault_login_user = {mail_user.pw_name}\n"
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
{services}protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
# Plain LOGIN is allowed on loopback only: for the BASTION_IMAP_SECURITY=plain test.
disable_plaintext_auth = no
# No two-second pause after a failed login: the wrong-password test needs none.
auth_failure_delay = 0
first_valid_uid = {mail_user.pw_uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user.pw_uid} gid={mail_user.pw_gid} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir
# No growing delay for this IP after the wrong-password test (Dovecot's brute-force penalty).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {plain_port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
"""


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"dovecot exited with {process.returncode}:\n{log.read_text() if log.exists() else ''}"
            )
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"dovecot did not listen on {port}")


def _alive_in_group(pgid: int) -> list[int]:
    """Running (not zombie) processes in process group ``pgid``, from /proc."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        if fields[0] != "Z" and int(fields[2]) == pgid:
            alive.append(int(stat.parent.name))
    return alive


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """Dovecot in the foreground (``-F``) on loopback; stopped by its pid, with every child checked gone."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(binary):
        pytest.fail("Debian's dovecot-imapd is missing: run `make system-deps`")
    # Not pytest's tmp_path: its parents are 0700, and Dovecot's helpers run as other users.
    root = Path(tempfile.mkdtemp(prefix="bastion-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    cert, key = _self_signed(root)
    plain_port, tls_port = _free_port(), _free_port()
    config = root / "dovecot.conf"
    config.write_text(_config(root, cert, key, plain_port, tls_port))
    process = subprocess.Popen(
        [binary, "-c", str(config), "-F"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for(plain_port, process, root / "dovecot.log")
        _wait_for(tls_port, process, root / "dovecot.log")
        yield Dovecot(plain_port=plain_port, tls_port=tls_port, cert=cert)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # The master signals its helpers but does not wait for them; give them a moment, then make
        # sure none outlived it (they share its process group).
        deadline = time.monotonic() + 10
        while _alive_in_group(process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        leftover = _alive_in_group(process.pid)
        if leftover:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)
        assert not leftover, f"dovecot left processes behind: {leftover}"


class Core:
    """Stands in for the core: records each message and refuses or fails the ones whose subject says so."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []
        self.failing: Callable[[bytes], None] = lambda raw: None

    def receive_email(self, raw: bytes, *, source: MailSource, recipient: str | None = None) -> Received:
        assert (source, recipient) == (MailSource.IMAP, None)
        self.calls.append(raw)
        if b"Subject: refuse" in raw:
            raise MailRefused("not a report")
        if b"Subject: busy" in raw:
            raise TemporaryMailFailure("database is locked")
        self.failing(raw)
        return Received(Outcome.REPORT, "T-1")


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> Core:
    fake = Core()
    monkeypatch.setattr(receive, "receive_email", fake.receive_email)
    return fake


@dataclass(frozen=True)
class Folders:
    inbox: str
    done: str
    refused: str


@pytest.fixture
def mailbox(dovecot: Dovecot, settings) -> Folders:
    """Settings for an IMAPS poll of folders used by this test alone."""
    n = next(_folders)
    settings.IMAP_HOST = "127.0.0.1"
    settings.IMAP_PORT = dovecot.tls_port
    settings.IMAP_SECURITY = "ssl"
    settings.IMAP_CA_FILE = str(dovecot.cert)
    settings.IMAP_USER, settings.IMAP_PASSWORD = USER, PASSWORD
    settings.IMAP_FOLDER = f"Security{n}/Inbox"
    settings.IMAP_DONE_FOLDER = f"Bastion{n}/Processed"
    settings.IMAP_REFUSED_FOLDER = f"Bastion{n}/Refused"
    # Dovecot's maildir hierarchy delimiter is ".": the "/" in the settings is translated.
    folders = Folders(f"Security{n}.Inbox", f"Bastion{n}.Processed", f"Bastion{n}.Refused")
    with _admin(dovecot) as box:
        box.folder.create(folders.inbox)
    return folders


def _admin(dovecot: Dovecot) -> MailBoxUnencrypted:
    """The test's own way in, to put mail in and look at the result."""
    return MailBoxUnencrypted("127.0.0.1", dovecot.plain_port, timeout=10).login(USER, PASSWORD, None)


def _message(subject: str, n: int = 1) -> bytes:
    # Odd spacing and a folded header: re-serialising a parsed copy would change these bytes.
    return (
        f"From: Rita <rita@example.org>\r\nTo: security@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}-{n}@example.org>\r\nX-Odd:   spaced\r\n\tand folded\r\n\r\nbody {n}\r\n"
    ).encode()


def _append(dovecot: Dovecot, folder: str, *raws: bytes) -> None:
    with _admin(dovecot) as box:
        for raw in raws:
            box.append(raw, folder)


def _contents(dovecot: Dovecot, folder: str) -> list[tuple[bytes, set[str]]]:
    """Each message in ``folder``: its bytes and flags (read with PEEK, so looking changes nothing)."""
    with _admin(dovecot) as box:
        if not box.folder.exists(folder):
            return []
        box.folder.set(folder, readonly=True)
        found = []
        for uid in box.uids("ALL"):
            _, data = box.client.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
            head, raw = next(item for item in data if isinstance(item, tuple))
            flags = {flag for flag in ("\\Seen", "\\Flagged", "\\Deleted") if flag.encode() in head}
            found.append((raw, flags))
        return found


def test_it_receives_each_message_as_the_server_holds_it_then_moves_it(dovecot, mailbox, core):
    first, second = _message("xss", 1), _message("csrf", 2)
    _append(dovecot, mailbox.inbox, first, second)

    result = imap.poll_mailbox()

    assert (result.received, result.refused, result.deferred) == (2, 0, 0)
    assert core.calls == [first, second]  # byte for byte: fetched raw, not re-serialised
    assert _contents(dovecot, mailbox.inbox) == []
    assert [raw for raw, _ in _contents(dovecot, mailbox.done)] == [first, second]
    assert imap.poll_mailbox().received == 0


def test_a_temporary_failure_leaves_the_message_unread_for_the_next_poll(dovecot, mailbox, core):
    busy, fine = _message("busy"), _message("fine")
    _append(dovecot, mailbox.inbox, busy, fine)

    result = imap.poll_mailbox()

    assert (result.received, result.deferred) == (1, 1)
    assert _contents(dovecot, mailbox.inbox) == [(busy, set())]
    assert [raw for raw, _ in _contents(dovecot, mailbox.done)] == [fine]
    imap.poll_mailbox()
    assert core.calls == [busy, fine, busy]


def test_a_refused_message_is_put_aside_never_deleted(dovecot, mailbox, core):
    refused = _message("refuse")
    _append(dovecot, mailbox.inbox, refused)

    assert imap.poll_mailbox().refused == 1

    assert _contents(dovecot, mailbox.inbox) == []
    assert [raw for raw, _ in _contents(dovecot, mailbox.refused)] == [refused]


def test_an_oversize_message_is_put_aside_without_being_downloaded(dovecot, mailbox, core, settings):
    settings.MAIL_MAX_BYTES = 100
    big = _message("big") + b"x" * 200 + b"\r\n"
    _append(dovecot, mailbox.inbox, big)

    assert imap.poll_mailbox().refused == 1

    assert core.calls == []
    assert [raw for raw, _ in _contents(dovecot, mailbox.refused)] == [big]


def test_a_crash_between_commit_and_move_offers_the_message_again(dovecot, mailbox, core, monkeypatch):
    raw = _message("xss")
    _append(dovecot, mailbox.inbox, raw)

    def crash(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed after the commit, before the move")

    with monkeypatch.context() as patch:
        patch.setattr(imap, "_put_away", crash)
        with pytest.raises(SystemExit):
            imap.poll_mailbox()
    assert _contents(dovecot, mailbox.inbox) == [(raw, set())]

    imap.poll_mailbox()

    assert core.calls == [raw, raw]  # offered again; the core recognises the Message-ID
    assert [moved for moved, _ in _contents(dovecot, mailbox.done)] == [raw]


def test_an_unexpected_error_leaves_the_message_and_logs_no_content(dovecot, mailbox, core, caplog):
    def crash(raw: bytes) -> None:
        raise ValueError(raw.decode())

    core.failing = crash
    raw = _message("secret-exploit")
    _append(dovecot, mailbox.inbox, raw)

    assert imap.poll_mailbox().deferred == 1

    assert _contents(dovecot, mailbox.inbox) == [(raw, set())]
    assert "ValueError" in caplog.text
    assert "secret-exploit" not in caplog.text


def test_a_message_someone_else_moved_meanwhile_is_skipped(dovecot, mailbox, core):
    first, second = _message("first"), _message("second")
    _append(dovecot, mailbox.inbox, first, second)

    def a_person_files_the_second_one(raw: bytes) -> None:
        with _admin(dovecot) as box:
            box.folder.set(mailbox.inbox)
            box.client.uid("MOVE", box.uids("ALL")[-1], "INBOX")

    core.failing = a_person_files_the_second_one
    result = imap.poll_mailbox()

    assert (result.received, result.deferred) == (1, 1)
    assert core.calls == [first]


def test_a_message_that_cannot_be_put_away_is_offered_again(dovecot, mailbox, core, caplog):
    raw = _message("xss")
    _append(dovecot, mailbox.inbox, raw)
    imap.poll_mailbox()  # creates the done folder
    _append(dovecot, mailbox.inbox, raw)

    def staff_delete_the_done_folder(raw: bytes) -> None:
        with _admin(dovecot) as box:
            box.folder.delete(mailbox.done)

    core.failing = staff_delete_the_done_folder
    imap.poll_mailbox()
    assert "could not be put away" in caplog.text
    assert _contents(dovecot, mailbox.inbox) == [(raw, set())]

    core.failing = lambda raw: None
    imap.poll_mailbox()

    assert _contents(dovecot, mailbox.inbox) == []
    assert [moved for moved, _ in _contents(dovecot, mailbox.done)] == [raw]


def test_without_a_done_folder_it_flags_instead_of_moving(dovecot, mailbox, core, settings):
    settings.IMAP_DONE_FOLDER = settings.IMAP_REFUSED_FOLDER = ""
    fine, refused = _message("fine"), _message("refuse")
    _append(dovecot, mailbox.inbox, fine, refused)

    imap.poll_mailbox()
    imap.poll_mailbox()

    assert core.calls == [fine, refused]  # flagged mail is not offered again
    assert _contents(dovecot, mailbox.inbox) == [(fine, {"\\Seen"}), (refused, {"\\Seen", "\\Flagged"})]


def test_a_folder_it_may_not_create_means_flagging_instead(dovecot, mailbox, core, settings, caplog):
    settings.IMAP_DONE_FOLDER = "~done"  # Dovecot refuses names that begin with "~"
    fine = _message("fine")
    _append(dovecot, mailbox.inbox, fine)

    imap.poll_mailbox()
    imap.poll_mailbox()

    assert core.calls == [fine]
    assert _contents(dovecot, mailbox.inbox) == [(fine, {"\\Seen"})]
    assert "could not be created" in caplog.text


@pytest.mark.parametrize("security", ["starttls", "plain"])
def test_it_polls_over_starttls_and_plain_loopback_too(dovecot, mailbox, core, settings, security):
    settings.IMAP_SECURITY, settings.IMAP_PORT = security, dovecot.plain_port
    _append(dovecot, mailbox.inbox, _message("fine"))

    assert imap.poll_mailbox().received == 1


def test_it_refuses_a_server_whose_certificate_it_cannot_verify(dovecot, mailbox, core, settings):
    settings.IMAP_CA_FILE = ""  # the system's CAs do not know the test server's certificate
    _append(dovecot, mailbox.inbox, _message("fine"))

    with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED"):
        imap.poll_mailbox()
    assert core.calls == []


def test_a_wrong_password_fails_the_poll_visibly(dovecot, mailbox, core, settings):
    settings.IMAP_PASSWORD = "wrong"

    with pytest.raises(MailboxLoginError):
        imap.poll_mailbox()


def test_the_task_polls_and_returns_the_counts(dovecot, mailbox, core):
    _append(dovecot, mailbox.inbox, _message("fine"), _message("refuse"))

    result = poll_imap_mailbox.enqueue()

    assert result.return_value == {"received": 1, "refused": 1, "deferred": 0}


def test_the_poll_is_scheduled_only_when_a_mailbox_is_configured(settings, monkeypatch):
    scheduler.registered_jobs()  # import every tasks module first, so none registers into ours later
    jobs: dict[str, scheduler.PeriodicJob] = {}
    monkeypatch.setattr(scheduler, "_registry", jobs)
    settings.IMAP_HOST = ""
    assert schedule_imap_poll() is False
    assert jobs == {}

    settings.IMAP_HOST, settings.IMAP_POLL_SECONDS = "imap.example.org", 120
    assert schedule_imap_poll() is True
    assert jobs["bastion.intake.tasks.poll_imap_mailbox"].every == datetime.timedelta(minutes=2)


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"BASTION_IMAP_SECURITY": "none"}, "BASTION_IMAP_SECURITY: expected ssl, starttls or plain"),
        (
            {"BASTION_IMAP_HOST": "imap.example.org", "BASTION_IMAP_SECURITY": "plain"},
            "only allowed for a loopback",
        ),
        ({"BASTION_IMAP_HOST": "imap.example.org", "BASTION_IMAP_USER": "security"}, "BASTION_IMAP_PASSWORD"),
    ],
)
def test_an_unsafe_or_incomplete_imap_setting_stops_start_up(tmp_path, env, error):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    result = subprocess.run(
        [sys.executable, "-c", "import bastion.settings"],
        cwd=REPO,
        env={**clean, "BASTION_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert error in result.stderr
