"""Layouts compiled by ``construct`` on first use, behind a plain mapping: which keys exist
is known at once, and nothing of construct loads until a layout is asked for (compiling
them all costs tens of milliseconds at import, and a host needs only a few)."""

from __future__ import annotations

from collections.abc import Mapping

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any, Callable

SOURCES: dict[int, Any] = {}  # id(compiled layout) -> the Struct it was compiled from


class CompiledLayouts(Mapping):
    """``layouts`` (key -> a Struct, or what ``resolve`` turns into one), each compiled on
    first use."""

    def __init__(self, layouts: Mapping[Any, Any], resolve: Callable[[Any], Any] | None = None):
        self.layouts = layouts
        self.resolve = resolve
        self._compiled: dict[Any, Any] = {}

    def __getitem__(self, key):
        compiled = self._compiled.get(key)
        if compiled is None:
            source = self.layouts[key]  # KeyError before anything loads
            if self.resolve is not None:
                source = self.resolve(source)
            compiled = source.compile()
            SOURCES[id(compiled)] = source
            self._compiled[key] = compiled
        return compiled

    def __contains__(self, key) -> bool:
        return key in self.layouts

    def __iter__(self):
        return iter(self.layouts)

    def __len__(self) -> int:
        return len(self.layouts)
