"""The CSAF 2.0 provider tree (CSAF 2.0 section 7), under ``/.well-known/csaf/``.

Bastion is a ``csaf_trusted_provider`` with a directory-based distribution (requirements 11-14)
of its TLP:WHITE documents, each with a SHA-256 and a detached OpenPGP signature (18, 19), and its
public key named in the provider metadata (20):

- ``provider-metadata.json`` (7.1.7), from settings and the org key;
- ``white/`` and ``white/<year>/``: directory listings (14);
- ``white/<year>/<id>.json`` plus ``.json.sha256`` and ``.json.asc`` (11, 18, 19);
- ``white/index.txt`` (12) and ``white/changes.csv`` (13).

Only published documents are here (a hand-off's TLP:AMBER draft is never stored as one), and
nothing is decrypted to serve them.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from bastion.disclosure.exports.common import utc_timestamp
from bastion.disclosure.exports.csaf import CSAF_ROOT, csaf_directory_url
from bastion.disclosure.exports.signing import sha256_file_line
from bastion.disclosure.models import DocumentKind, PublishedDocument
from bastion.vault.orgkey import get_org_public_key

MAX_AGE = 300
TEXT = "text/plain; charset=utf-8"


def _absolute(path: str) -> str:
    return f"{settings.BASE_URL.rstrip('/')}{path}"


def csaf_documents() -> QuerySet[PublishedDocument]:
    """The CSAF documents in the TLP:WHITE directory: those of advisories published at least once."""
    return PublishedDocument.objects.filter(
        kind=DocumentKind.CSAF, advisory__published_at__isnull=False
    ).select_related("advisory")


def _cached(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    return response


def provider_metadata() -> dict[str, Any]:
    """The provider metadata document (CSAF 2.0 section 7.2.1), as a JSON-ready dict.

    ``last_updated`` is when a document last changed (or now, with none yet): it tells
    aggregators when to look again. Listing or mirroring on aggregators is off: a publisher opts
    in to that when it registers with one.
    """
    newest = csaf_documents().order_by("-updated_at").values_list("updated_at", flat=True).first()
    key = get_org_public_key()
    return {
        "canonical_url": _absolute(f"{CSAF_ROOT}/provider-metadata.json"),
        "distributions": [{"directory_url": csaf_directory_url("WHITE")}],
        "last_updated": utc_timestamp((newest or timezone.now()).isoformat()),
        "list_on_CSAF_aggregators": False,
        "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": False,
        "public_openpgp_keys": [
            {"fingerprint": key.fingerprint, "url": _absolute(reverse("intake:security_key"))}
        ],
        "publisher": {
            "category": "vendor",
            "name": settings.PUBLISHER_NAME,
            "namespace": settings.PUBLISHER_NAMESPACE,
        },
        "role": "csaf_trusted_provider",
    }


@require_GET
def provider_metadata_json(request: HttpRequest) -> HttpResponse:
    """``/.well-known/csaf/provider-metadata.json``."""
    response = JsonResponse(provider_metadata(), json_dumps_params={"indent": 2, "sort_keys": True})
    return _cached(response)


def _current_release(document: PublishedDocument) -> str:
    """The document's ``current_release_date`` as it states it (what changes.csv lists)."""
    data = json.loads(document.content)
    return str(data["document"]["tracking"]["current_release_date"])


@require_GET
def index_txt(request: HttpRequest) -> HttpResponse:
    """``white/index.txt``: every document's path relative to the directory, one a line."""
    paths = sorted(csaf_documents().values_list("path", flat=True))
    return _cached(HttpResponse("".join(f"{path}\n" for path in paths), content_type=TEXT))


@require_GET
def changes_csv(request: HttpRequest) -> HttpResponse:
    """``white/changes.csv``: ``"path","current_release_date"`` per document, newest first."""
    rows = sorted(
        ((document.path, _current_release(document)) for document in csaf_documents()),
        key=lambda row: (row[1], row[0]),
        reverse=True,
    )
    text = "".join(f'"{path}","{released}"\n' for path, released in rows)
    return _cached(HttpResponse(text, content_type=TEXT))


@require_GET
def directory(request: HttpRequest, year: int | None = None) -> HttpResponse:
    """``white/`` (its year folders and files) or ``white/<year>/`` (that year's files), as links."""
    paths = sorted(csaf_documents().values_list("path", flat=True))
    if year is None:
        years = sorted({path.split("/", 1)[0] for path in paths}, reverse=True)
        entries = [f"{name}/" for name in years] + ["index.txt", "changes.csv"]
    else:
        prefix = f"{year:04d}/"
        names = [path.removeprefix(prefix) for path in paths if path.startswith(prefix)]
        if not names:
            raise Http404("No CSAF document was published that year.")
        entries = [f"{name}{suffix}" for name in names for suffix in ("", ".sha256", ".asc")]
    context = {"title": f"{CSAF_ROOT}/white/" + (f"{year:04d}/" if year else ""), "entries": entries}
    return _cached(render(request, "disclosure/public/csaf_directory.html", context))


def _document(year: int, filename: str) -> PublishedDocument:
    found = csaf_documents().filter(path=f"{year:04d}/{filename}").first()
    if found is None:
        raise Http404("No CSAF document has this name.")
    return found


@require_GET
def document_json(request: HttpRequest, year: int, name: str) -> HttpResponse:
    """``white/<year>/<name>.json``: the document, byte for byte as hashed and signed."""
    document = _document(year, f"{name}.json")
    return _cached(HttpResponse(document.content.encode("utf-8"), content_type="application/json"))


@require_GET
def document_sha256(request: HttpRequest, year: int, name: str) -> HttpResponse:
    """``white/<year>/<name>.json.sha256``: ``<hex>  <name>.json``, as ``sha256sum -c`` reads it."""
    document = _document(year, f"{name}.json")
    return _cached(HttpResponse(sha256_file_line(document.sha256, f"{name}.json"), content_type=TEXT))


@require_GET
def document_signature(request: HttpRequest, year: int, name: str) -> HttpResponse:
    """``white/<year>/<name>.json.asc``: the org key's detached signature over the document."""
    document = _document(year, f"{name}.json")
    return _cached(HttpResponse(document.signature, content_type=TEXT))
