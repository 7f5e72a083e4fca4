"""CSAF 2.0 ``csaf_security_advisory`` documents (OASIS CSAF 2.0 with Errata 01).

One advisory is one document with one vulnerability. Products: each affected entry becomes a
vendor → product name branch holding a ``product_version_range`` (the affected range, as a ``vers``
URI) and, when there is a fix, a ``product_version`` for the first fixed version; the range is
``known_affected`` and the fixed version ``fixed``. The same builder makes the TLP:AMBER draft a
hand-off sends upstream (``meta.status == "draft"``, ``meta.tlp == "AMBER"``).

Withdrawal: CSAF 2.0 has no withdrawn status (2.1 adds a ``csaf_withdrawn`` category). A withdrawn
2.0 advisory keeps its id and its ``final`` status, gets a new revision whose summary says it was
withdrawn and why, and a document note saying so; it stays in the provider's directory.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from django.conf import settings

from bastion.disclosure.content import AdvisoryContent, AffectedPackage, PublicationMeta, RevisionEntry
from bastion.disclosure.exports.common import document_filename, purl, score, utc_timestamp, vers_range
from bastion.reports.cwe import cwe_name
from bastion.reports.models.credit import CreditType

CSAF_ROOT = "/.well-known/csaf"
TLP_URL = "https://www.first.org/tlp/"
# CSAF 2.0 knows TLP 1.0 labels only: WHITE, GREEN, AMBER, RED.
TLP_LABELS = ("WHITE", "GREEN", "AMBER", "RED")
STATUSES = ("draft", "interim", "final")


def csaf_directory_url(tlp: str = "WHITE") -> str:
    """The absolute URL of the provider's directory for one TLP label (``…/csaf/white/``)."""
    return f"{settings.BASE_URL.rstrip('/')}{CSAF_ROOT}/{tlp.lower()}/"


def csaf_path(meta: PublicationMeta) -> str:
    """Where the document lives below its TLP directory: ``<year of initial release>/<filename>``."""
    return f"{utc_timestamp(meta.initial_release)[:4]}/{document_filename(meta.identifier)}"


def csaf_url(meta: PublicationMeta) -> str:
    """The document's canonical URL in the provider's directory (its ``self`` reference)."""
    return csaf_directory_url(meta.tlp) + csaf_path(meta)


def build_csaf(content: AdvisoryContent, meta: PublicationMeta) -> dict[str, Any]:
    """A CSAF 2.0 ``csaf_security_advisory`` for one advisory (a JSON-ready dict).

    ``meta.tlp`` sets the distribution label; ``meta.status`` the tracking status (a ``draft``
    gets version ``0``, as CSAF requires of drafts). The document is not validated here: see
    :func:`bastion.disclosure.exports.validate.validate_export`.
    """
    tree, affected_ids, fixed_ids, fixes = _product_tree(content.affected)
    document: dict[str, Any] = {
        "category": "csaf_security_advisory",
        "csaf_version": "2.0",
        "lang": "en",
        "publisher": {
            "category": "vendor",
            "name": settings.PUBLISHER_NAME,
            "namespace": settings.PUBLISHER_NAMESPACE,
        },
        "title": content.title or meta.identifier,
        "tracking": _tracking(meta),
        "distribution": {"tlp": {"label": _tlp(meta.tlp), "url": TLP_URL}},
    }
    notes = _document_notes(content, meta)
    if notes:
        document["notes"] = notes
    acknowledgments = _acknowledgments(meta)
    if acknowledgments:
        document["acknowledgments"] = acknowledgments
    references = _references(content, meta)
    if references:  # the schema wants at least one item when the key is present
        document["references"] = references

    csaf: dict[str, Any] = {"document": document, "product_tree": tree}
    csaf["vulnerabilities"] = [_vulnerability(content, affected_ids, fixed_ids, fixes)]
    return csaf


def _tlp(label: str) -> str:
    upper = label.upper()
    # TLP 2.0's CLEAR is 1.0's WHITE; anything unknown is treated as the most cautious sharable label.
    if upper == "CLEAR":
        return "WHITE"
    return upper if upper in TLP_LABELS else "AMBER"


