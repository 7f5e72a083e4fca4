#!/usr/bin/env python
"""Django's command-line utility; `bastion` (bastion/cli.py) is the friendlier front door."""

import sys

from bastion.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
