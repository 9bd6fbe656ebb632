#!/usr/bin/env python3
"""Bench diagnostics: same as ``asicdrv monitor``."""

import sys

from asicdrv.cli import main

sys.exit(main(["monitor", *sys.argv[1:]]))
