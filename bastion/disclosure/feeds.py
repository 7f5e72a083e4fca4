"""The Atom feed of published advisories (``/security/advisories/feed.atom``).

``django.contrib.syndication`` needs no entry in INSTALLED_APPS: its ``Feed`` view and the
``Atom1Feed`` generator are plain classes. Without ``django.contrib.sites`` the feed's domain comes
from the request (``RequestSite``), which ALLOWED_HOSTS already vets.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from bastion.disclosure.models import Advisory
from bastion.disclosure.views.public import PublicAdvisory, present, public_advisories

FEED_SIZE = 50


class AdvisoryFeed(Feed[PublicAdvisory, None]):
    """The newest published advisories, one entry each; an update moves an entry's ``updated``."""

    feed_type = Atom1Feed

    def title(self) -> str:
        """The feed's title: the publisher's advisories."""
        return f"{settings.PUBLISHER_NAME} security advisories"

    def subtitle(self) -> str:
        """One line on what the feed holds."""
        return "Security advisories, updates and withdrawals, newest first."

    def link(self) -> str:
        """The advisory list page."""
        return reverse("disclosure:advisories")

    def feed_url(self) -> str:
        """The feed's own address (Atom's ``rel="self"``)."""
        return reverse("disclosure:advisory_feed")

    def author_name(self) -> str:
        """The publisher."""
        return settings.PUBLISHER_NAME

    def items(self) -> list[PublicAdvisory]:
        """The newest published advisories, withdrawn ones included (their withdrawal is news)."""
        advisories: list[Advisory] = list(public_advisories()[:FEED_SIZE])
        return [present(advisory) for advisory in advisories]

    def item_title(self, item: PublicAdvisory) -> str:
        """``BASTION-SA-2026-0001: <title>``, marked when withdrawn."""
        prefix = "[Withdrawn] " if item.withdrawn else ""
        return f"{prefix}{item.identifier}: {item.title}"

    def item_description(self, item: PublicAdvisory) -> str:
        """The advisory's summary (plain text; the page has the rest)."""
        summary = item.content.summary or item.title
        if item.severity:
            summary = f"{item.severity} severity. {summary}"
        return summary

    def item_link(self, item: PublicAdvisory) -> str:
        """The advisory's page."""
        return item.url

    def item_guid(self, item: PublicAdvisory) -> str:
        """A stable id for the entry, the same across updates: the advisory page's absolute URL."""
        return f"{settings.BASE_URL.rstrip('/')}{item.url}"

    def item_pubdate(self, item: PublicAdvisory) -> datetime | None:
        """When it was first published."""
        return _instant(item.meta.initial_release)

    def item_updateddate(self, item: PublicAdvisory) -> datetime | None:
        """When it last changed (an update or its withdrawal)."""
        return _instant(item.meta.current_release)

    def item_categories(self, item: PublicAdvisory) -> list[str]:
        """Its CVE ID and severity, as Atom categories readers can filter on."""
        return [value for value in (item.content.cve_id, item.severity) if value]


def _instant(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
