"""What a well-formed advisory says: each field's rule, checked before anything is sealed.

Every refusal names the field and says how to fix it. Vectors and CWE numbers are checked by the
same rules as a report's (:mod:`bastion.reports.scoring`, :mod:`bastion.reports.cwe`), so an
advisory never states a score or weakness a report could not have.
"""

from __future__ import annotations

import re
from dataclasses import replace

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from bastion.disclosure.content import AdvisoryContent, AffectedPackage
from bastion.disclosure.services.advisories._base import AdvisoryRejected
from bastion.reports.cwe import clean_cwe, cwe_name
from bastion.reports.errors import ReportRejected
from bastion.reports.scoring import clean_cvss_v3, clean_cvss_v4

MAX_TITLE = 200
MAX_SUMMARY = 1_000
MAX_DESCRIPTION = 50_000
MAX_WORKAROUND = 10_000
MAX_NAME = 200  # product, vendor, package
MAX_VERSION = 100
MAX_AFFECTED = 50
MAX_REFERENCES = 50
MAX_URL = 2_000
# CVE IDs are CVE-YYYY-NNNN with four or more digits (the CVE ID syntax since 2014).
CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,19}$")
# The OSV ecosystems (osv-schema's list); an export's package must name one of them.
OSV_ECOSYSTEMS = (
    "AlmaLinux",
    "Alpine",
    "Android",
    "Bitnami",
    "Chainguard",
    "CRAN",
    "crates.io",
    "Debian",
    "GHC",
    "GitHub Actions",
    "Go",
    "Hackage",
    "Hex",
    "Linux",
    "Mageia",
    "Maven",
    "npm",
    "NuGet",
    "openSUSE",
    "OSS-Fuzz",
    "Packagist",
    "Photon OS",
    "Pub",
    "PyPI",
    "Red Hat",
    "Rocky Linux",
    "RubyGems",
    "SUSE",
    "SwiftURL",
    "Ubuntu",
    "Wolfi",
)
_URL = URLValidator(schemes=["https", "http"])


def _text(value: str, *, field: str, label: str, limit: int, one_line: bool = False) -> str:
    if not isinstance(value, str):
        raise AdvisoryRejected(f"{label} must be text.", field=field)
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = " ".join(text.split()) if one_line else text.strip()
    if "\x00" in text:
        raise AdvisoryRejected(f"{label} contains a NUL character; remove it and try again.", field=field)
    if len(text) > limit:
        raise AdvisoryRejected(
            f"{label} is {len(text):,} characters long; the limit is {limit:,}. Shorten it.", field=field
        )
    return text


def clean_affected(items: tuple[AffectedPackage, ...]) -> tuple[AffectedPackage, ...]:
    """The affected products, each checked; rows left wholly empty are dropped."""
    cleaned = []
    for number, item in enumerate(items, start=1):
        where = f"Affected product {number}"
        values = {
            name: _text(
                getattr(item, name), field="affected", label=f"{where}: {name}", limit=limit, one_line=True
            )
            for name, limit in (
                ("product", MAX_NAME),
                ("vendor", MAX_NAME),
                ("ecosystem", MAX_NAME),
                ("package", MAX_NAME),
                ("introduced", MAX_VERSION),
                ("fixed", MAX_VERSION),
                ("affected_versions", MAX_VERSION),
            )
        }
        # A blank row of the form (its "introduced" left at the default "0") is no product.
        if not any(v for k, v in values.items() if k != "introduced") and values["introduced"] in ("", "0"):
            continue
        if not values["product"]:
            values["product"] = values["package"]
        if not values["product"]:
            raise AdvisoryRejected(
                f"{where} has no product name: name the product or package.", field="affected"
            )
        if bool(values["ecosystem"]) != bool(values["package"]):
            raise AdvisoryRejected(
                f"{where}: give both the ecosystem and the package name (for OSV), or neither for a "
                "product that is not a package.",
                field="affected",
            )
        if values["ecosystem"] and values["ecosystem"] not in OSV_ECOSYSTEMS:
            raise AdvisoryRejected(
                f"{where}: {values['ecosystem']!r} is not an OSV ecosystem. Choose one of: "
                f"{', '.join(OSV_ECOSYSTEMS)}.",
                field="affected",
            )
        values["introduced"] = values["introduced"] or "0"
        cleaned.append(AffectedPackage(**values))
    if len(cleaned) > MAX_AFFECTED:
        raise AdvisoryRejected(
            f"{len(cleaned)} affected products; the limit is {MAX_AFFECTED}. Group versions of one product.",
            field="affected",
        )
    return tuple(cleaned)


