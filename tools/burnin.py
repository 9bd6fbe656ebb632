#!/usr/bin/env python3
"""Bench diagnostics: same as ``asicdrv burnin``."""

import sys

from asicdrv.cli import main

sys.exit(main(["burnin", *sys.argv[1:]]))
