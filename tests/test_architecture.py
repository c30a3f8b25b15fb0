"""The package layout holds: no stage package imports measurement or the synthetic world, and
grewkit's packages import each other without a cycle.

Imports are read from the source with ``ast`` (every ``import`` and ``from ... import``, at module
level or inside a function, relative ones resolved), so nothing is imported to check them. A
package is the first component under ``grewkit/``. Lazy ``"module:attr"`` registry strings are
not imports: they are how ``core`` names the packages above it without depending on them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "grewkit"

STAGE_PACKAGES = (
    "ingest",
    "detect",
    "track",
    "annotate",
    "render",
    "split",
    "export",
    "train",
    "evaluate",
    "report",
    "interop",
)
FORBIDDEN_FOR_STAGES = ("bench", "synth")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path) -> set[str]:
    """Dotted names of the grewkit modules (or packages) one file imports."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            # ``from grewkit import synth`` imports a package by name.
            out.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
    return {m for m in out if m == "grewkit" or m.startswith("grewkit.")}


def _package(dotted: str) -> str | None:
    parts = dotted.split(".")
    if len(parts) < 2:
        return None
    name = parts[1]
    return name if (ROOT / name).is_dir() or (ROOT / f"{name}.py").is_file() else None


def package_graph() -> dict[str, dict[str, set[str]]]:
    """package -> imported package -> the modules of ``package`` that import it."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(ROOT.rglob("*.py")):
        source = _package(_module_name(path))
        if source is None:
            continue
        for target in filter(None, map(_package, _imported_modules(path))):
            if target != source:
                graph[source][target].add(_module_name(path))
    return graph


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle reached by a depth-first search, each listed once from its smallest node."""
    found: set[tuple[str, ...]] = set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in path:
                cycle = path[path.index(nxt) :]
                start = cycle.index(min(cycle))
                found.add(tuple(cycle[start:] + cycle[:start]))
            else:
                visit(nxt, path + [nxt])

    for node in sorted(edges):
        visit(node, [node])
    return [list(c) + [c[0]] for c in sorted(found)]


def _where(modules: set[str]) -> str:
    names = sorted(modules)
    return ", ".join(names[:3]) + (f", ... ({len(names)} modules)" if len(names) > 3 else "")


def test_the_graph_sees_the_packages():
    graph = package_graph()
    # The imports every stage is known to have, so that an empty graph cannot pass the checks below.
    assert "core" in graph["detect"] and "core" in graph["render"] and "evaluate" in graph["train"]
    assert "synth" in graph["bench"]


def test_find_cycles_finds_a_cycle_and_only_once():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_stage_package_imports_bench_or_synth():
    graph = package_graph()
    offences = [
        f"{stage} imports grewkit.{target} (in {_where(graph[stage][target])})"
        for stage in STAGE_PACKAGES
        for target in FORBIDDEN_FOR_STAGES
        if target in graph.get(stage, {})
    ]
    assert not offences, "\n".join(offences)


def test_no_import_cycle_between_packages():
    graph = package_graph()
    cycles = find_cycles({source: set(targets) for source, targets in graph.items()})

    def edge(a: str, b: str) -> str:
        return f"{a} -> {b} ({_where(graph[a][b])})"

    assert not cycles, "\n".join(
        "cycle: " + "; ".join(edge(a, b) for a, b in zip(cycle, cycle[1:])) for cycle in cycles
    )