def _revisions(meta: PublicationMeta) -> list[RevisionEntry]:
    revisions = sorted(
        (RevisionEntry(entry.number, utc_timestamp(entry.date), entry.summary) for entry in meta.revisions),
        key=lambda entry: (entry.date, entry.number),
    )
    current = utc_timestamp(meta.current_release)
    if meta.status == "draft":
        # CSAF 6.1.17/6.1.18: a draft is version 0; its history may hold nothing released.
        return [RevisionEntry(0, current, "Draft for coordinated disclosure")]
    if not revisions:
        revisions = [RevisionEntry(1, utc_timestamp(meta.initial_release), "Initial public release")]
    if meta.withdrawn and not revisions[-1].summary.lower().startswith("withdrawn"):
        # Withdrawing is itself a revision (see the module docstring).
        reason = meta.withdrawn_reason.strip()
        summary = f"Withdrawn: {reason}" if reason else "Withdrawn"
        revisions.append(RevisionEntry(revisions[-1].number + 1, max(current, revisions[-1].date), summary))
    return revisions


def _tracking(meta: PublicationMeta) -> dict[str, Any]:
    revisions = _revisions(meta)
    status = meta.status if meta.status in STATUSES else "final"
    current = max(utc_timestamp(meta.current_release), revisions[-1].date)
    return {
        "id": meta.identifier,
        "status": status,
        "version": str(revisions[-1].number),
        "initial_release_date": utc_timestamp(meta.initial_release),
        "current_release_date": current,
        "revision_history": [
            {"number": str(entry.number), "date": entry.date, "summary": entry.summary or "Revised"}
            for entry in revisions
        ],
        "generator": {
            "engine": {"name": "Bastion", "version": importlib.metadata.version("bastion")},
            "date": current,
        },
    }


def _document_notes(content: AdvisoryContent, meta: PublicationMeta) -> list[dict[str, str]]:
    notes = []
    if meta.withdrawn:
        reason = meta.withdrawn_reason.strip() or "No reason was given."
        notes.append(
            {"category": "general", "title": "Withdrawn", "text": f"This advisory was withdrawn. {reason}"}
        )
    if content.summary:
        notes.append({"category": "summary", "title": "Summary", "text": content.summary})
    return notes


def _acknowledgments(meta: PublicationMeta) -> list[dict[str, Any]]:
    labels = dict(CreditType.choices)
    entries = []
    for credit in meta.credits:
        entry: dict[str, Any] = {
            "names": [credit.name],
            "summary": str(labels.get(credit.credit_type, "Credit")),
        }
        if credit.link:
            entry["urls"] = [credit.link]
        entries.append(entry)
    return entries


def _references(content: AdvisoryContent, meta: PublicationMeta) -> list[dict[str, str]]:
    references = []
    if meta.status != "draft":
        # A draft handed upstream has no place in the public directory yet, so no self URL.
        references.append(
            {
                "category": "self",
                "summary": f"Canonical CSAF document for {meta.identifier}",
                "url": csaf_url(meta),
            }
        )
    if meta.url:
        references.append({"category": "self", "summary": f"Advisory {meta.identifier}", "url": meta.url})
    for url in content.references:
        references.append({"category": "external", "summary": url, "url": url})
    return references


def _vendor(item: AffectedPackage) -> str:
    # No vendor named: a package belongs to its ecosystem's maintainers (named by the ecosystem);
    # anything else is the publisher's own product or service.
    return item.vendor or (item.ecosystem if item.is_package else settings.PUBLISHER_NAME)


