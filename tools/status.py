#!/usr/bin/env python3
"""Bench diagnostics: same as ``asicdrv status``."""

import sys

from asicdrv.cli import main

sys.exit(main(["status", *sys.argv[1:]]))
