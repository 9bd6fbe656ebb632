#!/usr/bin/env python3
"""Bench diagnostics: same as ``asicdrv selftest``."""

import sys

from asicdrv.cli import main

sys.exit(main(["selftest", *sys.argv[1:]]))
