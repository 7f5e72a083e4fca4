"""Fixtures for the project-wide tests, borrowed from the reports tests rather than copied.

Only fixtures a test asks for by name are imported here: the reports tests' private vault is
autouse, so each module that needs it imports it itself.
"""

from __future__ import annotations

from bastion.disclosure.tests.conftest import handoff, report  # noqa: F401  (fixtures)
from bastion.reports.tests.conftest import backup_disk, submit  # noqa: F401  (fixtures)
