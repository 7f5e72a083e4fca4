"""The public advisory pages: the list, each advisory, the JSON index, and each advisory's exports.

Everything here reads only what is public by definition: ``Advisory.published`` (the clear form
written at publication) and the stored export documents. Nothing is decrypted, and an advisory
that was never published does not exist here (404), whatever its state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from bastion.disclosure.content import AdvisoryContent, PublicationMeta
from bastion.disclosure.exports.common import Score, score
from bastion.disclosure.exports.signing import sha256_file_line
from bastion.disclosure.models import Advisory, DocumentKind, PublishedDocument
from bastion.lib.markdown import is_allowed_url, render_markdown
from bastion.reports.cwe import cwe_name
from bastion.reports.models.credit import CreditType

# Published documents change only when an advisory is updated: a few minutes of caching is safe.
MAX_AGE = 300
SERVED_KINDS = {"osv": DocumentKind.OSV, "cve": DocumentKind.CVE}


def public_advisories() -> QuerySet[Advisory]:
    """Every advisory the public may read, newest publication first (withdrawn ones included)."""
    return Advisory.objects.public().order_by("-published_at", "-id")


def _advisory_or_404(identifier: str) -> Advisory:
    found = public_advisories().filter(identifier__iexact=identifier).first()
    if found is None:
        raise Http404("No published advisory has this identifier.")
    return found


@dataclass(frozen=True)
class PublicAdvisory:
    """One published advisory as the pages show it: its content, metadata and derived facts."""

    advisory: Advisory
    content: AdvisoryContent
    meta: PublicationMeta

    @property
    def identifier(self) -> str:
        """The advisory's identifier (``BASTION-SA-2026-0001``)."""
        return self.advisory.identifier

    @property
    def title(self) -> str:
        """Its title, or the identifier when it has none."""
        return self.content.title or self.identifier

    @property
    def withdrawn(self) -> bool:
        """Whether it was withdrawn (it stays public, marked so)."""
        return self.meta.withdrawn

    @property
    def cvss_v3(self) -> Score | None:
        """The scored CVSS 3.x vector, if any."""
        return score(self.content.cvss_v3)

    @property
    def cvss_v4(self) -> Score | None:
        """The scored CVSS 4.0 vector, if any."""
        return score(self.content.cvss_v4)

    @property
    def severity(self) -> str:
        """The severity word (``Critical``), from the 4.0 vector if there is one, else 3.x; "" if unscored."""
        found = self.cvss_v4 or self.cvss_v3
        return found.severity.capitalize() if found else ""

    @property
    def cwe(self) -> str:
        """``CWE-79 Improper Neutralization …``, or ""."""
        if not self.content.cwe_id:
            return ""
        name = cwe_name(self.content.cwe_id)
        return f"CWE-{self.content.cwe_id}" + (f" {name}" if name else "")

    @property
    def url(self) -> str:
        """The path of its page on this site."""
        return reverse("disclosure:advisory", args=[self.identifier])


def present(advisory: Advisory) -> PublicAdvisory:
    """The public view of a published advisory (its clear form; nothing is decrypted)."""
    content = advisory.public_content()
    meta = advisory.publication_meta()
    if content is None or meta is None:
        raise Http404("No published advisory has this identifier.")
    return PublicAdvisory(advisory=advisory, content=content, meta=meta)


def _documents(advisory: Advisory) -> dict[str, PublishedDocument]:
    return {document.kind: document for document in advisory.documents.all()}


def _document_links(identifier: str, kinds: set[str]) -> dict[str, str]:
    return {
        kind: reverse(f"disclosure:advisory_{kind}", args=[identifier])
        for kind in (DocumentKind.CSAF, DocumentKind.OSV, DocumentKind.CVE)
        if kind in kinds
    }


@require_GET
def advisory_list(request: HttpRequest) -> HttpResponse:
    """``/security/advisories``: every published advisory, newest first, withdrawn ones marked."""
    advisories = [present(advisory) for advisory in public_advisories()]
    return render(request, "disclosure/public/advisory_list.html", {"advisories": advisories})


