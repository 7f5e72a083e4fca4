"""CVE JSON 5.1 CNA container: the official schema from ``cvelib``, and its validator."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type hints (no stubs installed)
import pytest
from cvelib.cve_api import (  # type: ignore[import-untyped]  # cvelib ships no type hints
    CveRecord,
    CveRecordValidationError,
)
from pytest_django.fixtures import Settings

from bastion.disclosure.content import AffectedPackage
from bastion.disclosure.exports.csaf import build_csaf
from bastion.disclosure.exports.cve import build_cve_cna_container
from bastion.disclosure.exports.testing import MINIMAL, RICH, sample_meta, withdrawn_meta
from bastion.disclosure.exports.validate import _describe, validate_export
from bastion.disclosure.tests.conftest import ORG_ID


@pytest.mark.usefixtures("cve_org")
def test_a_rich_advisory_passes_the_official_cna_container_schema() -> None:
    container = build_cve_cna_container(RICH, sample_meta())
    assert validate_export("cve", container) == []
    CveRecord.validate(container)  # cvelib's own check against the same bundled schema


@pytest.mark.usefixtures("cve_org")
def test_a_minimal_advisory_passes_too() -> None:
    container = build_cve_cna_container(replace(MINIMAL, cve_id="CVE-2026-0002"), sample_meta(credits=()))
    assert validate_export("cve", container) == []
    CveRecord.validate(container)
    assert container["affected"] == [
        {"vendor": "Bastion", "product": "Widget Cloud", "defaultStatus": "affected"}
    ]
    for absent in ("metrics", "problemTypes", "credits", "solutions", "workarounds"):
        assert absent not in container


def test_without_a_cna_org_id_it_is_refused_with_what_to_configure(settings: Settings) -> None:
    settings.CVE_ORG_ID = ""
    container = build_cve_cna_container(RICH, sample_meta())
    assert container["providerMetadata"] == {}
    assert validate_export("cve", container) == [
        "CVE: BASTION_CVE_ORG_ID is not set. A CVE record names the CNA that submits it: set it to your "
        "CNA's orgId (or that of the CNA you hand records to), or remove the CVE ID."
    ]
    with pytest.raises(CveRecordValidationError):
        CveRecord.validate(container)


def test_an_org_id_that_is_no_uuid_is_refused(settings: Settings) -> None:
    settings.CVE_ORG_ID = "acme"
    problems = validate_export("cve", build_cve_cna_container(RICH, sample_meta()))
    assert problems[0] == "CVE: BASTION_CVE_ORG_ID is not a CVE Program orgId: it must be a version 4 UUID."


@pytest.mark.usefixtures("cve_org")
def test_versions_are_ranges_up_to_the_fix_with_the_package_collection() -> None:
    affected = build_cve_cna_container(RICH, sample_meta())["affected"]
    assert affected[0] == {
        "vendor": "Ruby on Rails",
        "product": "Action Pack",
        "collectionURL": "https://rubygems.org",
        "packageName": "actionpack",
        "versions": [
            {"version": "7.0.0", "status": "affected", "lessThan": "7.1.3.1", "versionType": "custom"}
        ],
        "defaultStatus": "unaffected",
    }
    assert affected[1]["versions"] == [
        {"version": "0", "status": "affected", "lessThan": "2.0.1", "versionType": "semver"}
    ]
    assert affected[2]["versions"] == [
        {"version": "1.2", "status": "affected", "lessThan": "*", "versionType": "python"}
    ]
    assert affected[3] == {"vendor": "Acme", "product": "Widget Cloud", "defaultStatus": "affected"}


@pytest.mark.usefixtures("cve_org")
def test_metrics_weakness_credits_and_references_are_stated_as_cve_expects() -> None:
    container = build_cve_cna_container(RICH, sample_meta())
    assert container["providerMetadata"] == {"orgId": ORG_ID}
    assert [sorted(m) for m in container["metrics"]] == [
        ["cvssV4_0", "format", "scenarios"],
        ["cvssV3_1", "format", "scenarios"],
    ]
    v31 = container["metrics"][1]["cvssV3_1"]
    assert v31 == {
        "version": "3.1",
        "vectorString": RICH.cvss_v3,
        "baseScore": 9.8,
        "baseSeverity": "CRITICAL",
    }
    assert container["metrics"][0]["cvssV4_0"]["baseScore"] == 9.3
    problem = container["problemTypes"][0]["descriptions"][0]
    assert (problem["cweId"], problem["type"]) == ("CWE-79", "CWE")
    assert problem["description"].startswith("CWE-79 Improper Neutralization")
    assert container["credits"][3] == {
        "lang": "en",
        "value": "Upstream Maintainers",
        "type": "remediation developer",
    }
    assert container["references"][0] == {
        "url": sample_meta().url,
        "name": "BASTION-SA-2026-0001",
        "tags": ["vendor-advisory"],
    }
    assert container["datePublic"] == "2026-03-01T12:00:00Z"
    assert container["descriptions"][0]["value"] == RICH.summary
    assert container["descriptions"][0]["supportingMedia"][0]["value"] == RICH.description
    assert container["solutions"][0]["value"] == "Update actionpack to 7.1.3.1 or later."
    assert container["workarounds"] == [{"lang": "en", "value": RICH.workaround}]


@pytest.mark.usefixtures("cve_org")
def test_a_cvss_3_0_vector_is_a_cvss_v3_0_metric() -> None:
    content = replace(RICH, cvss_v3="CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", cvss_v4="")
    container = build_cve_cna_container(content, sample_meta())
    assert validate_export("cve", container) == []
    assert list(container["metrics"][0])[-1] == "cvssV3_0"


@pytest.mark.usefixtures("cve_org")
def test_a_withdrawn_advisory_says_so_first_in_its_description() -> None:
    container = build_cve_cna_container(RICH, withdrawn_meta(reason="Duplicate of CVE-2026-1"))
    assert validate_export("cve", container) == []
    assert container["descriptions"][0]["value"].startswith("Withdrawn by Bastion: Duplicate of CVE-2026-1 ")


@pytest.mark.usefixtures("cve_org")
def test_an_advisory_with_no_product_or_text_gets_plain_problems() -> None:
    content = replace(MINIMAL, title="", summary="", affected=())
    problems = validate_export("cve", build_cve_cna_container(content, sample_meta()))
    assert problems[:2] == [
        "CVE: the advisory names no affected product; add at least one product or package.",
        "CVE: the record needs a description; write the advisory's summary or description.",
    ]
    assert "CVE: /affected: must list at least 1 item(s)" in problems


@pytest.mark.usefixtures("cve_org")
def test_an_overlong_title_is_cut_to_the_schema_limit_and_duplicate_references_dropped() -> None:
    content = replace(
        RICH,
        title="x" * 300,
        references=(sample_meta().url, "https://example.org/a", "https://example.org/a"),
        affected=(AffectedPackage(product="thing", ecosystem="Hex", package="thing", fixed="1.0"),),
    )
    container = build_cve_cna_container(content, sample_meta())
    assert validate_export("cve", container) == []
    assert len(container["title"]) == 256
    assert [ref["url"] for ref in container["references"]] == [sample_meta().url, "https://example.org/a"]


def _broken(change: Callable[[dict[str, Any]], None], kind: str = "cve") -> list[str]:
    document = copy.deepcopy(
        build_cve_cna_container(RICH, sample_meta()) if kind == "cve" else build_csaf(RICH, sample_meta())
    )
    change(document)
    return validate_export(kind, document)


@pytest.mark.usefixtures("cve_org")
@pytest.mark.parametrize(
    ("kind", "change", "problem"),
    [
        ("cve", lambda d: d.update(bogus=1), "CVE: /: has properties the schema does not allow: bogus"),
        ("cve", lambda d: d.update(title=5), "CVE: /title: must be of type string"),
        ("cve", lambda d: d.update(title="x" * 300), "CVE: /title: must be at most 256 characters long"),
        (
            "cve",
            lambda d: d["providerMetadata"].update(shortName="x"),
            "CVE: /providerMetadata/shortName: must be at least 2 characters long",
        ),
        (
            "cve",
            lambda d: d["references"].append(d["references"][0]),
            "CVE: /references: lists the same item twice",
        ),
        (
            "cve",
            lambda d: d.update(references=[{"url": f"https://example.org/{n}"} for n in range(513)]),
            "CVE: /references: must list at most 512 item(s)",
        ),
        (
            "cve",
            lambda d: d["metrics"][1]["cvssV3_1"].update(baseScore=11),
            "CVE: /metrics/1/cvssV3_1/baseScore: must be one of the 101 values the schema lists",
        ),
        (
            "cve",
            lambda d: d["descriptions"][0].update(lang="de"),
            "CVE: /descriptions: lacks an item the schema requires",
        ),
        (
            "csaf",
            lambda d: d["document"].update(csaf_version="2.1"),
            "CSAF: /document/csaf_version: must be one of: 2.0",
        ),
        (
            "csaf",
            lambda d: d["document"]["tracking"].update(initial_release_date="yesterday"),
            "CSAF: /document/tracking/initial_release_date: is not a valid date-time",
        ),
    ],
)
def test_each_kind_of_schema_problem_is_said_in_plain_words(
    kind: str, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    assert problem in _broken(change, kind)


@pytest.mark.parametrize(
    ("schema", "wording"),
    [({"not": {}}, "does not satisfy the schema's 'not' rule"), ({"const": 2}, "must be 2")],
)
def test_rules_our_schemas_seldom_break_are_still_worded(schema: dict[str, Any], wording: str) -> None:
    error = next(jsonschema.Draft202012Validator(schema).iter_errors(1))
    assert _describe(error) == wording
