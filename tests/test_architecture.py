"""The import graph keeps the layers of docs/architecture.md: no module imports a higher tier, no circles.

Every import counts, also those inside functions. A new module must be given a tier here (and in
docs/architecture.md) before it can land.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mgfast

TIERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("mgfast", "mgfast._native", "mgfast.coerce", "mgfast.layout", "mgfast.metrics",
                    "mgfast.stats")),
    ("kernels and files", ("mgfast.ops", "mgfast.io", "mgfast.calibration")),
    ("components", ("mgfast.device", "mgfast.pose", "mgfast.synth", "mgfast.data", "mgfast.models", "mgfast.losses",
                    "mgfast.branches", "mgfast.runs", "mgfast.pseudo",
                    "mgfast.synth.untrimmed",
                    )),
    ("stages", ("mgfast.extract", "mgfast.train", "mgfast.adapt", "mgfast.fuse", "mgfast.report",
                "mgfast.recognize",
                "mgfast.recognize.decode", "mgfast.recognize.evaluate", "mgfast.recognize.timeline",
                "mgfast.recognize.windows", "mgfast.recognize.scoring", "mgfast.recognize.sources",
                "mgfast.recognize.pipeline", "mgfast.recognize.online", "mgfast.recognize.render",
                )),
    ("orchestration", ("mgfast.demo",)),
    ("interface", ("mgfast.cli",)),
)
"""Bottom first: (tier name, the modules and packages in it). A package's submodules share its tier."""


def _modules(root: Path) -> dict[str, Path]:
    mods = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the mgfast modules it imports (a package's __init__ when it names the package)."""

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for module, path in mods.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            for target in targets:
                found = resolve(target)
                if found and found != module and not module.startswith(found + "."):
                    edges[module].add(found)
    return edges


def _tier(module: str) -> int | None:
    best, tier = -1, None
    for index, (_, prefixes) in enumerate(TIERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, tier = len(prefix), index
    return tier


def _upward(edges: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} ({TIERS[_tier(a)][0]}) imports {b} ({TIERS[_tier(b)][0]})"
                  for a, targets in edges.items() for b in targets if _tier(b) > _tier(a))


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each back edge of a depth-first search closes a circle: returned as the modules along it."""
    done: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(edges[module]):
            if target in path:
                found.append(path[path.index(target):] + [target])
            elif target not in done:
                visit(target, path + [target])
        done.add(module)

    for module in sorted(edges):
        if module not in done:
            visit(module, [module])
    return found


MODULES = _modules(Path(mgfast.__file__).parent)
EDGES = _imports(MODULES)


def test_every_module_has_a_tier():
    assert [m for m in MODULES if _tier(m) is None] == []


def test_no_module_imports_a_higher_tier():
    assert _upward(EDGES) == []


def test_no_import_circles():
    assert _circles(EDGES) == []


def test_the_checks_can_fail(tmp_path):
    """A package with an upward import (inside a function) and a circle is caught by the same helpers."""
    root = tmp_path / "mgfast"
    (root / "io").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "layout.py").write_text("def draw():\n    from mgfast.io import figures\n")
    (root / "io" / "__init__.py").write_text("")
    (root / "io" / "figures.py").write_text("import numpy\nfrom . import helpers\n")
    (root / "io" / "helpers.py").write_text("from .figures import save\n")
    edges = _imports(_modules(root))
    assert _upward(edges) == ["mgfast.layout (foundation) imports mgfast.io.figures (kernels and files)"]
    assert _circles(edges) == [["mgfast.io.figures", "mgfast.io.helpers", "mgfast.io.figures"]]
