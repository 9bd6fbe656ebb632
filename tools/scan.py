#!/usr/bin/env python3
"""Bench diagnostics: same as ``asicdrv scan``."""

import sys

from asicdrv.cli import main

sys.exit(main(["scan", *sys.argv[1:]]))
