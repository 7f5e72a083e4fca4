"""Fail early, and plainly, when the interpreter is too old for Bastion."""

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - this runs under whatever python3 the machine has
    found = ".".join(map(str, sys.version_info[:3]))
    sys.exit(
        f"Bastion needs Python 3.11 or newer; `{sys.executable}` is {found}. Set PYTHON=/path/to/python3.11."
    )