def _product_tree(
    affected: tuple[AffectedPackage, ...],
) -> tuple[dict[str, Any], list[str], list[str], list[tuple[str, list[str]]]]:
    """The product tree, the affected and fixed product ids, and (fixed version, affected ids) pairs."""
    vendors: dict[str, dict[str, list[dict[str, Any]]]] = {}
    affected_ids: list[str] = []
    fixed_ids: list[str] = []
    fixes: list[tuple[str, list[str]]] = []
    counter = 0

    def next_id() -> str:
        nonlocal counter
        counter += 1
        return f"CSAFPID-{counter:04d}"

    for item in affected:
        vendor = _vendor(item)
        product = item.product or item.package
        leaves = vendors.setdefault(vendor, {}).setdefault(product, [])
        range_id = next_id()
        range_product: dict[str, Any] = {
            "name": f"{vendor} {product} {item.affected_versions or vers_range(item)}",
            "product_id": range_id,
        }
        base_purl = purl(item)
        if base_purl:
            range_product["product_identification_helper"] = {"purl": base_purl}
        leaves.append(
            {"category": "product_version_range", "name": vers_range(item), "product": range_product}
        )
        affected_ids.append(range_id)
        if item.fixed:
            fixed_id = next_id()
            fixed_product: dict[str, Any] = {
                "name": f"{vendor} {product} {item.fixed}",
                "product_id": fixed_id,
            }
            fixed_purl = purl(item, item.fixed)
            if fixed_purl:
                fixed_product["product_identification_helper"] = {"purl": fixed_purl}
            leaves.append({"category": "product_version", "name": item.fixed, "product": fixed_product})
            fixed_ids.append(fixed_id)
            fixes.append((f"{product} {item.fixed}", [range_id]))

    branches = [
        {
            "category": "vendor",
            "name": vendor,
            "branches": [
                {"category": "product_name", "name": product, "branches": leaves}
                for product, leaves in products.items()
            ],
        }
        for vendor, products in vendors.items()
    ]
    return {"branches": branches} if branches else {}, affected_ids, fixed_ids, fixes


def _vulnerability(
    content: AdvisoryContent,
    affected_ids: list[str],
    fixed_ids: list[str],
    fixes: list[tuple[str, list[str]]],
) -> dict[str, Any]:
    vulnerability: dict[str, Any] = {}
    if content.cve_id:
        vulnerability["cve"] = content.cve_id
    if content.cwe_id:
        name = cwe_name(content.cwe_id)
        if name:
            vulnerability["cwe"] = {"id": f"CWE-{content.cwe_id}", "name": name}
    if content.title:
        vulnerability["title"] = content.title
    notes = []
    if content.description:
        notes.append({"category": "description", "title": "Description", "text": content.description})
    if content.summary:
        notes.append({"category": "summary", "title": "Summary", "text": content.summary})
    v4 = score(content.cvss_v4)
    if v4:
        # CSAF 2.0 scores know CVSS v2 and v3 only; a 4.0 vector travels as a note.
        notes.append(
            {
                "category": "other",
                "title": "CVSS v4.0",
                "text": f"{v4.vector} (base score {v4.base_score}, {v4.severity.lower()})",
            }
        )
    if not notes:
        # CSAF 6.1.27.5: a security advisory's vulnerability must have notes; the title is all we have.
        text = content.title or "See the advisory."
        notes.append({"category": "summary", "title": "Summary", "text": text})
    vulnerability["notes"] = notes

    status: dict[str, list[str]] = {}
    if affected_ids:
        status["known_affected"] = affected_ids
    if fixed_ids:
        status["fixed"] = fixed_ids
    vulnerability["product_status"] = status

    remediations: list[dict[str, Any]] = [
        {"category": "vendor_fix", "details": f"Update to {fixed} or later.", "product_ids": ids}
        for fixed, ids in fixes
    ]
    unfixed = [pid for pid in affected_ids if not any(pid in ids for _, ids in fixes)]
    if unfixed:
        remediations.append(
            {
                "category": "none_available",
                "details": "No fixed version is available yet.",
                "product_ids": unfixed,
            }
        )
    if content.workaround and affected_ids:
        remediations.append(
            {"category": "workaround", "details": content.workaround, "product_ids": affected_ids}
        )
    if remediations:
        vulnerability["remediations"] = remediations

    v3 = score(content.cvss_v3)
    if v3 and affected_ids:
        vulnerability["scores"] = [
            {
                "products": affected_ids,
                "cvss_v3": {
                    "version": v3.version,
                    "vectorString": v3.vector,
                    "baseScore": v3.base_score,
                    "baseSeverity": v3.severity,
                },
            }
        ]
    if content.references:
        vulnerability["references"] = [
            {"category": "external", "summary": url, "url": url} for url in content.references
        ]
    return vulnerability
