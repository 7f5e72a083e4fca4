"""``bastion mailgate``: one message on stdin from an MTA's pipe transport, handed to Bastion over LMTP.

A thin client, by measurement. An MTA starts the mailgate once per message, and starting Django
costs far more than the delivery itself; so this module imports neither Django nor the rest of
Bastion (``bastion.cli`` dispatches here before Django loads) and speaks LMTP to the listener that
``bastion run`` keeps up, where Django is already warm. Median wall time per message (start, read
stdin, deliver 3 KB, exit), 50 runs of each, round-robin in one run on the shared 2-core dev
machine, against a listener whose ``receive_email`` returns at once:

=============================================================  ==========
``python -c pass`` (the interpreter alone, for scale)            39 ms
this client, ``bastion mailgate`` or ``python -m ...mailgate``    59 ms
the same delivery through ``smtplib``                             90 ms
``django.setup()`` alone, no delivery at all                     978 ms
``django.setup()`` + importing the intake and report services  1117 ms
=============================================================  ==========

Run as a bare script without site-packages (``python -I -S .../mailgate.py``, as the README's
Postfix example does), it starts in about 22 ms against 14 ms for the interpreter alone (medians of
30, ``benchmarks/email_intake.py``): it needs only the standard library, and of that only ``os``
and ``_socket`` (``socket`` and ``re`` once cost more than the rest of the start; see ``_connect``).

So a full start would cost 19 times the thin client before storing anything (RT's Perl mailgate,
for comparison, takes 58 ms just to start; STACK-NOTES.md). ``smtplib`` alone added 30 ms (it
imports ``ssl`` and much of ``email``), hence the few lines of client LMTP below: greeting, LHLO,
MAIL, RCPT, DATA with dot-stuffing, tested against the real listener. The listener is the one place
that applies the size limit and writes the bounce texts, for the MTA's own LMTP and for this pipe
alike; the mailgate learns the limit from LHLO's SIZE and reads no more than that.

If the listener is not running the mailgate exits 75: the MTA keeps the message and retries.

Exit status (sysexits.h, which Postfix's pipe(8) and Exim's pipe transport understand):

- 0: the message is committed (the listener answered 250 after ``receive_email`` returned).
- 75 EX_TEMPFAIL: anything that may work later: the listener is down or slow, a 4xx reply, a
  missing recipient (a configuration mistake to fix; meanwhile the mail waits in the queue).
- 67 EX_NOUSER: the recipient was refused (5xx at RCPT).
- 65 EX_DATAERR: the message was refused (5xx at MAIL or DATA: too big, or ``MailRefused``).

Output: at most one line, ``D.S.N text``, the first thing written. On a non-zero exit Postfix takes a
leading enhanced status code over the exit status and quotes the text in the bounce (pipe(8),
pipe_command.c; checked here with Postfix 3.7's pipe transport: a refusal bounced with dsn=5.6.0 and
the core's text, a temporary failure was deferred with 4.3.0); Exim returns the text with
``return_fail_output``. The envelope sender is not passed on:
``receive_email`` does not take one, so MAIL FROM is always the null path.
"""

from __future__ import annotations

import _socket  # socket.py's C half: see _connect for why not socket itself
import os
import sys

# The typing module alone costs several ms per start; annotations are strings here anyway.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import BinaryIO, TextIO

EX_OK = 0
EX_DATAERR = 65
EX_NOUSER = 67
EX_TEMPFAIL = 75

DEFAULT_LISTEN = "127.0.0.1:8024"
# Used only if the listener does not announce SIZE in its LHLO reply (it always does).
FALLBACK_MAX_BYTES = 25 * 1024 * 1024
CONNECT_SECONDS = 10.0
# receive_email may decrypt and seal a large message; Postfix's own command_time_limit is 1000 s.
REPLY_SECONDS = 300.0
# Postfix copies only about 2 KB of output into the bounce.
MAX_OUTPUT = 1000
# RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; anything far longer is not our listener.
MAX_REPLY_LINE = 4096

USAGE = """\
usage: bastion mailgate [--recipient ADDRESS] [--lmtp HOST:PORT] < message

Delivers one message from stdin to Bastion's LMTP listener. The recipient defaults to
$ORIGINAL_RECIPIENT or $RECIPIENT (set by Postfix local(8) and Exim), the listener to
$BASTION_LMTP_LISTEN or 127.0.0.1:8024. Exits 0 once the message is stored, 75 to retry
later, 65 or 67 to bounce, printing "D.S.N reason" first.
"""

