#!/usr/bin/env python3
"""Bench diagnostics: same as ``asicdrv mine``."""

import sys

from asicdrv.cli import main

sys.exit(main(["mine", *sys.argv[1:]]))
