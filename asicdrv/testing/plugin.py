"""pytest fixtures for controller code built on asicdrv (registered through the
``pytest11`` entry point, so installing asicdrv is enough):

    def test_my_controller_mines(asicdrv_chain, stratum_pool):
        ...                       # an open emulated chain, and a pool that checks shares

``asicdrv_emulator``: an :class:`asicdrv.Emulator` with two 851 modules whose chips find
easy shares; ``asicdrv_chain``: a chain opened on it; ``stratum_pool``: a running
:class:`asicdrv.testing.TestPool` whose difficulty those shares meet.
"""

from __future__ import annotations

import pytest

from . import EASY_NONCE_MASK, TestPool, easy_difficulty


@pytest.fixture
def asicdrv_emulator():
    from ..emulator import Emulator

    emulator = Emulator(modules=2, nonce_mask=EASY_NONCE_MASK, seed=1)
    yield emulator
    emulator.close()


@pytest.fixture
def asicdrv_chain(asicdrv_emulator):
    from ..connect import open as open_chain

    chain = open_chain("emu://", emulator=asicdrv_emulator)
    yield chain
    chain.close()


@pytest.fixture
def stratum_pool():
    with TestPool(difficulty=easy_difficulty()) as pool:
        yield pool