# Postfix pipes a message with bare LF line ends; the listener splits lines at CRLF only, so a
# bare-LF message would arrive as one long line with its dot-stuffing left in. Plain bytes
# methods do the rewriting below: the ``re`` module alone costs a few ms of every start.
CRLF = b"\r\n"
# Characters that would end or bend an LMTP command line.
_UNSAFE_IN_ADDRESS = frozenset("<>\x7f")


class UsageError(Exception):
    pass


class Done(Exception):
    """How the delivery ended, if not with 250: the exit status and the line to print."""

    def __init__(self, status: int, line: str) -> None:
        super().__init__(line)
        self.status = status
        self.line = line


def main(argv: list[str], *, stdin: BinaryIO | None = None, stdout: TextIO | None = None) -> int:
    out = stdout or sys.stdout
    try:
        parsed = _parse(argv, os.environ)
        if parsed is None:
            out.write(USAGE)
            return EX_OK
        recipient, host, port = parsed
        deliver(stdin or sys.stdin.buffer, recipient=recipient, host=host, port=port)
    except UsageError as exc:
        # Temporary on purpose: a mistake in the MTA's configuration should hold mail, not bounce it.
        return _finish(out, Done(EX_TEMPFAIL, f"4.3.5 bastion mailgate: {exc}"))
    except Done as done:
        return _finish(out, done)
    except OSError as exc:
        # Refused or reset connection, timeout, the listener going away mid-reply: not stored.
        return _finish(out, Done(EX_TEMPFAIL, f"4.4.1 Bastion's mail listener did not answer ({_name(exc)})"))
    return EX_OK


def deliver(stdin: BinaryIO, *, recipient: str, host: str, port: int) -> None:
    """Send stdin over LMTP; return once the listener answered 250 to the data, else raise ``Done``."""
    if any(char < " " or char in _UNSAFE_IN_ADDRESS for char in recipient):
        raise Done(EX_NOUSER, "5.1.3 Bad recipient address syntax")
    sock = _connect(host, port)
    try:
        lmtp = _Connection(sock)
        _expect(lmtp.reply(), "greeting")
        features = _expect(lmtp.command("LHLO localhost"), "LHLO")
        limit = _announced_size(features) or FALLBACK_MAX_BYTES
        raw = stdin.read(limit + 1)
        if len(raw) > limit:
            _drain(stdin)  # so the MTA is not left writing into a closed pipe
        else:
            raw = with_crlf(raw)
        sock.settimeout(REPLY_SECONDS)
        utf8 = "" if recipient.isascii() else " SMTPUTF8"
        # Over the limit, the declared SIZE draws the listener's 552 and its bounce text.
        _expect(lmtp.command(f"MAIL FROM:<> SIZE={len(raw)}{utf8}"), "MAIL")
        if len(raw) > limit:
            raise Done(EX_DATAERR, f"5.3.4 Message too big: the limit is {limit} bytes")
        _expect(lmtp.command(f"RCPT TO:<{recipient}>"), "RCPT")
        _expect(lmtp.command("DATA"), "DATA")
        _expect(lmtp.data(raw), "DATA")
        try:  # noqa: SIM105 - contextlib would be one more import per message
            lmtp.command("QUIT")
        except OSError:
            pass  # committed already; a lost goodbye changes nothing
    finally:
        sock.close()


def with_crlf(raw: bytes) -> bytes:
    """``raw`` with every bare LF made CRLF (the wire form); CRLF already there stays as it is."""
    return raw.replace(CRLF, b"\n").replace(b"\n", CRLF)


def dot_stuffed(raw: bytes) -> bytes:
    """``raw`` with a second dot before each line's leading dot (RFC 5321 §4.5.2)."""
    body = raw.replace(b"\n.", b"\n..")
    return b"." + body if body.startswith(b".") else body


def _connect(host: str, port: int) -> _socket.socket:
    """A connected stream socket to the listener, as ``socket.create_connection`` would make it.

    ``import socket`` pulls in ``enum`` and ``selectors``: measured here, about half of this
    client's start (``python -I -S -c "import socket"`` 48 ms median against 19 ms for
    ``import _socket``). The C module does all a single blocking delivery needs.
    """
    error: OSError | None = None
    for family, kind, proto, _name, address in _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        try:
            sock.settimeout(CONNECT_SECONDS)
            sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        return sock
    raise error or ConnectionError("the listener's address resolved to nothing")


