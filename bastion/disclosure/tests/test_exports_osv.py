"""OSV export: the official OSV 1.7.3 schema (bundled), and what goes where."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema  # type: ignore[import-untyped]  # jsonschema ships no type hints (no stubs installed)
import pytest
from pytest_django.fixtures import Settings

from bastion.disclosure.content import AffectedPackage
from bastion.disclosure.exports.osv import SCHEMA_VERSION, build_osv
from bastion.disclosure.exports.testing import MINIMAL, RICH, sample_meta, updated_meta, withdrawn_meta
from bastion.disclosure.exports.validate import SCHEMA_DIR, validate_export


def _official_errors(document: dict) -> list[jsonschema.ValidationError]:
    schema = json.loads((SCHEMA_DIR / "osv" / "schema.json").read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return list(validator.iter_errors(document))


def test_a_rich_advisory_passes_the_official_schema_but_for_its_unregistered_id_prefix() -> None:
    document = build_osv(RICH, sample_meta())
    assert document is not None
    assert validate_export("osv", document) == []
    errors = _official_errors(document)
    assert [(list(e.absolute_path), e.validator) for e in errors] == [(["id"], "pattern")]


def test_with_a_registered_prefix_it_passes_the_official_schema_unchanged() -> None:
    document = build_osv(RICH, updated_meta("GHSA-abcd-efgh-ijkl"))
    assert document is not None
    assert _official_errors(document) == []


def test_an_id_with_anyone_elses_unregistered_prefix_is_refused(settings: Settings) -> None:
    settings.ADVISORY_PREFIX = "ACME-SA"
    document = build_osv(RICH, sample_meta("BASTION-SA-2026-0001"))
    assert validate_export("osv", document) == ["OSV: /id: is not in the form the schema requires"]


def test_an_advisory_with_no_package_has_no_osv_entry() -> None:
    assert build_osv(MINIMAL, sample_meta()) is None
    assert validate_export("osv", None) == ["OSV: there is no document to check."]


def test_only_packages_are_described_with_their_ranges() -> None:
    document = build_osv(RICH, sample_meta())
    assert document is not None
    assert document["schema_version"] == SCHEMA_VERSION
    assert [a["package"] for a in document["affected"]] == [
        {"ecosystem": "RubyGems", "name": "actionpack", "purl": "pkg:gem/actionpack"},
        {"ecosystem": "npm", "name": "@acme/left-pad", "purl": "pkg:npm/%40acme/left-pad"},
        {"ecosystem": "PyPI", "name": "Requests_Toolbelt", "purl": "pkg:pypi/requests-toolbelt"},
    ]
    assert [a["ranges"] for a in document["affected"]] == [
        [{"type": "ECOSYSTEM", "events": [{"introduced": "7.0.0"}, {"fixed": "7.1.3.1"}]}],
        [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0.1"}]}],
        [{"type": "ECOSYSTEM", "events": [{"introduced": "1.2"}]}],
    ]
    assert document["affected"][0]["database_specific"] == {"affected_versions": ">= 7.0.0, < 7.1.3.1"}


def test_ids_dates_severity_credits_and_references_follow_the_schema() -> None:
    document = build_osv(RICH, updated_meta())
    assert document is not None
    assert document["id"] == "BASTION-SA-2026-0001"
    assert document["aliases"] == ["CVE-2026-12345"]
    assert (document["published"], document["modified"]) == ("2026-03-01T12:00:00Z", "2026-03-05T09:30:00Z")
    assert document["summary"] == RICH.title
    assert document["details"].startswith(RICH.summary + "\n\n" + "An **attacker**")
    assert document["severity"] == [
        {"type": "CVSS_V3", "score": RICH.cvss_v3},
        {"type": "CVSS_V4", "score": RICH.cvss_v4},
    ]
    assert document["credits"] == [
        {"name": "Rita Reporter", "type": "FINDER", "contact": ["https://rita.example"]},
        {"name": "@ritasfriend", "type": "ANALYST"},
        {"name": "Anonymous", "type": "REPORTER"},
        {
            "name": "Upstream Maintainers",
            "type": "REMEDIATION_DEVELOPER",
            "contact": ["https://rubyonrails.org"],
        },
    ]
    assert document["references"][0] == {"type": "ADVISORY", "url": sample_meta().url}
    assert {"type": "WEB", "url": "https://example.org/fix"} in document["references"]
    specific = document["database_specific"]
    assert specific["cwe_ids"] == ["CWE-79"]
    assert specific["severity"] == "CRITICAL"
    assert specific["csaf"].endswith("/.well-known/csaf/white/2026/bastion-sa-2026-0001.json")
    assert "withdrawn" not in document


def test_a_withdrawn_entry_carries_its_withdrawal_time_and_reason() -> None:
    document = build_osv(RICH, withdrawn_meta(reason="Duplicate"))
    assert document is not None
    assert validate_export("osv", document) == []
    assert document["withdrawn"] == "2026-03-05T09:30:00Z"
    assert document["details"].startswith("**Withdrawn:** Duplicate")


def test_a_sparse_package_advisory_is_still_valid() -> None:
    content = replace(
        MINIMAL,
        title="",
        summary="",
        affected=(AffectedPackage(product="x", ecosystem="Go", package="example.org/x"),),
    )
    document = build_osv(content, sample_meta(credits=(), url="", status="draft"))
    assert document is not None
    assert validate_export("osv", document) == []
    for absent in ("summary", "details", "severity", "references", "credits", "aliases"):
        assert absent not in document
    assert document["database_specific"] == {}
    assert document["affected"][0]["package"]["purl"] == "pkg:golang/example.org/x"


@pytest.mark.parametrize("ecosystem", ["Rubygems", "Homebrew"])
def test_an_unknown_ecosystem_is_refused_with_the_names_to_use(ecosystem: str) -> None:
    content = replace(RICH, affected=(AffectedPackage(product="x", ecosystem=ecosystem, package="x"),))
    problems = validate_export("osv", build_osv(content, sample_meta()))
    assert problems == [
        "OSV: /affected/0/package/ecosystem: is not in the form the schema requires "
        "(use an OSV ecosystem name such as RubyGems, npm, PyPI, Go or Maven)"
    ]
