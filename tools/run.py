#!/usr/bin/env python3
"""The mining controller: same as ``asicdrv run``."""

import sys

from asicdrv.cli import main

sys.exit(main(["run", *sys.argv[1:]]))
