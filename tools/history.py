#!/usr/bin/env python3
"""Bench diagnostics: same as ``asicdrv history``."""

import sys

from asicdrv.cli import main

sys.exit(main(["history", *sys.argv[1:]]))
