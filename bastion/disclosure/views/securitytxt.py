"""``/.well-known/security.txt`` (RFC 9116), signed by the org key, and the legacy ``/security.txt``.

The newest signed document is served as stored, byte for byte, so what was served on a day stays
provable. One is signed on the spot when there is none yet, or when the settings (or the org key)
changed since: a stale or missing security.txt is worse than a request that waits for a signature.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET

from bastion.disclosure.services.securitytxt import (
    SecurityTxtUnsignable,
    current_security_txt,
    ensure_security_txt,
)

logger = logging.getLogger(__name__)

# Short enough that a re-signed document (new settings, a rotated key) is seen within the hour.
MAX_AGE = 3600


@require_GET
def security_txt(request: HttpRequest) -> HttpResponse:
    """The signed security.txt, as ``text/plain; charset=utf-8``."""
    try:
        document = ensure_security_txt()
    except SecurityTxtUnsignable:
        logger.error("security.txt cannot be signed: the org key cannot sign any more")
        latest = current_security_txt()
        if latest is None:
            return HttpResponse(
                "security.txt is unavailable: the signing key has lapsed.\n",
                status=503,
                content_type="text/plain; charset=utf-8",
            )
        document = latest
    response = HttpResponse(document.text, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    # Any origin may read it (security scanners, browsers' tools): it is public by definition.
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def legacy_security_txt(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """``/security.txt`` redirects to the well-known location, as RFC 9116 §3 allows."""
    return HttpResponsePermanentRedirect(reverse("disclosure:security_txt"))
