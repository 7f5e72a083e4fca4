"""CSAF 2.0 export: the official JSON schema and the ``csaf`` validator's mandatory tests (CSAF 2.0 §6.1)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cvss import CVSS3

from bastion.disclosure.content import AffectedPackage, RevisionEntry
from bastion.disclosure.exports.csaf import build_csaf, csaf_path, csaf_url
from bastion.disclosure.exports.testing import (
    MINIMAL,
    RICH,
    csaf_validate,
    sample_meta,
    updated_meta,
    withdrawn_meta,
)
from bastion.disclosure.exports.validate import validate_export
from bastion.reports.cwe import cwe_name


def _passes_both(document: dict[str, Any], tmp_path: Path) -> None:
    assert validate_export("csaf", document) == []
    target = tmp_path / "advisory.json"
    target.write_text(json.dumps(document, indent=2))
    result = csaf_validate(target)
    assert result.returncode == 0, result.stdout + result.stderr


def _product_ids(branches: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for branch in branches:
        if "product" in branch:
            found[branch["product"]["product_id"]] = branch
        found.update(_product_ids(branch.get("branches", [])))
    return found


def test_a_rich_advisory_passes_the_schema_and_the_mandatory_tests(tmp_path: Path) -> None:
    _passes_both(build_csaf(RICH, sample_meta()), tmp_path)


def test_a_minimal_advisory_about_a_hosted_service_passes_too(tmp_path: Path) -> None:
    document = build_csaf(MINIMAL, sample_meta(credits=()))
    _passes_both(document, tmp_path)
    vulnerability = document["vulnerabilities"][0]
    assert "scores" not in vulnerability
    assert [r["category"] for r in vulnerability["remediations"]] == ["none_available"]
    assert "acknowledgments" not in document["document"]


def test_an_updated_advisory_lists_every_revision_and_its_latest_version(tmp_path: Path) -> None:
    document = build_csaf(RICH, updated_meta())
    _passes_both(document, tmp_path)
    tracking = document["document"]["tracking"]
    assert [entry["number"] for entry in tracking["revision_history"]] == ["1", "2"]
    assert tracking["version"] == "2"
    assert tracking["initial_release_date"] == "2026-03-01T12:00:00Z"
    assert tracking["current_release_date"] == "2026-03-05T09:30:00Z"


def test_a_withdrawn_advisory_keeps_its_id_and_says_so_in_a_final_revision(tmp_path: Path) -> None:
    document = build_csaf(RICH, withdrawn_meta(reason="Duplicate of GHSA-1234"))
    _passes_both(document, tmp_path)
    tracking = document["document"]["tracking"]
    assert tracking["id"] == "BASTION-SA-2026-0001"
    assert tracking["status"] == "final"
    assert tracking["revision_history"][-1]["summary"] == "Withdrawn: Duplicate of GHSA-1234"
    assert tracking["version"] == "2"
    note = document["document"]["notes"][0]
    assert note["title"] == "Withdrawn"
    assert "Duplicate of GHSA-1234" in note["text"]


def test_a_withdrawal_missing_from_the_history_is_added_as_the_next_revision(tmp_path: Path) -> None:
    meta = sample_meta(current_release="2026-03-09T00:00:00Z", withdrawn=True, withdrawn_reason="Not ours")
    document = build_csaf(RICH, meta)
    _passes_both(document, tmp_path)
    last = document["document"]["tracking"]["revision_history"][-1]
    assert last == {"number": "2", "date": "2026-03-09T00:00:00Z", "summary": "Withdrawn: Not ours"}


def test_a_handoff_draft_is_tlp_amber_version_zero_and_has_no_public_url(tmp_path: Path) -> None:
    document = build_csaf(RICH, sample_meta(status="draft", tlp="AMBER", url=""))
    _passes_both(document, tmp_path)
    assert document["document"]["distribution"]["tlp"]["label"] == "AMBER"
    tracking = document["document"]["tracking"]
    assert (tracking["status"], tracking["version"]) == ("draft", "0")
    assert all(ref["category"] != "self" for ref in document["document"]["references"])


def test_a_published_advisory_is_tlp_white_with_its_canonical_url() -> None:
    meta = sample_meta()
    document = build_csaf(RICH, meta)
    assert document["document"]["distribution"]["tlp"]["label"] == "WHITE"
    assert csaf_path(meta) == "2026/bastion-sa-2026-0001.json"
    selfs = [ref["url"] for ref in document["document"]["references"] if ref["category"] == "self"]
    assert selfs[0] == csaf_url(meta)
    assert selfs[0].endswith("/.well-known/csaf/white/2026/bastion-sa-2026-0001.json")


def test_unknown_tlp_labels_fall_back_to_amber_and_clear_means_white() -> None:
    assert build_csaf(RICH, sample_meta(tlp="PURPLE"))["document"]["distribution"]["tlp"]["label"] == "AMBER"
    assert build_csaf(RICH, sample_meta(tlp="clear"))["document"]["distribution"]["tlp"]["label"] == "WHITE"


def test_each_affected_range_is_known_affected_and_each_fix_is_fixed() -> None:
    document = build_csaf(RICH, sample_meta())
    products = _product_ids(document["product_tree"]["branches"])
    status = document["vulnerabilities"][0]["product_status"]
    ranges = [products[pid] for pid in status["known_affected"]]
    fixes = [products[pid] for pid in status["fixed"]]
    assert {branch["category"] for branch in ranges} == {"product_version_range"}
    assert {branch["category"] for branch in fixes} == {"product_version"}
    assert [branch["name"] for branch in ranges] == [
        "vers:gem/>=7.0.0|<7.1.3.1",
        "vers:npm/<2.0.1",
        "vers:pypi/>=1.2",
        "vers:generic/*",
    ]
    assert sorted(branch["name"] for branch in fixes) == ["2.0.1", "7.1.3.1"]
    helpers = {branch["product"]["product_identification_helper"]["purl"] for branch in fixes}
    assert helpers == {"pkg:gem/actionpack@7.1.3.1", "pkg:npm/%40acme/left-pad@2.0.1"}
    vendors = [branch["name"] for branch in document["product_tree"]["branches"]]
    assert vendors == ["Ruby on Rails", "npm", "PyPI", "Acme"]


def test_fixes_unfixed_products_and_the_workaround_each_name_their_products() -> None:
    document = build_csaf(RICH, sample_meta())
    vulnerability = document["vulnerabilities"][0]
    affected = vulnerability["product_status"]["known_affected"]
    by_category: dict[str, list[dict[str, Any]]] = {}
    for remediation in vulnerability["remediations"]:
        by_category.setdefault(remediation["category"], []).append(remediation)
    assert [r["details"] for r in by_category["vendor_fix"]] == [
        "Update to Action Pack 7.1.3.1 or later.",
        "Update to left-pad 2.0.1 or later.",
    ]
    assert by_category["none_available"][0]["product_ids"] == affected[2:]
    assert by_category["workaround"][0]["product_ids"] == affected


def test_the_cvss_score_is_computed_from_the_vector_and_4_0_travels_as_a_note() -> None:
    vulnerability = build_csaf(RICH, sample_meta())["vulnerabilities"][0]
    cvss = vulnerability["scores"][0]["cvss_v3"]
    expected = CVSS3(RICH.cvss_v3)
    assert (cvss["baseScore"], cvss["baseSeverity"]) == (expected.scores()[0], "CRITICAL")
    assert cvss["version"] == "3.1"
    note = next(n for n in vulnerability["notes"] if n["title"] == "CVSS v4.0")
    assert note["text"].startswith(RICH.cvss_v4)


def test_a_cvss_3_0_vector_is_scored_as_3_0(tmp_path: Path) -> None:
    content = replace(RICH, cvss_v3="CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", cvss_v4="")
    document = build_csaf(content, sample_meta())
    _passes_both(document, tmp_path)
    assert document["vulnerabilities"][0]["scores"][0]["cvss_v3"]["version"] == "3.0"


def test_an_invalid_vector_is_left_out_rather_than_guessed() -> None:
    content = replace(RICH, cvss_v3="CVSS:3.1/AV:X", cvss_v4="not a vector")
    vulnerability = build_csaf(content, sample_meta())["vulnerabilities"][0]
    assert "scores" not in vulnerability
    assert all(n["title"] != "CVSS v4.0" for n in vulnerability["notes"])


def test_the_weakness_carries_its_official_name_and_the_credits_their_roles() -> None:
    document = build_csaf(RICH, sample_meta())
    assert document["vulnerabilities"][0]["cwe"] == {"id": "CWE-79", "name": cwe_name(79)}
    assert document["vulnerabilities"][0]["cve"] == "CVE-2026-12345"
    acknowledgments = document["document"]["acknowledgments"]
    assert acknowledgments[0] == {
        "names": ["Rita Reporter"],
        "summary": "Finder",
        "urls": ["https://rita.example"],
    }
    assert [a["summary"] for a in acknowledgments] == [
        "Finder",
        "Analyst",
        "Reporter",
        "Remediation developer",
    ]


def test_the_validator_fails_a_document_with_an_undefined_product(tmp_path: Path) -> None:
    # The mandatory tests catch what the schema cannot: a product id that is never defined (6.1.1).
    document = copy.deepcopy(build_csaf(RICH, sample_meta()))
    document["vulnerabilities"][0]["product_status"]["known_affected"].append("CSAFPID-9999")
    assert validate_export("csaf", document) == []
    target = tmp_path / "broken.json"
    target.write_text(json.dumps(document))
    result = csaf_validate(target)
    assert result.returncode != 0
    assert "6.1.1" in result.stdout


def test_schema_problems_say_where_and_what_without_quoting_the_text() -> None:
    document = copy.deepcopy(build_csaf(RICH, sample_meta()))
    del document["document"]["title"]
    document["vulnerabilities"][0]["cve"] = "CVE-12"
    document["document"]["tracking"]["status"] = "secret words"
    problems = validate_export("csaf", document)
    assert "CSAF: /document: is missing title" in problems
    cve_problem = "CSAF: /vulnerabilities/0/cve: is not in the form the schema requires"
    assert f"{cve_problem} (write the CVE ID as CVE-YYYY-NNNN)" in problems
    assert any(
        p.startswith("CSAF: /document/tracking/status: must be one of: draft, final, interim")
        for p in problems
    )
    assert not any("secret words" in p for p in problems)


def test_an_advisory_naming_no_product_is_refused_with_what_to_do() -> None:
    problems = validate_export("csaf", build_csaf(replace(MINIMAL, affected=()), sample_meta()))
    assert problems[0] == "CSAF: the advisory names no affected product; add at least one product or package."
    assert "CSAF: /product_tree: must not be empty" in problems


def test_a_product_without_vendor_or_name_falls_back_sensibly(tmp_path: Path) -> None:
    content = replace(
        MINIMAL,
        affected=(AffectedPackage(product="", ecosystem="Maven", package="org.acme:widget", fixed="1.0.1"),),
    )
    document = build_csaf(content, sample_meta(revisions=(RevisionEntry(1, "2026-03-01T12:00:00Z", ""),)))
    _passes_both(document, tmp_path)
    vendor = document["product_tree"]["branches"][0]
    assert (vendor["name"], vendor["branches"][0]["name"]) == ("Maven", "org.acme:widget")
    fixed = vendor["branches"][0]["branches"][1]["product"]
    assert fixed["product_identification_helper"]["purl"] == "pkg:maven/org.acme/widget@1.0.1"
    assert document["document"]["tracking"]["revision_history"][0]["summary"] == "Revised"


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown export kind"):
        validate_export("pdf", {})


def test_an_advisory_with_no_history_yet_starts_at_revision_one(tmp_path: Path) -> None:
    document = build_csaf(RICH, sample_meta(revisions=(), initial_release="2026-03-01T12:00:00"))
    _passes_both(document, tmp_path)
    history = document["document"]["tracking"]["revision_history"]
    assert history == [{"number": "1", "date": "2026-03-01T12:00:00Z", "summary": "Initial public release"}]


def test_a_vulnerability_with_nothing_but_a_title_still_has_the_notes_csaf_requires(tmp_path: Path) -> None:
    content = replace(MINIMAL, summary="", description="")
    document = build_csaf(content, sample_meta())
    _passes_both(document, tmp_path)
    assert document["vulnerabilities"][0]["notes"] == [
        {"category": "summary", "title": "Summary", "text": MINIMAL.title}
    ]
