"""The reporter's timeline reads as sentences even when an entry's data is old, partial or odd.

Timeline rows outlive the code that wrote them (a status renamed since, an entry written before a
field existed), and the reporter must still read a plain sentence, never a crash or a raw value.
"""

from __future__ import annotations

import pytest

from bastion.portal.timeline import describe
from bastion.reports.models import TimelineEntry, TimelineKind


@pytest.mark.parametrize(
    ("kind", "data", "zone", "sentence"),
    [
        (
            TimelineKind.STATUS_CHANGED,
            {"from": "new", "to": "archived"},
            "UTC",
            "Status changed from New to archived.",
        ),
        (TimelineKind.BOUNTY_DECIDED, {"status": "pending"}, "UTC", "Bounty decision."),
        (TimelineKind.ATTACHMENT_ADDED, {}, "UTC", "A file was added."),
        (
            TimelineKind.MARKED_DUPLICATE,
            {"original": "BST-ABCD1234EF"},
            "Europe/Berlin",
            "Marked as a duplicate of BST-ABCD1234EF, which we received before your report.",
        ),
        (
            TimelineKind.MARKED_DUPLICATE,
            {"original": "BST-ABCD1234EF", "original_received_at": "2026-06-01T09:00:00+00:00"},
            "Mars/Olympus_Mons",
            "Marked as a duplicate of BST-ABCD1234EF, which we received before your report.",
        ),
        (
            TimelineKind.EMBARGO_SET,
            {"ends_at": "when the fix ships"},
            "Europe/Berlin",
            "Embargo until a date to be confirmed: nothing about this report is published before then.",
        ),
        (
            TimelineKind.EMBARGO_SET,
            {"ends_at": "2026-06-11T09:00:00+00:00"},
            "UTC",
            "Embargo until 11 Jun 2026, 09:00 UTC: nothing about this report is published before then.",
        ),
    ],
    ids=[
        "unknown-status",
        "undecided-bounty",
        "file",
        "duplicate-without-date",
        "duplicate-in-unknown-zone",
        "embargo-without-date",
        "embargo-in-utc",
    ],
)
def test_an_entry_reads_as_a_plain_sentence(kind: str, data: dict[str, object], zone: str, sentence: str):
    assert describe(TimelineEntry(kind=kind, data=data), time_zone=zone) == sentence
