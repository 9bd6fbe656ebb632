"""Each MM generation's frames, as a plug-in the device layer calls.

:class:`~asicdrv.device.chain.Chain` asks a module's generation for its configuration
frames, its job frames, how to read a NONCE and which readings class folds its status; it
never branches on a model.  One module per generation (``avalon8`` holds the Avalon 7, 8, 9
and LC3, which differ in a few frames); this registry maps a model row's ``generation`` to
its plug-in.  A new generation is a module with a :class:`Generation` subclass, added to
:data:`BUILT_IN` (or through :func:`register`).  A plug-in's module is imported when a
module of that generation is first met, so a controller of Avalon 8s never loads the nano's
code.  Protocol notes and sources: ``docs/protocol.md`` and ``docs/families.md``.
"""

from __future__ import annotations

from importlib import import_module

from ..models import ModelSpec
from .base import Generation, effective_frequencies

# generation name -> (module in this package, class), imported on first use
BUILT_IN = {
    "avalon7": ("avalon8", "Avalon7"),
    "avalon8": ("avalon8", "Avalon8"),
    "avalon9": ("avalon8", "Avalon9"),
    "avalonlc3": ("avalon8", "AvalonLC3"),
    "avalon4": ("avalon4", "Avalon4"),
    "avalon2": ("avalon2", "Avalon2"),
    "avalon_nano": ("nano", "AvalonNano"),
}
_loaded: dict[str, Generation] = {}


def register(generation: Generation) -> Generation:
    """Add a generation (a plug-in of the caller's own)."""
    _loaded[generation.name] = generation
    return generation


def generation_named(name: str) -> Generation:
    """The plug-in for a generation name (a KeyError for one nobody registered)."""
    generation = _loaded.get(name)
    if generation is None:
        module, cls = BUILT_IN[name]
        made = getattr(import_module(f".{module}", __name__), cls)()
        # two chains meeting a generation at once, each on its own thread, share one plug-in
        generation = _loaded.setdefault(name, made)
    return generation


def generation_of(spec: ModelSpec) -> Generation:
    return generation_named(spec.generation)


__all__ = [
    "BUILT_IN",
    "Generation",
    "effective_frequencies",
    "generation_named",
    "generation_of",
    "register",
]
