"""Count what the import contracts forbid, as figures: upward imports and import cycles.

``lint-imports`` says pass or fail; this prints how far the code is from passing, so a
change that moves code between layers can state the graph before and after. It reads the
layered and forbidden contracts from ``[tool.importlinter]`` in ``pyproject.toml`` (the
same ones ``make lint`` enforces) and counts:

* **upward imports**: direct imports (``import`` lines, wherever they stand, including
  inside functions) from a module of a lower layer into a higher one, or from a source
  module into a module a forbidden contract closes to it;
* **cycles**: groups of modules that import each other, directly or through others
  (strongly connected components of more than one module), per root package; and the same
  among each root's sub-packages (``salesphere.gcp`` and ``salesphere.speed`` importing
  each other is a cycle even when no two modules do);
* **imports inside functions** that stay within the runtime library (``salesphere``).

Usage: ``.venv/bin/python scripts/layer_graph.py`` from the repository root.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("salesphere", "salesphere_tools", "infra", "services")


def _layers(contract: dict) -> list[list[str]]:
    """Each layer's modules, highest first (``a | b`` and ``a : b`` both list siblings)."""
    out = []
    for line in contract["layers"]:
        parts = [p.strip() for p in line.replace(":", "|").split("|")]
        out.append([p for p in parts if p])
    return out


def _owner(module: str, layers: list[list[str]]) -> int | None:
    for height, layer in enumerate(layers):
        if any(module == m or module.startswith(m + ".") for m in layer):
            return height
    return None


def _under(module: str, names: list[str]) -> bool:
    return any(module == n or module.startswith(n + ".") for n in names)


def _sccs(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm: the groups of more than one node that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.add(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(group)

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _cycles(graph: grimp.ImportGraph, package: str, *, packages: bool) -> list[set[str]]:
    """Module cycles in ``package``, or (``packages``) cycles among its sub-packages."""

    def node(module: str) -> str:
        return ".".join(module.split(".")[:2]) if packages else module

    modules = {m for m in graph.modules if _under(m, [package])}
    edges: dict[str, set[str]] = {node(m): set() for m in modules}
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            if node(imported) != node(module):
                edges[node(module)].add(node(imported))
    return _sccs(edges)


def _function_imports(package: str) -> list[str]:
    """``path:line`` of each import of ``package`` made inside a function of ``package``."""
    out = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                target = None
                if isinstance(node, ast.ImportFrom) and node.module:
                    target = node.module
                elif isinstance(node, ast.Import):
                    target = node.names[0].name
                if target and (target == package or target.startswith(package + ".")):
                    out.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return sorted(set(out))


def _upward(graph: grimp.ImportGraph, config: dict) -> list[str]:
    """Every direct import a layered or forbidden contract of ``config`` refuses."""
    upward: list[str] = []
    for contract in config["contracts"]:
        if contract["type"] == "layers":
            layers = _layers(contract)
            for importer in sorted(graph.modules):
                low = _owner(importer, layers)
                if low is None:
                    continue
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    high = _owner(imported, layers)
                    if high is not None and high < low:
                        upward.append(f"{importer} -> {imported}  ({contract['name']})")
        elif contract["type"] == "forbidden":
            sources, closed = contract["source_modules"], contract["forbidden_modules"]
            for importer in sorted(m for m in graph.modules if _under(m, sources)):
                for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                    if _under(imported, closed):
                        upward.append(f"{importer} -> {imported}  ({contract['name']})")
    return sorted(set(upward))


def main() -> int:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    upward = _upward(graph, config)
    print(f"upward imports: {len(upward)}")
    for line in upward:
        print(f"  {line}")
    for packages, what in ((False, "module"), (True, "package")):
        total = 0
        lines = []
        for package in PACKAGES:
            for group in _cycles(graph, package, packages=packages):
                total += 1
                lines.append(f"  {' <-> '.join(sorted(group))}")
        print(f"{what} import cycles: {total}")
        for line in lines:
            print(line)
    inside = _function_imports("salesphere")
    print(f"salesphere imports inside functions: {len(inside)}")
    for line in inside:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
