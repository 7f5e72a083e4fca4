"""Duplicates: finding the reports that look like this one, and marking one a duplicate of another.

:mod:`.finding` compares a report with open and recent ones, decrypted in memory (never an index on
disk), and says why each candidate matched; :mod:`.marking` links a duplicate to the report that
came first and tells its reporter which one and when, with that report's signed receipt.
"""

from bastion.reports.services.duplicates.finding import (
    MIN_SCORE,
    POOL_LIMIT,
    RECENT_DAYS,
    Candidate,
    duplicate_pool,
    find_duplicate_candidates,
)
from bastion.reports.services.duplicates.marking import (
    DuplicateMarked,
    duplicates_of,
    is_duplicate,
    mark_duplicate,
)

__all__ = [
    "MIN_SCORE",
    "POOL_LIMIT",
    "RECENT_DAYS",
    "Candidate",
    "DuplicateMarked",
    "duplicate_pool",
    "duplicates_of",
    "find_duplicate_candidates",
    "is_duplicate",
    "mark_duplicate",
]
