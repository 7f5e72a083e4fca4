import base64
import os

from bastion.vault.checks import check_master_keys
from bastion.vault.keys import FileKeyProvider


def ids(problems) -> list[str]:
    return [problem.id for problem in problems]


def test_a_master_key_inside_the_data_directory_is_flagged(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.MASTER_KEY_DIR = tmp_path / "keys"
    FileKeyProvider(tmp_path / "keys").current_version()

    assert ids(check_master_keys()) == ["vault.W001"]


def test_a_master_key_outside_the_data_directory_passes(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    key_file = tmp_path / "secrets" / "master.key"
    key_file.parent.mkdir()
    key_file.write_bytes(base64.b64encode(os.urandom(32)))
    key_file.chmod(0o600)
    settings.MASTER_KEY_FILE = str(key_file)

    assert check_master_keys() == []


def test_a_key_file_others_can_read_is_flagged(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    key_file = tmp_path / "master.key"
    key_file.write_bytes(base64.b64encode(os.urandom(32)))
    key_file.chmod(0o644)
    settings.MASTER_KEY_FILE = str(key_file)

    assert ids(check_master_keys()) == ["vault.W002"]


def test_other_providers_are_not_inspected(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.VAULT_KEY_PROVIDER = "bastion.vault.keys.EnvKeyProvider"

    assert check_master_keys() == []


def test_a_key_directory_inside_the_data_directory_is_flagged_before_any_key_exists(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.MASTER_KEY_DIR = tmp_path / "not-yet"

    assert ids(check_master_keys()) == ["vault.W001"]


def test_an_empty_key_directory_elsewhere_raises_no_warning(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.MASTER_KEY_DIR = tmp_path / "keys-not-yet"

    assert check_master_keys() == []
