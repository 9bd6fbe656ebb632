#!/usr/bin/env python3
"""Decode captured Avalon MM frames / AUC packets (same as ``asicdrv decode``)."""

import sys

from asicdrv.cli import main

sys.exit(main(["decode", *sys.argv[1:]]))
