#!/usr/bin/env python3
"""Bench diagnostics: same as ``asicdrv set``."""

import sys

from asicdrv.cli import main

sys.exit(main(["set", *sys.argv[1:]]))
