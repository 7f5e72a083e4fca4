"""Download names: whatever a sender called a file, the header names a plain file and nothing more."""

from __future__ import annotations

import pytest

from bastion.portal.http import content_disposition, safe_filename


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\rita\\poc.py", "poc.py"),
        ("evil\r\nSet-Cookie: a=b", "evilSet-Cookie: a=b"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        (".bashrc", "bashrc"),
        ("", "attachment"),
        ("../", "attachment"),
        ("\x00\x07", "attachment"),
    ],
)
def test_it_keeps_only_a_plain_file_name(stored, shown):
    assert safe_filename(stored) == shown


def test_it_keeps_long_names_short_but_keeps_the_extension():
    name = safe_filename("a" * 400 + ".tar.gz")

    assert len(name) <= 150
    assert name.endswith(".gz")


def test_it_quotes_the_header_for_quotes_and_non_ascii_names():
    assert content_disposition('say "hi".txt') == 'attachment; filename="say \\"hi\\".txt"'
    assert content_disposition("résumé.pdf") == "attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf"
