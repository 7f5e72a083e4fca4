"""The public form of an advisory: its export metadata, the clear JSON the public pages read, the exports.

The exports themselves are built, validated, signed and stored by :mod:`bastion.disclosure.exports`;
this module only decides what goes into them (dates, revision history, credits, withdrawal) so
the checklist validates exactly what publication would write.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from bastion.disclosure.content import AdvisoryContent, PublicationMeta, PublicCredit, RevisionEntry
from bastion.disclosure.exports.publish import check_exports
from bastion.disclosure.models import Advisory

INITIAL = "Initial publication"
PUBLIC_PATH = "/security/advisories/"


def iso(moment: datetime) -> str:
    """An instant as the exports and the public JSON state it: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat()


def public_url(identifier: str) -> str:
    """The advisory's public page."""
    return f"{settings.BASE_URL.rstrip('/')}{PUBLIC_PATH}{identifier}"


def next_meta(
    advisory: Advisory, *, credits: list[PublicCredit], at: datetime, summary: str = INITIAL
) -> PublicationMeta:
    """The metadata of the advisory's next publication at ``at``: the history so far plus ``summary``.

    The first publication starts the history at revision 1 ("Initial publication"); each update
    adds the next number, with the public summary its editor wrote.
    """
    prior = advisory.publication_meta()
    history = prior.revisions if prior else ()
    entry = RevisionEntry(number=len(history) + 1, date=iso(at), summary=summary)
    return PublicationMeta(
        identifier=advisory.identifier,
        initial_release=prior.initial_release if prior else iso(at),
        current_release=iso(at),
        revisions=(*history, entry),
        credits=tuple(credits),
        status="final",
        tlp="WHITE",
        url=public_url(advisory.identifier),
    )


def withdrawal_meta(advisory: Advisory, *, reason: str, at: datetime) -> PublicationMeta:
    """The metadata of a published advisory withdrawn at ``at`` for ``reason`` (public)."""
    prior = advisory.publication_meta()
    assert prior is not None, "only a published advisory is withdrawn in public"
    entry = RevisionEntry(number=len(prior.revisions) + 1, date=iso(at), summary=withdrawn_summary(reason))
    return replace(
        prior,
        current_release=iso(at),
        revisions=(*prior.revisions, entry),
        withdrawn=True,
        withdrawn_reason=reason,
    )


def withdrawn_summary(reason: str) -> str:
    """The change-log line of a withdrawal."""
    return f"Withdrawn: {reason}"


def public_form(content: AdvisoryContent, meta: PublicationMeta) -> dict[str, Any]:
    """What ``Advisory.published`` holds (see its model's docstring): public, so in clear."""
    return {
        "identifier": meta.identifier,
        "content": content.to_json(),
        "credits": [asdict(credit) for credit in meta.credits],
        "revisions": [asdict(entry) for entry in meta.revisions],
        "initial_release": meta.initial_release,
        "current_release": meta.current_release,
        "withdrawn": meta.withdrawn,
        "withdrawn_reason": meta.withdrawn_reason,
        "url": meta.url,
    }


def export_problems(content: AdvisoryContent, meta: PublicationMeta) -> list[str]:
    """Why the exports of ``content`` would not validate against their official schemas (empty: fine)."""
    return [problem for problems in check_exports(content, meta).values() for problem in problems]
