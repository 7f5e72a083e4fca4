"""The CSAF provider tree under /.well-known/csaf/: metadata, directory, hashes, signatures, index."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from bastion.accounts.models import User
from bastion.disclosure.exports.testing import (
    MINIMAL,
    RICH,
    csaf_cli,
    csaf_validate,
    publish_sample,
    sample_meta,
)
from bastion.disclosure.models import Advisory, DocumentKind, PublishedDocument
from bastion.vault.orgkey import get_org_public_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cve_org")]
ROOT = "/.well-known/csaf"
FIRST_PATH = "2026/bastion-sa-2026-0001.json"
SECOND_PATH = "2027/bastion-sa-2027-0002.json"


@pytest.fixture(autouse=True)
def _base_url(settings: Settings) -> None:
    settings.BASE_URL = "https://bastion.example"


@pytest.fixture
def two_published(alice: User) -> tuple[Advisory, Advisory]:
    first = publish_sample(author=alice)
    second_meta = sample_meta(
        "BASTION-SA-2027-0002", initial_release="2027-01-02T03:04:05Z", current_release="2027-01-02T03:04:05Z"
    )
    second = publish_sample(author=alice, content=MINIMAL, meta=second_meta)
    return first, second


@pytest.fixture
def gpg_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, timeout=30)


def _gpg(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = ["gpg", "--homedir", str(home), "--batch", "--no-tty", *args]
    return subprocess.run(command, capture_output=True, check=False, timeout=120)


def test_provider_metadata_names_the_directory_the_key_and_the_publisher(
    client: Client, settings: Settings
) -> None:
    response = client.get(f"{ROOT}/provider-metadata.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    metadata = response.json()
    key = get_org_public_key()
    # CSAF 2.0 section 7.2.1's required members and the values CSAF 2.0 allows for them (the
    # official provider schema is not installable; see bastion/disclosure/schemas/README.md).
    assert set(metadata) == {
        "canonical_url",
        "distributions",
        "last_updated",
        "list_on_CSAF_aggregators",
        "metadata_version",
        "mirror_on_CSAF_aggregators",
        "public_openpgp_keys",
        "publisher",
        "role",
    }
    assert metadata["canonical_url"] == f"https://bastion.example{ROOT}/provider-metadata.json"
    assert metadata["distributions"] == [{"directory_url": f"https://bastion.example{ROOT}/white/"}]
    assert metadata["metadata_version"] == "2.0"
    assert metadata["role"] == "csaf_trusted_provider"
    assert metadata["list_on_CSAF_aggregators"] is False
    assert metadata["mirror_on_CSAF_aggregators"] is False
    assert metadata["public_openpgp_keys"] == [
        {"fingerprint": key.fingerprint, "url": "https://bastion.example/.well-known/security-key.asc"}
    ]
    assert metadata["publisher"] == {
        "category": "vendor",
        "name": settings.PUBLISHER_NAME,
        "namespace": settings.PUBLISHER_NAMESPACE,
    }
    assert datetime.strptime(metadata["last_updated"], "%Y-%m-%dT%H:%M:%SZ")


def test_last_updated_is_when_a_document_last_changed(client: Client, two_published: tuple) -> None:
    PublishedDocument.objects.filter(kind=DocumentKind.CSAF).update(
        updated_at=datetime(2027, 5, 6, 7, 8, 9, tzinfo=UTC)
    )
    assert client.get(f"{ROOT}/provider-metadata.json").json()["last_updated"] == "2027-05-06T07:08:09Z"


def test_index_and_changes_list_every_document(client: Client, two_published: tuple) -> None:
    index = client.get(f"{ROOT}/white/index.txt")
    assert index["Content-Type"] == "text/plain; charset=utf-8"
    assert index.content.decode() == f"{FIRST_PATH}\n{SECOND_PATH}\n"
    changes = client.get(f"{ROOT}/white/changes.csv")
    assert changes["Content-Type"] == "text/plain; charset=utf-8"
    assert changes.content.decode() == (
        f'"{SECOND_PATH}","2027-01-02T03:04:05Z"\n"{FIRST_PATH}","2026-03-01T12:00:00Z"\n'
    )


def test_each_document_is_served_as_signed_with_its_hash_and_signature(
    client: Client, two_published: tuple, tmp_path: Path, gpg_home: Path
) -> None:
    response = client.get(f"{ROOT}/white/{FIRST_PATH}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    folder = tmp_path / "2026"
    folder.mkdir()
    (folder / "bastion-sa-2026-0001.json").write_bytes(response.content)
    checksum = client.get(f"{ROOT}/white/{FIRST_PATH}.sha256")
    assert checksum["Content-Type"] == "text/plain; charset=utf-8"
    (folder / "bastion-sa-2026-0001.json.sha256").write_bytes(checksum.content)
    checked = subprocess.run(
        ["sha256sum", "-c", "bastion-sa-2026-0001.json.sha256"], cwd=folder, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    signature = client.get(f"{ROOT}/white/{FIRST_PATH}.asc")
    assert signature.content.startswith(b"-----BEGIN PGP SIGNATURE-----")
    (folder / "bastion-sa-2026-0001.json.asc").write_bytes(signature.content)
    key_file = tmp_path / "security-key.asc"
    key_file.write_bytes(client.get("/.well-known/security-key.asc").content)
    assert _gpg(gpg_home, "--import", str(key_file)).returncode == 0
    verified = _gpg(
        gpg_home,
        "--verify",
        str(folder / "bastion-sa-2026-0001.json.asc"),
        str(folder / "bastion-sa-2026-0001.json"),
    )
    assert verified.returncode == 0, verified.stderr
    assert get_org_public_key().fingerprint.encode() in verified.stderr.replace(b" ", b"")
    (folder / "bastion-sa-2026-0001.json").write_bytes(response.content.replace(b"Remote", b"Remove"))
    tampered = _gpg(
        gpg_home,
        "--verify",
        str(folder / "bastion-sa-2026-0001.json.asc"),
        str(folder / "bastion-sa-2026-0001.json"),
    )
    assert tampered.returncode != 0


def test_the_served_document_passes_the_csaf_validator(
    client: Client, two_published: tuple, tmp_path: Path
) -> None:
    target = tmp_path / "served.json"
    target.write_bytes(client.get(f"{ROOT}/white/{FIRST_PATH}").content)
    result = csaf_validate(target)
    assert result.returncode == 0, result.stdout


def _mirror(client: Client, root: Path) -> None:
    """Download the TLP:WHITE directory as a mirror would: index, changes, each document."""
    root.mkdir()
    index = client.get(f"{ROOT}/white/index.txt").content
    (root / "index.txt").write_bytes(index)
    (root / "changes.csv").write_bytes(client.get(f"{ROOT}/white/changes.csv").content)
    for path in index.decode().splitlines():
        (root / path).parent.mkdir(exist_ok=True)
        (root / path).write_bytes(client.get(f"{ROOT}/white/{path}").content)


def _audit(root: Path) -> str:
    result = subprocess.run(
        [csaf_cli(), "distribute", "audit", str(root)], capture_output=True, text=True, check=False
    )
    return result.stdout


def test_the_directory_passes_the_csaf_distribution_audit(
    client: Client, two_published: tuple, tmp_path: Path
) -> None:
    root = tmp_path / "white"
    _mirror(client, root)
    report = _audit(root)
    assert "year-folders: PASS" in report
    assert "index-txt: PASS" in report
    # The audit reads changes.csv in CSAF 2.1's column order (date first); CSAF 2.0's requirement
    # 13 puts the path first, as served. Check 2.0's rule here: each path exists, newest first.
    rows = [line.split(",") for line in (root / "changes.csv").read_text().splitlines()]
    assert all((root / path.strip('"')).is_file() for path, _ in rows)
    dates = [date.strip('"') for _, date in rows]
    assert dates == sorted(dates, reverse=True)
    # The audit can fail: a document the index does not list.
    (root / "2026" / "bastion-sa-2026-0009.json").write_text("{}")
    assert "advisory not listed: 2026/bastion-sa-2026-0009.json" in _audit(root)


def test_directory_listings_link_year_folders_and_files(client: Client, two_published: tuple) -> None:
    top = client.get(f"{ROOT}/white/").content.decode()
    for entry in ("2027/", "2026/", "index.txt", "changes.csv"):
        assert f'href="{entry}"' in top
    year = client.get(f"{ROOT}/white/2026/").content.decode()
    for entry in (
        "bastion-sa-2026-0001.json",
        "bastion-sa-2026-0001.json.sha256",
        "bastion-sa-2026-0001.json.asc",
    ):
        assert f'href="{entry}"' in year
    assert client.get(f"{ROOT}/white/2019/").status_code == 404


def test_it_rejects_documents_of_an_advisory_never_published(client: Client, alice: User) -> None:
    advisory = publish_sample(author=alice)
    Advisory.objects.filter(pk=advisory.pk).update(published_at=None)
    for suffix in ("", ".sha256", ".asc"):
        assert client.get(f"{ROOT}/white/{FIRST_PATH}{suffix}").status_code == 404
    assert client.get(f"{ROOT}/white/index.txt").content == b""
    assert client.get(f"{ROOT}/white/changes.csv").content == b""
    assert client.get(f"{ROOT}/white/2026/").status_code == 404


def test_unknown_documents_and_other_methods_are_refused(client: Client, two_published: tuple) -> None:
    assert client.get(f"{ROOT}/white/2026/bastion-sa-2026-0404.json").status_code == 404
    assert client.post(f"{ROOT}/white/{FIRST_PATH}").status_code == 405
    assert client.post(f"{ROOT}/provider-metadata.json").status_code == 405


def test_an_empty_provider_still_serves_valid_metadata_and_empty_lists(client: Client) -> None:
    assert client.get(f"{ROOT}/white/index.txt").content == b""
    assert client.get(f"{ROOT}/white/changes.csv").content == b""
    assert client.get(f"{ROOT}/provider-metadata.json").json()["distributions"]
    assert 'href="index.txt"' in client.get(f"{ROOT}/white/").content.decode()


def test_the_rich_sample_is_what_the_first_document_holds(client: Client, two_published: tuple) -> None:
    served = json.loads(client.get(f"{ROOT}/white/{FIRST_PATH}").content)
    assert served["document"]["title"] == RICH.title
    assert served["document"]["tracking"]["id"] == "BASTION-SA-2026-0001"
