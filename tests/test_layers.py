"""The tree is the architecture: these checks keep the layers apart.

- The emulator is the device side: it may use the wire definitions (``firmware_protocols``),
  the model table, the errors and Bitcoin arithmetic, never the host's device layer,
  generation plug-ins, mining controller, farm or bench code, so a host-side mistake cannot
  hide on both sides of the wire at once.
- ``firmware_protocols`` is pure: it imports nothing of ``asicdrv``.
- No import circle among the package's modules (imports at module level).
- No source file over 540 lines (about 500, as ruff formats them).
"""

import ast
import os

from conftest import ROOT

EMULATOR_MAY_USE = (
    "firmware_protocols",
    "asicdrv.models",
    "asicdrv.errors",
    "asicdrv.bitcoin",
    "asicdrv.emulator",
    "asicdrv._version",
)


def modules():
    """(module name, path, is package) for every source file of both packages."""
    for top in ("asicdrv", "firmware_protocols"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    rel = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    package = name == "__init__.py"
                    yield (rel[:-9] if package else rel), path, package


def imports(name, path, package, top_level_only=False, known=()):
    """Absolute names of the modules a file imports (every import, or those run at import
    time when ``top_level_only``); ``from package import module`` names the module alone
    when it is one of ``known``."""
    tree = ast.parse(open(path).read())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    base = name if package else name.rsplit(".", 1)[0]
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{parent}.{node.module}" if node.module else parent
            else:
                target = node.module
            names = {f"{target}.{a.name}" for a in node.names}
            submodules = {m for m in names if m in known}
            found |= submodules if submodules == names else names | {target}
    return found


def test_the_emulator_uses_only_the_wire_and_the_model_table():
    wrong = {}
    for name, path, package in modules():
        if not name.startswith("asicdrv.emulator"):
            continue
        bad = sorted(
            m
            for m in imports(name, path, package)
            if m.split(".")[0] in ("asicdrv", "firmware_protocols")
            and not m.startswith(EMULATOR_MAY_USE)
        )
        if bad:
            wrong[name] = bad
    assert wrong == {}


def test_firmware_protocols_is_pure():
    for name, path, package in modules():
        if name.startswith("firmware_protocols"):
            assert not [m for m in imports(name, path, package) if m.startswith("asicdrv")], name


def test_no_import_circle():
    known = {name: (path, package) for name, path, package in modules()}
    graph = {
        name: {m for m in imports(name, path, package, True, known) if m in known and m != name}
        for name, (path, package) in known.items()
    }
    state: dict = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                raise AssertionError("import circle: " + " -> ".join(trail + [node, nxt]))
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [])


def test_no_source_file_is_over_540_lines():
    long = {
        name: n for name, path, _ in modules() if (n := len(open(path).read().splitlines())) > 540
    }
    assert long == {}
