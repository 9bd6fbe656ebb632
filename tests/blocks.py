"""The real blocks the tests replay (kept in the package: selftest uses them too)."""

from asicdrv.bitcoin.known_blocks import BLOCK_170, GENESIS, notify_params  # noqa: F401