class _Connection:
    """The client half of LMTP that a single delivery needs (RFC 2033, on RFC 5321's syntax)."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _line(self) -> bytes:
        """The next line with its LF, or what came before the peer stopped or the line got too long."""
        while True:
            end = self.buffer.find(b"\n", 0, MAX_REPLY_LINE)
            if end >= 0:
                line, self.buffer = self.buffer[: end + 1], self.buffer[end + 1 :]
                return line
            if len(self.buffer) >= MAX_REPLY_LINE:
                return self.buffer[:MAX_REPLY_LINE]
            chunk = self.sock.recv(4096)
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line
            self.buffer += chunk

    def reply(self) -> tuple[int, list[str]]:
        """One reply, perhaps multi-line (``250-...`` then ``250 ...``): its code and text lines."""
        lines: list[str] = []
        while True:
            line = self._line()
            if not line.endswith(b"\n") or not line[:3].isdigit() or line[3:4] not in (b" ", b"-", b"\r"):
                raise ConnectionError("no proper reply from the listener")
            lines.append(line[4:].decode("utf-8", "replace").strip())
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def command(self, line: str) -> tuple[int, list[str]]:
        self.sock.sendall(line.encode("utf-8") + CRLF)
        return self.reply()

    def data(self, raw: bytes) -> tuple[int, list[str]]:
        """The message, dot-stuffed and ended with ``CRLF . CRLF``; then the (one recipient's) reply."""
        body = dot_stuffed(raw)
        if not body.endswith(CRLF):
            body += CRLF
        self.sock.sendall(body + b".\r\n")
        return self.reply()


def _expect(reply: tuple[int, list[str]], stage: str) -> list[str]:
    """The reply's lines if it is a success (2xx, or 354 to DATA), else the matching ``Done``."""
    code, lines = reply
    if 200 <= code < 300 or (code == 354 and stage == "DATA"):
        return lines
    line = _status_line(code, lines)
    if code >= 500 and stage == "RCPT":
        raise Done(EX_NOUSER, line)
    if code >= 500 and stage in ("MAIL", "DATA"):
        raise Done(EX_DATAERR, line)
    # 4xx anywhere, and 5xx to the greeting or LHLO: the listener's problem, not the message's.
    raise Done(EX_TEMPFAIL, "4" + line[1:] if line.startswith("5") else line)


def _status_line(code: int, lines: list[str]) -> str:
    """``D.S.N text`` from a reply's lines, the status class matching the reply code's."""
    dsn = _leading_dsn(lines[0]) if lines else ""
    text = " ".join(" ".join(line.removeprefix(dsn).split()) for line in lines).strip()
    klass = str(code // 100)
    dsn = klass + dsn[1:] if dsn else f"{klass}.0.0"
    return f"{dsn} {text}"[:MAX_OUTPUT]


def _leading_dsn(text: str) -> str:
    """The enhanced status code (``5.1.1``) that starts ``text``, or "" if it does not start with one."""
    word = text.split(None, 1)[0] if text and not text[0].isspace() else ""
    klass, *rest = word.split(".")
    numbers = len(rest) == 2 and all(0 < len(n) <= 3 and n.isdecimal() and n.isascii() for n in rest)
    return word if klass in ("2", "4", "5") and numbers else ""


def _announced_size(features: list[str]) -> int:
    for feature in features:
        name, _, value = feature.partition(" ")
        if name.upper() == "SIZE" and value.strip().isdigit():
            return int(value)
    return 0


def _drain(stdin: BinaryIO) -> None:
    while stdin.read(1024 * 1024):
        pass


def _finish(out: TextIO, done: Done) -> int:
    out.write(done.line + "\n")
    out.flush()
    return done.status


def _name(exc: BaseException) -> str:
    return type(exc).__name__


def _parse(argv: list[str], env: Mapping[str, str]) -> tuple[str, str, int] | None:
    """(recipient, host, port), or None for --help. By hand: argparse adds ms to every message."""
    values = {
        "--recipient": env.get("ORIGINAL_RECIPIENT") or env.get("RECIPIENT") or "",
        "--lmtp": env.get("BASTION_LMTP_LISTEN") or DEFAULT_LISTEN,
    }
    args = list(argv)
    while args:
        name = args.pop(0)
        if name in ("-h", "--help"):
            return None
        name, sep, value = name.partition("=")
        if name not in values:
            raise UsageError(f"unknown option {name!r} (see bastion mailgate --help)")
        if not sep:
            if not args:
                raise UsageError(f"{name} needs a value")
            value = args.pop(0)
        values[name] = value
    if not values["--recipient"]:
        raise UsageError("no recipient: pass --recipient ${recipient} in the MTA's pipe command")
    host, port = _listen_address(values["--lmtp"])
    return values["--recipient"], host, port


def _listen_address(raw: str) -> tuple[str, int]:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"expected HOST:PORT for the LMTP listener, got {raw!r}")
    host = host.strip("[]")
    # A listener bound to every address is reached on loopback.
    return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host), int(port)  # noqa: S104 - a client


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
