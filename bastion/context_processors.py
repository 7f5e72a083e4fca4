"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """The product name, for titles and the header."""
    return {"site_name": settings.SITE_NAME}
