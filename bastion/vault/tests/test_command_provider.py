"""CommandKeyProvider: master keys from an operator's script (a KMS, Vault or HSM behind it)."""

from __future__ import annotations

import base64
import stat
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from bastion.vault.envelope import new_data_key, unwrap_data_key, wrap_data_key
from bastion.vault.errors import MasterKeyUnavailable
from bastion.vault.keys import (
    CommandKeyProvider,
    RetirableKeyProvider,
    RotatableKeyProvider,
    get_key_provider,
)

# A stand-in for a KMS helper: keys as files in a store directory. The first argument may switch
# it into a misbehaving mode, so each failure the provider must handle is one real process away.
SCRIPT = """\
import base64, secrets, sys, time
from pathlib import Path

store = Path(sys.argv[1])
mode, args = sys.argv[2], sys.argv[3:]
(store / "calls.log").open("a").write(" ".join(args) + "\\n")
versions = sorted(int(p.stem[1:]) for p in store.glob("v*.key"))
if mode == "slow":
    time.sleep(30)
if mode == "chatty" and args[0] == "versions":
    print("1\\nv2-is-coming")
elif args == ["versions"]:
    print("\\n".join(map(str, versions)))
elif args[0] == "key":
    path = store / f"v{int(args[1])}.key"
    if mode == "leaky":
        print(path.read_text().strip())
        sys.exit("vault: permission denied for this key\\nTraceback with details")
    if not path.exists():
        sys.exit(f"no key version {args[1]} in the store")
    print(path.read_text().strip())
elif args == ["new"] and mode != "readonly":
    version = max(versions, default=0) + 1
    (store / f"v{version}.key").write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    print(version)
elif args[0] == "retire" and mode != "readonly":
    (store / f"v{int(args[1])}.key").unlink()
else:
    sys.exit(f"unsupported action: {args[0]}")
"""


@pytest.fixture
def store(tmp_path: Path) -> Path:
    directory = tmp_path / "kms"
    directory.mkdir()
    return directory


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "key-helper"
    path.write_text(f"#!{sys.executable}\n{SCRIPT}")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def helper(script: Path, store: Path, mode: str = "ok", **kwargs: float) -> CommandKeyProvider:
    return CommandKeyProvider([str(script), str(store), mode], **kwargs)


def put_key(store: Path, version: int) -> bytes:
    key = bytes(range(version, version + 32))
    (store / f"v{version}.key").write_text(base64.b64encode(key).decode())
    return key


def calls(store: Path) -> list[str]:
    return (store / "calls.log").read_text().splitlines()


def test_it_lists_versions_and_reads_each_key_from_the_command(script, store):
    first, second = put_key(store, 1), put_key(store, 2)
    provider = helper(script, store)

    assert provider.versions() == [1, 2]
    assert provider.current_version() == 2
    assert provider.master_key(1) == first
    assert provider.master_key(2) == second


def test_data_keys_wrapped_through_the_command_unwrap_again(script, store):
    put_key(store, 1)
    provider = helper(script, store)
    data_key = new_data_key()

    wrapped = wrap_data_key(data_key, master_version=1, subject="report:x", provider=provider)

    assert unwrap_data_key(wrapped, master_version=1, subject="report:x", provider=provider) == data_key


def test_it_asks_the_command_every_time_and_caches_nothing(script, store):
    put_key(store, 1)
    provider = helper(script, store)

    provider.master_key(1)
    provider.master_key(1)

    assert calls(store) == ["key 1", "key 1"]


def test_new_creates_the_next_version_and_retire_destroys_an_old_one(script, store):
    put_key(store, 1)
    provider = helper(script, store)
    assert isinstance(provider, RotatableKeyProvider)
    assert isinstance(provider, RetirableKeyProvider)

    assert provider.add_version() == 2
    provider.retire(1)

    assert provider.versions() == [2]
    with pytest.raises(MasterKeyUnavailable, match="no key version 1"):
        provider.master_key(1)


def test_it_refuses_to_retire_the_current_version(script, store):
    put_key(store, 1)
    provider = helper(script, store)

    with pytest.raises(ValueError, match="current"):
        provider.retire(1)

    assert provider.versions() == [1]


def test_a_failing_command_reports_its_first_stderr_line_and_never_its_stdout(script, store):
    put_key(store, 1)
    encoded = (store / "v1.key").read_text().strip()

    with pytest.raises(MasterKeyUnavailable) as caught:
        helper(script, store, "leaky").master_key(1)

    message = str(caught.value)
    assert "failed (exit 1): vault: permission denied for this key" in message
    assert "Traceback" not in message
    assert encoded not in message


def test_an_action_the_script_does_not_support_fails_with_its_message(script, store):
    put_key(store, 1)

    with pytest.raises(MasterKeyUnavailable, match="unsupported action: new"):
        helper(script, store, "readonly").add_version()


def test_a_command_that_hangs_is_stopped_after_the_timeout(script, store):
    with pytest.raises(MasterKeyUnavailable, match=r"did not answer within 0\.5 s"):
        helper(script, store, "slow", timeout=0.5).versions()


def test_a_missing_command_is_named_in_the_error(tmp_path):
    missing = tmp_path / "no-such-helper"

    with pytest.raises(MasterKeyUnavailable, match="key command not found"):
        CommandKeyProvider([str(missing)]).versions()


def test_output_that_is_not_a_version_number_is_refused_without_echoing_it(script, store):
    with pytest.raises(MasterKeyUnavailable, match="not a version number") as caught:
        helper(script, store, "chatty").versions()

    assert "v2-is-coming" not in str(caught.value)


def test_a_key_that_is_not_32_bytes_of_base64_is_refused(script, store):
    (store / "v1.key").write_text("c2hvcnQ=")  # base64 of b"short"

    with pytest.raises(ImproperlyConfigured, match="must be 32 bytes"):
        helper(script, store).master_key(1)


def test_with_no_versions_it_fails_rather_than_inventing_a_key(script, store):
    provider = helper(script, store)

    with pytest.raises(MasterKeyUnavailable, match="lists no master key versions"):
        provider.current_version()

    assert provider.versions() == []


def test_the_setting_is_split_like_shell_words(settings, script, store):
    put_key(store, 3)
    settings.VAULT_KEY_PROVIDER = "bastion.vault.keys.CommandKeyProvider"
    settings.VAULT_KEY_COMMAND = f"'{script}' '{store}' ok"

    provider = get_key_provider()

    assert isinstance(provider, CommandKeyProvider)
    assert provider.current_version() == 3


@pytest.mark.parametrize(
    ("command", "message"),
    [("", "BASTION_MASTER_KEY_COMMAND is not set"), ("helper 'unclosed", "cannot split it")],
)
def test_a_missing_or_malformed_command_setting_is_a_configuration_error(settings, command, message):
    settings.VAULT_KEY_PROVIDER = "bastion.vault.keys.CommandKeyProvider"
    settings.VAULT_KEY_COMMAND = command

    with pytest.raises(ImproperlyConfigured, match=message):
        get_key_provider()
