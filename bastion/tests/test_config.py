"""The environment readers: typed values, and errors that name the variable."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from bastion import config


def test_it_reads_booleans_in_the_usual_spellings(monkeypatch):
    for raw, expected in [
        ("1", True),
        ("yes", True),
        ("ON", True),
        ("0", False),
        ("off", False),
        ("", False),
    ]:
        monkeypatch.setenv("BASTION_X", raw)
        assert config.env_bool("BASTION_X") is expected
    monkeypatch.delenv("BASTION_X")
    assert config.env_bool("BASTION_X", True) is True


def test_it_rejects_a_boolean_it_cannot_read_and_names_the_variable(monkeypatch):
    monkeypatch.setenv("BASTION_HTTPS", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"BASTION_HTTPS.*'maybe'"):
        config.env_bool("BASTION_HTTPS")


def test_it_checks_whole_numbers_and_their_range(monkeypatch):
    monkeypatch.setenv("BASTION_N", "12")
    assert config.env_int("BASTION_N", 5, minimum=1, maximum=20) == 12
    monkeypatch.setenv("BASTION_N", "")
    assert config.env_int("BASTION_N", 5) == 5
    monkeypatch.setenv("BASTION_N", "twelve")
    with pytest.raises(ImproperlyConfigured, match="BASTION_N: expected a whole number"):
        config.env_int("BASTION_N", 5)
    monkeypatch.setenv("BASTION_N", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1, got 0"):
        config.env_int("BASTION_N", 5, minimum=1)
    monkeypatch.setenv("BASTION_N", "99")
    with pytest.raises(ImproperlyConfigured, match="at most 20"):
        config.env_int("BASTION_N", 5, minimum=1, maximum=20)


def test_it_reads_secrets_from_a_file_variant(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret-value\n")
    monkeypatch.setenv("BASTION_SMTP_PASSWORD_FILE", str(secret))
    assert config.env_str("BASTION_SMTP_PASSWORD") == "s3cret-value"
    monkeypatch.setenv("BASTION_SMTP_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ImproperlyConfigured, match="BASTION_SMTP_PASSWORD_FILE: cannot read"):
        config.env_str("BASTION_SMTP_PASSWORD")


def test_it_splits_lists_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("BASTION_ALLOWED_HOSTS", " a.example , ,b.example")
    assert config.env_list("BASTION_ALLOWED_HOSTS", []) == ["a.example", "b.example"]
    monkeypatch.delenv("BASTION_ALLOWED_HOSTS")
    assert config.env_list("BASTION_ALLOWED_HOSTS", ["x"]) == ["x"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("127.0.0.1:8000", ("127.0.0.1", 8000)), ("[::1]:9000", ("::1", 9000)), ("0.0.0.0:80", ("0.0.0.0", 80))],  # noqa: S104
)
def test_it_reads_a_listen_address(monkeypatch, raw, expected):
    monkeypatch.setenv("BASTION_LISTEN", raw)
    assert config.env_listen("BASTION_LISTEN", "x:1") == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("8000", "expected host:port"),
        ("localhost:http", "the port must be a number"),
        ("localhost:70000", "the port must be between 1"),
    ],
)
def test_it_rejects_a_bad_listen_address(monkeypatch, raw, message):
    monkeypatch.setenv("BASTION_LISTEN", raw)
    with pytest.raises(ImproperlyConfigured, match=f"BASTION_LISTEN: {message}"):
        config.env_listen("BASTION_LISTEN", "x:1")


def test_it_turns_a_postgres_url_into_a_database_entry():
    entry = config.database_from_url("postgres://bob:p%40ss@db.internal:5433/bastion")
    assert entry["ENGINE"] == "django.db.backends.postgresql"
    assert (entry["NAME"], entry["USER"], entry["PASSWORD"]) == ("bastion", "bob", "p@ss")
    assert (entry["HOST"], entry["PORT"]) == ("db.internal", "5433")


def test_it_accepts_an_sqlite_url_with_the_durable_pragmas():
    entry = config.database_from_url("sqlite:////tmp/x.sqlite3")
    assert entry["NAME"] == "/tmp/x.sqlite3"
    options = entry["OPTIONS"]
    assert isinstance(options, dict)
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "synchronous=FULL" in options["init_command"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x/y", "unsupported scheme 'mysql'"),
        ("postgres://host", "name the database"),
        ("postgres://host:port/db", "the port is not a number"),
    ],
)
def test_it_rejects_a_database_url_it_cannot_use(url, message):
    with pytest.raises(ImproperlyConfigured, match=f"DATABASE_URL: {message}"):
        config.database_from_url(url)


def test_a_generated_secret_is_private_and_stable(tmp_path):
    path = tmp_path / "keys" / "secret_key"
    first = config.secret_from_file(path)
    assert len(first) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config.secret_from_file(path) == first


def test_the_data_dir_and_its_parts_are_private(tmp_path):
    data = config.ensure_data_dir(tmp_path / "var")
    for sub in ("", "keys", "files", "outbox"):
        assert stat.S_IMODE((data / sub).stat().st_mode) == 0o700
    assert isinstance(data, Path)
