"""Build, validate, sign and store every export of a published advisory.

The advisory services call :func:`publish_documents` inside their publish (or update, or
withdraw) transaction, and :func:`check_exports` for the pre-publish checklist. Which kinds an
advisory gets (:func:`export_kinds`): CSAF always; OSV when it names a package; CVE when it has a
CVE ID (a CNA container is about one CVE).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone

from bastion.disclosure.content import AdvisoryContent, PublicationMeta
from bastion.disclosure.exports.csaf import build_csaf, csaf_path
from bastion.disclosure.exports.cve import build_cve_cna_container
from bastion.disclosure.exports.osv import build_osv
from bastion.disclosure.exports.signing import sign_document
from bastion.disclosure.exports.validate import validate_export
from bastion.disclosure.models import Advisory, DocumentKind, PublishedDocument

Builder = Callable[[AdvisoryContent, PublicationMeta], dict[str, Any] | None]
BUILDERS: dict[str, Builder] = {
    DocumentKind.CSAF: build_csaf,
    DocumentKind.OSV: build_osv,
    DocumentKind.CVE: build_cve_cna_container,
}


class ExportInvalid(Exception):
    """An export failed its schema: nothing was written. ``problems`` say what and where, in plain words."""

    def __init__(self, kind: str, problems: list[str]) -> None:
        self.kind = kind
        self.problems = problems
        super().__init__(
            f"The {DocumentKind(kind).label} export is not valid, so nothing was published: "
            + "; ".join(problems)
            + " Correct the advisory and publish again."
        )


def export_kinds(content: AdvisoryContent) -> list[str]:
    """The kinds of document this advisory is published in (see the module docstring)."""
    kinds: list[str] = [DocumentKind.CSAF]
    if any(item.is_package for item in content.affected):
        kinds.append(DocumentKind.OSV)
    if content.cve_id:
        kinds.append(DocumentKind.CVE)
    return kinds


def build_exports(content: AdvisoryContent, meta: PublicationMeta) -> dict[str, dict[str, Any]]:
    """Every applicable export of an advisory, by kind, unvalidated."""
    built: dict[str, dict[str, Any]] = {}
    for kind in export_kinds(content):
        document = BUILDERS[kind](content, meta)
        if document is not None:
            built[kind] = document
    return built


def check_exports(content: AdvisoryContent, meta: PublicationMeta) -> dict[str, list[str]]:
    """For the checklist: each applicable kind and its problems (all lists empty: ready to publish)."""
    return {kind: validate_export(kind, document) for kind, document in build_exports(content, meta).items()}


def document_path(kind: str, meta: PublicationMeta) -> str:
    """Where a kind's document is served below its root (see ``PublishedDocument.path``).

    CSAF: ``<year>/<filename>`` in the TLP:WHITE directory. OSV and CVE: ``<identifier>.json``.
    """
    return csaf_path(meta) if kind == DocumentKind.CSAF else f"{meta.identifier}.json"


def publish_documents(
    *, advisory: Advisory, content: AdvisoryContent, meta: PublicationMeta
) -> list[PublishedDocument]:
    """Build, validate, sign and store the advisory's exports; the stored rows, one per kind.

    Raises :class:`ExportInvalid` for the first kind that fails its schema, before anything is
    written; a draft or non-WHITE ``meta`` is refused the same way (only a public advisory goes in
    the public directory). Rows are rewritten in place on an update; a kind that no longer applies
    (the CVE ID was removed) loses its row. Runs in the caller's transaction when there is one.
    """
    if meta.status == "draft" or meta.tlp.upper() not in ("WHITE", "CLEAR"):
        raise ExportInvalid(
            DocumentKind.CSAF,
            [
                f"a {meta.status} TLP:{meta.tlp} document stays out of the public directory; "
                "publish with status final and TLP:WHITE"
            ],
        )
    built = build_exports(content, meta)
    for kind, document in built.items():
        problems = validate_export(kind, document)
        if problems:
            raise ExportInvalid(kind, problems)
    signed = {kind: sign_document(built_document) for kind, built_document in built.items()}
    now = timezone.now()
    stored: list[PublishedDocument] = []
    with transaction.atomic():
        PublishedDocument.objects.filter(advisory=advisory).exclude(kind__in=list(built)).delete()
        for kind, signed_document in signed.items():
            row, _created = PublishedDocument.objects.update_or_create(
                advisory=advisory,
                kind=kind,
                defaults={
                    "path": document_path(kind, meta),
                    "content": signed_document.text,
                    "sha256": signed_document.sha256,
                    "signature": signed_document.signature,
                    "updated_at": now,
                },
            )
            stored.append(row)
    return stored
