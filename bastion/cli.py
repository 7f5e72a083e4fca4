"""The ``bastion`` command: Django's management commands under one product name.

``bastion run``, ``bastion migrate``, ``bastion verify-audit``: any management command works, and
commands with dashes in their names map to their module names (``verify-audit`` → ``verify_audit``).
``bastion mailgate`` is the exception: it runs once per incoming message, so it is dispatched here,
before Django loads (see ``bastion.intake.mail.mailgate`` for the measurement).
"""

from __future__ import annotations

import importlib
import os
import sys

MAILGATE = "bastion.intake.mail.mailgate"


def main(argv: list[str] | None = None) -> int:
    """Entry point for the console script and ``manage.py``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["mailgate"]:
        # Found by name, as Django finds every other command: the entry point names commands, it
        # does not depend on the apps that provide them.
        mailgate: int = importlib.import_module(MAILGATE).main(args[1:])
        return mailgate
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bastion.settings")
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")

    from django.core.management import execute_from_command_line

    execute_from_command_line(["bastion", *args])
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
