"""Names a package loads from its modules on first use (PEP 562), so that importing the
package costs only what its caller uses."""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Any, Callable


def lazy_attributes(package: str, names: dict[str, str], space: dict) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``names`` maps a name to the submodule
    (relative, ".mm") that defines it; a name once loaded is kept in ``space`` (the
    package's globals)."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        space[name] = value
        return value

    return __getattr__
