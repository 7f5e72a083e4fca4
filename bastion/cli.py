"""The ``bastion`` command: Django's management commands under one product name.

``bastion run``, ``bastion migrate``, ``bastion verify-audit``: any management command works, and
commands with dashes in their names map to their module names (``verify-audit`` → ``verify_audit``).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point for the console script and ``manage.py``."""
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bastion.settings")
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")

    from django.core.management import execute_from_command_line

    execute_from_command_line(["bastion", *args])
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
