"""Publishing the exports: built, validated, hashed, signed by the org key, and stored; or nothing at all."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest
from pytest_django.fixtures import Settings

from bastion.accounts.models import User
from bastion.disclosure.exports.publish import (
    ExportInvalid,
    check_exports,
    export_kinds,
    publish_documents,
)
from bastion.disclosure.exports.signing import canonical_bytes, sha256_file_line
from bastion.disclosure.exports.testing import MINIMAL, RICH, publish_sample, sample_meta, updated_meta
from bastion.disclosure.models import DocumentKind, PublishedDocument
from bastion.lib.openpgp import verify_detached
from bastion.vault.orgkey import get_org_public_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cve_org")]


def test_each_kind_is_stored_as_canonical_json_with_its_hash_and_a_good_signature(alice: User) -> None:
    advisory = publish_sample(author=alice)
    documents = {d.kind: d for d in PublishedDocument.objects.filter(advisory=advisory)}
    assert set(documents) == {"csaf", "osv", "cve"}
    assert documents["csaf"].path == "2026/bastion-sa-2026-0001.json"
    assert documents["osv"].path == documents["cve"].path == "BASTION-SA-2026-0001.json"
    key = get_org_public_key()
    for document in documents.values():
        data = document.content.encode()
        assert data == canonical_bytes(json.loads(data))
        assert data.endswith(b"}\n")
        assert document.sha256 == hashlib.sha256(data).hexdigest()
        assert verify_detached(data, document.signature, signers=[key]) == key.fingerprint
        assert verify_detached(data + b" ", document.signature, signers=[key]) is None


def test_an_update_rewrites_the_documents_in_place(alice: User) -> None:
    advisory = publish_sample(author=alice)
    before = {d.kind: (d.pk, d.sha256) for d in PublishedDocument.objects.filter(advisory=advisory)}
    publish_documents(advisory=advisory, content=RICH, meta=updated_meta())
    after = {d.kind: (d.pk, d.sha256) for d in PublishedDocument.objects.filter(advisory=advisory)}
    assert {kind: pk for kind, (pk, _) in after.items()} == {kind: pk for kind, (pk, _) in before.items()}
    # CSAF and OSV state the update (revision, modified); a CNA container has no such field.
    assert [kind for kind in after if after[kind][1] != before[kind][1]] == ["csaf", "osv"]
    csaf = json.loads(PublishedDocument.objects.get(advisory=advisory, kind="csaf").content)
    assert csaf["document"]["tracking"]["version"] == "2"


def test_a_kind_that_no_longer_applies_loses_its_document(alice: User) -> None:
    advisory = publish_sample(author=alice)
    publish_documents(advisory=advisory, content=replace(MINIMAL, cve_id=""), meta=updated_meta())
    assert list(PublishedDocument.objects.filter(advisory=advisory).values_list("kind", flat=True)) == [
        "csaf"
    ]


def test_an_invalid_export_writes_nothing_and_says_why(alice: User, settings: Settings) -> None:
    advisory = publish_sample(author=alice, content=MINIMAL)
    stored = list(PublishedDocument.objects.filter(advisory=advisory).values_list("kind", "sha256"))
    settings.CVE_ORG_ID = ""
    with pytest.raises(ExportInvalid) as raised:
        publish_documents(advisory=advisory, content=RICH, meta=updated_meta())
    assert raised.value.kind == "cve"
    assert "BASTION_CVE_ORG_ID is not set" in raised.value.problems[0]
    assert str(raised.value).startswith(
        "The CVE JSON 5.1 (CNA container) export is not valid, so nothing was published"
    )
    assert list(PublishedDocument.objects.filter(advisory=advisory).values_list("kind", "sha256")) == stored


@pytest.mark.parametrize(("status", "tlp"), [("draft", "AMBER"), ("final", "AMBER"), ("draft", "WHITE")])
def test_a_draft_or_restricted_document_never_enters_the_public_directory(
    alice: User, status: str, tlp: str
) -> None:
    advisory = publish_sample(author=alice)
    with pytest.raises(ExportInvalid, match="stays out of the public directory"):
        publish_documents(advisory=advisory, content=RICH, meta=sample_meta(status=status, tlp=tlp))


def test_kinds_follow_the_content() -> None:
    assert export_kinds(RICH) == [DocumentKind.CSAF, DocumentKind.OSV, DocumentKind.CVE]
    assert export_kinds(MINIMAL) == [DocumentKind.CSAF]
    assert export_kinds(replace(MINIMAL, cve_id="CVE-2026-1")) == [DocumentKind.CSAF, DocumentKind.CVE]


def test_the_checklist_sees_every_applicable_kind_and_its_problems(settings: Settings) -> None:
    assert check_exports(RICH, sample_meta()) == {"csaf": [], "osv": [], "cve": []}
    settings.CVE_ORG_ID = ""
    problems = check_exports(replace(RICH, affected=()), sample_meta())
    assert set(problems) == {"csaf", "cve"}
    assert problems["csaf"][0].startswith("CSAF: the advisory names no affected product")
    assert problems["cve"][0].startswith("CVE: BASTION_CVE_ORG_ID is not set")


def test_the_sha256_file_reads_as_sha256sum_writes_it() -> None:
    assert sha256_file_line("ab" * 32, "x.json") == f"{'ab' * 32}  x.json\n"