def clean_references(urls: tuple[str, ...]) -> tuple[str, ...]:
    """The reference URLs, each an http(s) URL, duplicates dropped, in the order given."""
    seen: list[str] = []
    for raw in urls:
        url = (raw or "").strip()
        if not url or url in seen:
            continue
        if len(url) > MAX_URL:
            raise AdvisoryRejected(f"A reference is over {MAX_URL:,} characters long.", field="references")
        try:
            _URL(url)
        except ValidationError as error:
            raise AdvisoryRejected(
                f"{url[:100]!r} is not a web address: give one https:// URL per line.", field="references"
            ) from error
        seen.append(url)
    if len(seen) > MAX_REFERENCES:
        raise AdvisoryRejected(f"{len(seen)} references; the limit is {MAX_REFERENCES}.", field="references")
    return tuple(seen)


def clean_cve_id(value: str) -> str:
    """``value`` as a CVE ID (upper-cased), or "" for none."""
    text = (value or "").strip().upper()
    if text and not CVE_ID.fullmatch(text):
        raise AdvisoryRejected(
            "A CVE ID looks like CVE-2026-12345: CVE, the year, and four or more digits.", field="cve_id"
        )
    return text


def clean_content(content: AdvisoryContent) -> AdvisoryContent:
    """``content`` checked and normalised (the stored form), or AdvisoryRejected naming the field."""
    try:
        cvss_v3 = clean_cvss_v3(content.cvss_v3)
        cvss_v4 = clean_cvss_v4(content.cvss_v4)
        cwe_id = clean_cwe(content.cwe_id)
    except ReportRejected as error:
        raise AdvisoryRejected(error.messages[0], field=error.field, code=error.reason) from error
    cleaned = replace(
        content,
        title=_text(content.title, field="title", label="The title", limit=MAX_TITLE, one_line=True),
        summary=_text(content.summary, field="summary", label="The summary", limit=MAX_SUMMARY),
        description=_text(
            content.description, field="description", label="The description", limit=MAX_DESCRIPTION
        ),
        workaround=_text(
            content.workaround, field="workaround", label="The workaround", limit=MAX_WORKAROUND
        ),
        affected=clean_affected(tuple(content.affected)),
        references=clean_references(tuple(content.references)),
        cve_id=clean_cve_id(content.cve_id),
        cvss_v3=cvss_v3,
        cvss_v4=cvss_v4,
        cwe_id=cwe_id,
    )
    if not cleaned.title:
        raise AdvisoryRejected("An advisory needs a title.", field="title", code="required")
    return cleaned


def missing_for_review(content: AdvisoryContent) -> list[str]:
    """What a draft still lacks before a second person can review it (empty: ready)."""
    missing = []
    if not content.summary:
        missing.append("a summary")
    if not content.description:
        missing.append("a description")
    if not content.affected:
        missing.append("at least one affected product")
    return missing


# --- Text forms, for the revision diff --------------------------------------------------------------

FIELD_LABELS = {
    "title": "Title",
    "summary": "Summary",
    "description": "Description",
    "affected": "Affected products",
    "cvss_v3": "CVSS 3.1",
    "cvss_v4": "CVSS 4.0",
    "cwe_id": "CWE",
    "cve_id": "CVE ID",
    "references": "References",
    "workaround": "Workaround",
}


def describe_affected(item: AffectedPackage) -> str:
    """One line for an affected product: what it is, which versions, which fix."""
    name = item.product + (f" ({item.vendor})" if item.vendor else "")
    package = f" [{item.ecosystem}/{item.package}]" if item.is_package else ""
    versions = item.affected_versions or (
        f">= {item.introduced}" if item.introduced not in ("", "0") else "all"
    )
    fixed = f"; fixed in {item.fixed}" if item.fixed else "; no fix yet"
    return f"{name}{package}: affected {versions}{fixed}"


def field_texts(content: AdvisoryContent) -> dict[str, str]:
    """Each field of ``content`` as text, one item per line where it is a list (what the diff compares)."""
    cwe = ""
    if content.cwe_id is not None:
        cwe = f"CWE-{content.cwe_id} {cwe_name(content.cwe_id) or ''}".strip()
    return {
        "title": content.title,
        "summary": content.summary,
        "description": content.description,
        "affected": "\n".join(describe_affected(item) for item in content.affected),
        "cvss_v3": content.cvss_v3,
        "cvss_v4": content.cvss_v4,
        "cwe_id": cwe,
        "cve_id": content.cve_id,
        "references": "\n".join(content.references),
        "workaround": content.workaround,
    }
