"""Each MM generation's frames, as a plug-in the device layer calls.

:class:`~asicdrv.device.chain.Chain` asks a module's generation for its configuration
frames, its job frames, how to read a NONCE and which readings class folds its status; it
never branches on a model.  One module per generation (``avalon8`` holds the Avalon 7, 8, 9
and LC3, which differ in a few frames); this registry maps a model row's ``generation`` to
its plug-in.  A new generation is a module with a :class:`Generation` subclass, added to
:data:`GENERATIONS` (or through :func:`register`).  Protocol notes and sources:
``docs/protocol.md`` and ``docs/families.md``.
"""

from __future__ import annotations

from ..models import ModelSpec
from .avalon2 import Avalon2
from .avalon4 import Avalon4
from .avalon8 import Avalon7, Avalon8, Avalon9, AvalonLC3
from .base import Generation, effective_frequencies
from .nano import AvalonNano

GENERATIONS: dict[str, Generation] = {
    g.name: g
    for g in (Avalon7(), Avalon8(), Avalon9(), AvalonLC3(), Avalon4(), Avalon2(), AvalonNano())
}


def register(generation: Generation) -> Generation:
    """Add a generation (a plug-in of the caller's own)."""
    GENERATIONS[generation.name] = generation
    return generation


def generation_of(spec: ModelSpec) -> Generation:
    return GENERATIONS[spec.generation]


__all__ = ["GENERATIONS", "Generation", "effective_frequencies", "generation_of", "register"]
