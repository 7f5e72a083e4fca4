"""CVE JSON 5.1 CNA containers: the ``containers.cna`` object a CNA submits to CVE Services.

A container is about one CVE ID, so an advisory gets one only when it names a CVE (see
:func:`bastion.disclosure.exports.publish.export_kinds`). The CVE ID itself is not in the container
(it sits in ``cveMetadata``, which CVE Services writes).

``providerMetadata.orgId`` is required: it is the CNA's UUID in the CVE Program, taken from the
``CVE_ORG_ID`` setting. Bastion never invents one; unset, the container is built without it and
:func:`~bastion.disclosure.exports.validate.validate_export` says what to configure.

A withdrawn advisory keeps its container, with the withdrawal said first in the description:
rejecting the CVE itself is the assigning CNA's decision, made through CVE Services.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from django.conf import settings

from bastion.disclosure.content import AdvisoryContent, AffectedPackage, PublicationMeta
from bastion.disclosure.exports.common import score, utc_timestamp
from bastion.reports.cwe import cwe_name

# OSV ecosystem -> the package collection URL CVE JSON 5 lists for it (its ``collectionURL`` examples).
COLLECTION_URLS = {
    "RubyGems": "https://rubygems.org",
    "npm": "https://registry.npmjs.org",
    "PyPI": "https://pypi.python.org",
    "Go": "https://golang.org/pkg",
    "Maven": "https://repo.maven.apache.org/maven2",
    "crates.io": "https://crates.io",
    "NuGet": "https://nuget.org/packages",
    "Packagist": "https://packagist.org",
    "Hex": "https://repo.hex.pm",
    "Pub": "https://pub.dev",
    "Hackage": "https://hackage.haskell.org",
    "CRAN": "https://cran.r-project.org",
}
# How versions compare, per ecosystem, in CVE's ``versionType`` words; anything else is "custom".
VERSION_TYPES = {"npm": "semver", "crates.io": "semver", "Go": "semver", "PyPI": "python", "Maven": "maven"}
TITLE_MAX = 256
VALUE_MAX = 4096


def build_cve_cna_container(content: AdvisoryContent, meta: PublicationMeta) -> dict[str, Any]:
    """The CNA published container for an advisory's CVE (a JSON-ready dict)."""
    container: dict[str, Any] = {"providerMetadata": _provider()}
    if content.title:
        container["title"] = content.title[:TITLE_MAX]
    container["datePublic"] = utc_timestamp(meta.initial_release)
    container["descriptions"] = [_description(content, meta)]
    container["affected"] = [_affected(item) for item in content.affected]
    if content.cwe_id:
        container["problemTypes"] = [_problem_type(content.cwe_id)]
    metrics = _metrics(content)
    if metrics:
        container["metrics"] = metrics
    solutions = [
        {"lang": "en", "value": f"Update {item.package or item.product} to {item.fixed} or later."}
        for item in content.affected
        if item.fixed
    ]
    if solutions:
        container["solutions"] = solutions
    if content.workaround:
        container["workarounds"] = [{"lang": "en", "value": content.workaround[:VALUE_MAX]}]
    credits = [
        {"lang": "en", "value": credit.name, "type": credit.credit_type}
        for credit in meta.credits
        if credit.name
    ]
    if credits:
        container["credits"] = credits
    container["references"] = _references(content, meta)
    container["source"] = {"advisory": meta.identifier, "discovery": "EXTERNAL"}
    container["x_generator"] = {"engine": f"Bastion {importlib.metadata.version('bastion')}"}
    return container


def _provider() -> dict[str, str]:
    org_id = settings.CVE_ORG_ID
    return {"orgId": org_id} if org_id else {}


def _description(content: AdvisoryContent, meta: PublicationMeta) -> dict[str, Any]:
    # ``value`` is plain text: the summary (or, lacking one, the Markdown description as written);
    # the Markdown goes along as supporting media for the readers that render it.
    value = content.summary or content.description or content.title
    if meta.withdrawn:
        reason = meta.withdrawn_reason.strip()
        value = f"Withdrawn by {settings.PUBLISHER_NAME}: {reason or 'see the advisory.'} {value}".strip()
    description: dict[str, Any] = {"lang": "en", "value": value[:VALUE_MAX]}
    if content.description:
        description["supportingMedia"] = [
            {"type": "text/markdown", "base64": False, "value": content.description}
        ]
    return description


def _vendor(item: AffectedPackage) -> str:
    # Same fallback as the CSAF product tree, so both exports name the same vendor.
    return item.vendor or (item.ecosystem if item.is_package else settings.PUBLISHER_NAME)


def _affected(item: AffectedPackage) -> dict[str, Any]:
    product: dict[str, Any] = {"vendor": _vendor(item), "product": item.product or item.package}
    collection = COLLECTION_URLS.get(item.ecosystem)
    if item.is_package and collection:
        product["collectionURL"] = collection
        product["packageName"] = item.package
    version_type = VERSION_TYPES.get(item.ecosystem, "custom")
    introduced = item.introduced or "0"
    if item.fixed:
        # Affected from ``introduced`` up to (not including) the fix; everything else unaffected.
        product["versions"] = [
            {"version": introduced, "status": "affected", "lessThan": item.fixed, "versionType": version_type}
        ]
        product["defaultStatus"] = "unaffected"
    elif introduced != "0":
        product["versions"] = [
            {"version": introduced, "status": "affected", "lessThan": "*", "versionType": version_type}
        ]
        product["defaultStatus"] = "unaffected"
    else:
        product["defaultStatus"] = "affected"
    return product


def _problem_type(cwe_id: int) -> dict[str, Any]:
    name = cwe_name(cwe_id)
    label = f"CWE-{cwe_id}"
    return {
        "descriptions": [
            {"lang": "en", "type": "CWE", "cweId": label, "description": f"{label} {name}" if name else label}
        ]
    }


def _metrics(content: AdvisoryContent) -> list[dict[str, Any]]:
    metrics = []
    for found in (score(content.cvss_v4), score(content.cvss_v3)):
        if not found:
            continue
        key = "cvssV" + found.version.replace(".", "_")
        metrics.append(
            {
                "format": "CVSS",
                "scenarios": [{"lang": "en", "value": "GENERAL"}],
                key: {
                    "version": found.version,
                    "vectorString": found.vector,
                    "baseScore": found.base_score,
                    "baseSeverity": found.severity,
                },
            }
        )
    return metrics


def _references(content: AdvisoryContent, meta: PublicationMeta) -> list[dict[str, Any]]:
    references: list[dict[str, Any]] = []
    if meta.url:
        references.append({"url": meta.url, "name": meta.identifier, "tags": ["vendor-advisory"]})
    seen = {meta.url}
    for url in content.references:
        if url not in seen:
            seen.add(url)
            references.append({"url": url})
    return references