@require_GET
def advisory_page(request: HttpRequest, identifier: str) -> HttpResponse:
    """``/security/advisories/<identifier>``: one advisory in full, with its change log and exports."""
    advisory = _advisory_or_404(identifier)
    if advisory.identifier != identifier:
        return redirect("disclosure:advisory", advisory.identifier, permanent=True)
    shown = present(advisory)
    labels = dict(CreditType.choices)
    # A link is shown as a link only when it is http(s) or mailto: a credit's link is the
    # reporter's words, and a javascript: URL must not become clickable here.
    credits = [
        {
            "name": credit.name,
            "link": credit.link if is_allowed_url(credit.link) else "",
            "type": labels.get(credit.credit_type, credit.credit_type),
        }
        for credit in shown.meta.credits
    ]
    references = [(url, is_allowed_url(url)) for url in shown.content.references]
    context = {
        "item": shown,
        "content": shown.content,
        "description": render_markdown(shown.content.description) if shown.content.description else "",
        "workaround": render_markdown(shown.content.workaround) if shown.content.workaround else "",
        "credits": credits,
        "references": references,
        "changes": advisory.changes.order_by("created_at", "id"),
        "documents": _document_links(advisory.identifier, set(_documents(advisory))),
    }
    return render(request, "disclosure/public/advisory.html", context)


def index_entry(shown: PublicAdvisory, request: HttpRequest, kinds: set[str]) -> dict[str, Any]:
    """One advisory's entry in the JSON index (absolute URLs)."""
    v3, v4 = shown.cvss_v3, shown.cvss_v4
    return {
        "identifier": shown.identifier,
        "title": shown.title,
        "summary": shown.content.summary,
        "severity": shown.severity.upper() or None,
        "cvss_v3": {"vector": v3.vector, "base_score": v3.base_score} if v3 else None,
        "cvss_v4": {"vector": v4.vector, "base_score": v4.base_score} if v4 else None,
        "cwe": f"CWE-{shown.content.cwe_id}" if shown.content.cwe_id else None,
        "cve": shown.content.cve_id or None,
        "published": shown.meta.initial_release,
        "modified": shown.meta.current_release,
        "withdrawn": shown.withdrawn,
        "url": request.build_absolute_uri(shown.url),
        "documents": {
            kind: request.build_absolute_uri(url)
            for kind, url in _document_links(shown.identifier, kinds).items()
        },
    }


@require_GET
def advisory_index(request: HttpRequest) -> JsonResponse:
    """``/security/advisories/index.json``: every published advisory, newest first, as JSON."""
    kinds_by_advisory: dict[int, set[str]] = {}
    for advisory_id, kind in PublishedDocument.objects.values_list("advisory_id", "kind"):
        kinds_by_advisory.setdefault(advisory_id, set()).add(kind)
    advisories = [present(advisory) for advisory in public_advisories()]
    body = {
        "publisher": {"name": settings.PUBLISHER_NAME, "namespace": settings.PUBLISHER_NAMESPACE},
        "advisories": [
            index_entry(shown, request, kinds_by_advisory.get(shown.advisory.pk, set()))
            for shown in advisories
        ],
    }
    response = JsonResponse(body, json_dumps_params={"indent": 2})
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    return response


@require_GET
def advisory_csaf(request: HttpRequest, identifier: str) -> HttpResponseRedirect:
    """``…/<identifier>/csaf.json``: to the document's canonical place in the CSAF provider directory."""
    advisory = _advisory_or_404(identifier)
    document = PublishedDocument.objects.filter(advisory=advisory, kind=DocumentKind.CSAF).first()
    if document is None:
        raise Http404("This advisory has no CSAF document.")
    year, filename = document.path.split("/", 1)
    return redirect("disclosure:csaf_document", int(year), filename.removesuffix(".json"))


def _served(identifier: str, kind: str) -> PublishedDocument:
    advisory = _advisory_or_404(identifier)
    document = PublishedDocument.objects.filter(advisory=advisory, kind=SERVED_KINDS[kind]).first()
    if document is None:
        raise Http404(f"This advisory has no {kind.upper()} document.")
    return document


def _cached(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    return response


@require_GET
def advisory_document(request: HttpRequest, identifier: str, kind: str) -> HttpResponse:
    """``…/<identifier>/osv.json`` or ``cve.json``: the stored document, byte for byte as signed."""
    document = _served(identifier, kind)
    return _cached(HttpResponse(document.content.encode("utf-8"), content_type="application/json"))


@require_GET
def advisory_document_sha256(request: HttpRequest, identifier: str, kind: str) -> HttpResponse:
    """``…/<kind>.json.sha256``: its SHA-256 in ``sha256sum`` format."""
    document = _served(identifier, kind)
    line = sha256_file_line(document.sha256, f"{kind}.json")
    return _cached(HttpResponse(line, content_type="text/plain; charset=utf-8"))


@require_GET
def advisory_document_signature(request: HttpRequest, identifier: str, kind: str) -> HttpResponse:
    """``…/<kind>.json.asc``: its detached OpenPGP signature by the org key."""
    document = _served(identifier, kind)
    return _cached(HttpResponse(document.signature, content_type="text/plain; charset=utf-8"))
