#!/usr/bin/env python3
"""Serve an emulated Avalon module on a pty (same as ``asicdrv emulate``)."""

import sys

from asicdrv.cli import main

sys.exit(main(["emulate", *sys.argv[1:]]))
