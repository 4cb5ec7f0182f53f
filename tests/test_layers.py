"""Dependencies point one way: a forbidden import anywhere in ``src/vidgate`` fails here.

The layers, lowest first (``shared/ARCHITECTURE.md`` §2): leaves (errors, settings, db,
storage, media, the value model …) → ``providers`` → ``request`` → ``accounting`` →
``routing`` → ``jobs`` → ``webhooks``, ``cluster`` → ``api`` → ``app``, ``cli``. A module may
import its own package and anything in a lower layer. Every import counts — inside
functions and under ``TYPE_CHECKING`` too — because a reader and mypy follow them all.

Two modules of the ``webhooks`` package are leaves: the webhook config shapes and the
Standard Webhooks secret format, which ``settings`` mounts. They import only leaves, which is
checked like every other rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "vidgate"

LEAF_MODULES = {
    "datauri",
    "errors",
    "netpolicy",
    "outbound",
    "redact",
    "safe_json",
    "settings",
    "values",
    "webhooks.config",
    "webhooks.signing",
}
LEAF_PACKAGES = {"db", "storage", "media", "observe"}
RANKS = {
    "providers": 1,
    "request": 2,
    "accounting": 3,
    "routing": 4,
    "jobs": 5,
    "webhooks": 6,
    "cluster": 6,
    "api": 7,
    "ui": 7,
    "server": 8,
    "app": 8,
    "inprocess": 8,
    "cli": 9,
    "__main__": 10,
}
FORBIDDEN = {
    "api": {"providers"},
    "ui": {"providers"},
    "providers": {"request", "routing", "jobs", "api", "accounting", "webhooks", "cluster"},
    "accounting": {"jobs", "routing", "webhooks", "cluster", "api"},
}
"""Named explicitly too, so the message says which rule an import breaks."""


def unit(module: str) -> str:
    """The unit a module belongs to: a leaf module by itself, else its top-level package."""
    relative = module.removeprefix("vidgate.")
    for leaf in LEAF_MODULES:
        if relative == leaf or relative.startswith(leaf + "."):
            return leaf
    return relative.split(".")[0]


def rank(unit_name: str) -> int:
    if unit_name in LEAF_MODULES or unit_name in LEAF_PACKAGES:
        return 0
    return RANKS[unit_name]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """Every ``vidgate`` module ``path`` imports, with the line."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:  # ``from vidgate import settings`` imports a module
                child = f"{target}.{alias.name}"
                yield node.lineno, child if is_module(child) else target


@cache
def edges() -> tuple[tuple[str, int, str, str], ...]:
    """(file, line, importing unit, imported unit) for every import across units."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = unit(module_name(path))
        for line, target in imported(path):
            if target == "vidgate" or not target.startswith("vidgate."):
                continue
            if unit(target) != source:
                found.append((str(path.relative_to(SRC)), line, source, unit(target)))
    return tuple(found)


def test_every_unit_has_a_layer() -> None:
    units = {unit(module_name(p)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    unknown = sorted(u for u in units if u not in LEAF_MODULES | LEAF_PACKAGES | set(RANKS))
    assert not unknown, f"give these a layer in tests/test_layers.py: {unknown}"


def test_imports_point_down() -> None:
    upward = [
        f"{file}:{line}: {source} (layer {rank(source)}) imports {target} (layer {rank(target)})"
        for file, line, source, target in edges()
        if rank(target) > rank(source)
    ]
    assert not upward, "imports pointing up:\n" + "\n".join(upward)


@pytest.mark.parametrize("source", sorted(FORBIDDEN))
def test_forbidden_imports(source: str) -> None:
    broken = [
        f"{file}:{line}: {source} must not import {target}"
        for file, line, importer, target in edges()
        if importer == source and target in FORBIDDEN[source]
    ]
    assert not broken, "\n".join(broken)


def test_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = {}
    for _, _, source, target in edges():
        graph.setdefault(source, set()).add(target)
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle between packages: " + " → ".join(cycle or [])


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_checks_catch_what_they_should() -> None:
    """The rules above would fail on the imports this refactoring removed."""
    assert rank(unit("vidgate.routing.config")) > rank(unit("vidgate.providers.base"))
    assert "providers" in FORBIDDEN["api"]
    assert _find_cycle({"providers": {"routing"}, "routing": {"providers"}}) == [
        "providers",
        "routing",
        "providers",
    ]
    assert unit("vidgate.webhooks.config") == "webhooks.config"
    assert unit("vidgate.webhooks.sender") == "webhooks"
