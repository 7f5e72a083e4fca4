"""OSV (schema 1.7.3) entries, for advisories about packages in an ecosystem.

Only affected entries that name a package (``ecosystem`` and ``package``) are described: OSV has no
way to say "a hosted service". An advisory with no package gets no OSV entry at all.

The OSV schema ties an entry's ``id`` prefix to a registered home database. Bastion uses the
advisory identifier as the id (``BASTION-SA-2026-0001``), so the prefix (``ADVISORY_PREFIX``)
counts as registered only once the publisher registers it with the OSV schema project; see
:mod:`bastion.disclosure.exports.validate` for how validation treats it until then.
"""

from __future__ import annotations

from typing import Any

from bastion.disclosure.content import AdvisoryContent, AffectedPackage, PublicationMeta
from bastion.disclosure.exports.common import purl, score, utc_timestamp
from bastion.disclosure.exports.csaf import csaf_url

SCHEMA_VERSION = "1.7.3"


def build_osv(content: AdvisoryContent, meta: PublicationMeta) -> dict[str, Any] | None:
    """The OSV entry for an advisory (a JSON-ready dict), or None when no affected entry is a package."""
    packages = [item for item in content.affected if item.is_package]
    if not packages:
        return None
    entry: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": meta.identifier,
        "modified": utc_timestamp(meta.current_release),
        "published": utc_timestamp(meta.initial_release),
    }
    if meta.withdrawn:
        entry["withdrawn"] = utc_timestamp(meta.current_release)
    if content.cve_id:
        entry["aliases"] = [content.cve_id]
    summary = content.title or content.summary
    if summary:
        entry["summary"] = summary
    details = "\n\n".join(part for part in (content.summary, content.description) if part)
    if meta.withdrawn:
        reason = meta.withdrawn_reason.strip()
        details = f"**Withdrawn:** {reason or 'this advisory was withdrawn.'}\n\n{details}".strip()
    if details:
        entry["details"] = details
    severity = [
        {"type": f"CVSS_V{found.version[0]}", "score": found.vector}
        for found in (score(content.cvss_v3), score(content.cvss_v4))
        if found
    ]
    if severity:
        entry["severity"] = severity
    entry["affected"] = [_affected(item) for item in packages]
    references = _references(content, meta)
    if references:
        entry["references"] = references
    credits = [_credit(credit.name, credit.credit_type, credit.link) for credit in meta.credits]
    if credits:
        entry["credits"] = credits
    entry["database_specific"] = _database_specific(content, meta)
    return entry


def _affected(item: AffectedPackage) -> dict[str, Any]:
    package = {"ecosystem": item.ecosystem, "name": item.package}
    package_url = purl(item)
    if package_url:
        package["purl"] = package_url
    events: list[dict[str, str]] = [{"introduced": item.introduced or "0"}]
    if item.fixed:
        events.append({"fixed": item.fixed})
    affected: dict[str, Any] = {"package": package, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
    if item.affected_versions:
        # The human statement staff wrote, kept beside the machine range for readers.
        affected["database_specific"] = {"affected_versions": item.affected_versions}
    return affected


def _references(content: AdvisoryContent, meta: PublicationMeta) -> list[dict[str, str]]:
    references = []
    if meta.url:
        references.append({"type": "ADVISORY", "url": meta.url})
    references.extend({"type": "WEB", "url": url} for url in content.references)
    return references


def _credit(name: str, credit_type: str, link: str) -> dict[str, Any]:
    # OSV spells the CVE/GHSA credit taxonomy upper-case with underscores.
    credit: dict[str, Any] = {"name": name, "type": credit_type.upper().replace(" ", "_")}
    if link:
        credit["contact"] = [link]
    return credit


def _database_specific(content: AdvisoryContent, meta: PublicationMeta) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if content.cwe_id:
        data["cwe_ids"] = [f"CWE-{content.cwe_id}"]
    found = score(content.cvss_v3) or score(content.cvss_v4)
    if found:
        data["severity"] = found.severity
    if meta.url:
        data["url"] = meta.url
    if meta.status != "draft":
        data["csaf"] = csaf_url(meta)
    return data
