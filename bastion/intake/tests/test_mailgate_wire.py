"""The mailgate's wire form: line ends, dot-stuffing, status codes, and what its start imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.intake.mail import mailgate

MAILGATE = Path(mailgate.__file__)
# Bytes rich in what the rewriting is about: line ends and dots.
pieces = st.sampled_from([b"\r\n", b"\n", b"\r", b".", b"..", b"a", b" "])
messages = st.lists(pieces, max_size=40).map(b"".join)


@given(messages)
def test_every_line_end_leaves_as_crlf_and_nothing_else_changes(raw):
    wire = mailgate.with_crlf(raw)

    assert b"\n" not in wire.replace(b"\r\n", b"")
    assert wire.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")


@given(messages)
def test_dot_stuffing_doubles_each_leading_dot_and_undoes_exactly(raw):
    wire = mailgate.dot_stuffed(mailgate.with_crlf(raw))
    lines = wire.split(b"\r\n")

    assert all(line.startswith(b"..") for line in lines if line.startswith(b"."))
    assert b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines) == mailgate.with_crlf(
        raw
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("5.1.1 No such mailbox here", "5.1.1"),
        ("4.3.0", "4.3.0"),
        ("2.0.0 Delivered", "2.0.0"),
        ("5.1.1x no", ""),
        ("6.1.1 not a class", ""),
        ("5.1234.1 too long", ""),
        ("5.1 too short", ""),
        ("No code at all", ""),
        ("", ""),
    ],
)
def test_only_a_real_enhanced_status_code_is_taken_from_a_reply(text, code):
    assert mailgate._leading_dsn(text) == code


def test_the_bare_script_starts_without_the_modules_that_cost_most_of_a_start():
    # socket.py brings enum and selectors, about half of a start here; re a few ms more.
    probe = (
        "import sys\n"
        "sys.argv = ['mailgate.py', '--help']\n"
        f"code = compile(open({str(MAILGATE)!r}).read(), 'mailgate.py', 'exec')\n"
        "try:\n"
        "    exec(code, {'__name__': '__main__'})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted({'socket', 're', 'enum', 'selectors', 'typing'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.startswith("usage: bastion mailgate")
    assert result.stdout.splitlines()[-1] == "[]"
