"""What every portal response shares: opening the report a link names, private headers, safe downloads.

A portal link is a bearer secret in the URL path. Whoever holds it is the reporter, so the pages it
opens must not be stored by a shared cache or browser history cache (``Cache-Control: no-store``)
nor indexed should a link leak into a crawler's reach (``X-Robots-Tag: noindex``). The site-wide
``Referrer-Policy: same-origin`` keeps the token out of the Referer sent to other sites.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import wraps
from typing import Any

from axes.helpers import get_client_ip_address
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header

from bastion.reports.errors import PortalTokenRejected
from bastion.reports.models import Report
from bastion.reports.services import report_for_portal_token

PortalView = Callable[..., HttpResponseBase]

# Long enough for any real file name, short enough that no header limit is ever near.
MAX_DOWNLOAD_NAME = 150
FALLBACK_NAME = "attachment"


def client_ip(request: HttpRequest) -> str | None:
    """The visitor's address for the audit row, as the rest of Bastion reads it (axes' settings)."""
    if "REMOTE_ADDR" not in request.META:
        return None
    address: str | None = get_client_ip_address(request)
    return address


def private(response: HttpResponseBase) -> HttpResponseBase:
    """``response`` marked as never to be cached or indexed (it sits behind a secret link)."""
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def link_rejected(request: HttpRequest) -> HttpResponse:
    """The one answer to every link that opens nothing: no report, wrong token, replaced token.

    One page for all cases: telling them apart would let a guesser confirm tracking IDs.
    """
    return render(request, "portal/link_rejected.html", status=404)


def portal_view(view: PortalView) -> PortalView:
    """Turn ``view(request, report, **kwargs)`` into a view of ``<tracking_id>/<token>/...``.

    The report is loaded first, through the token check (constant-time, refusals audited by the
    service); every response, refusals included, gets the private headers.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, tracking_id: str, token: str, **kwargs: Any) -> HttpResponseBase:
        try:
            report = report_for_portal_token(tracking_id, token, ip=client_ip(request))
        except PortalTokenRejected:
            return private(link_rejected(request))
        return private(view(request, report, **kwargs))

    return wrapped


def back_to_report(report: Report, token: str, *, anchor: str = "") -> HttpResponseRedirect:
    """303 See Other to the report's page: the browser then GETs it, so a reload never re-posts."""
    url = reverse("portal:report", args=[report.tracking_id, token])
    response = HttpResponseRedirect(url + (f"#{anchor}" if anchor else ""))
    response.status_code = 303
    return response


def safe_filename(name: str) -> str:
    """A download name that is only ever a plain file name, whatever the sender called the file.

    The stored name is the sender's and untrusted: keep only its last path component (no ``../``
    or ``C:\\`` games with a browser's save dialog), drop control and format characters (no header
    splitting, no right-to-left overrides that disguise ``exe.txt``), and leading dots (no hidden
    files). Quoting for the header itself is :func:`content_disposition`'s job.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(ch for ch in base if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    cleaned = " ".join(kept.split()).lstrip(". ")
    if len(cleaned) > MAX_DOWNLOAD_NAME:
        stem, dot, ext = cleaned.rpartition(".")
        keep_ext = dot and 0 < len(ext) <= 16
        cleaned = (
            (stem[: MAX_DOWNLOAD_NAME - len(ext) - 1] + "." + ext)
            if keep_ext
            else cleaned[:MAX_DOWNLOAD_NAME]
        )
    return cleaned or FALLBACK_NAME


def content_disposition(name: str) -> str:
    """``attachment`` with ``name`` made safe, quoted as RFC 6266 wants (``filename*`` for non-ASCII)."""
    header = content_disposition_header(as_attachment=True, filename=safe_filename(name))
    assert header is not None  # always set for an attachment
    return header
