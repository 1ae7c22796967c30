"""The import contract of ``docs/design.md``, enforced: which stage may import which, and no cycles.

The graph is read from the source with ``ast`` (every ``import`` and ``from ... import``, at module level
or inside a function, ``TYPE_CHECKING`` blocks included), so the check needs no import of the package
and sees lazy imports too. A stage is the first package under ``crawler``; ``crawler.errors``,
``crawler.log``, ``crawler.interrupts`` and the package root are shared by all. The contract:

    cli → app → {crawl, identity, audit, report, emulator, settings, store, wire}
    crawl → {identity, wire, store, settings};  identity → {wire, settings}
    wire → {settings, store.records};  report → {audit, store}
    audit → store.records;  store, settings → nothing;  emulator → wire.signing only
    no cycle between modules (counting module-level imports)
    no cycle among the emulator's modules even counting imports inside functions (a lazy import must
    not hide one): model, api_errors ← showcase, generator ← backend ← routes ← gateway ← server
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "crawler"
SHARED = frozenset({"crawler", "crawler.errors", "crawler.log", "crawler.interrupts"})

#: stage -> the stages (or single modules) it may import, besides itself and SHARED
ALLOWED: Mapping[str, frozenset[str]] = {
    "__main__": frozenset({"cli"}),
    "cli": frozenset({"app"}),
    "app": frozenset({"crawl", "identity", "audit", "report", "emulator", "settings", "store", "wire"}),
    "crawl": frozenset({"identity", "wire", "store", "settings"}),
    "identity": frozenset({"wire", "settings"}),
    "wire": frozenset({"settings", "crawler.store.records"}),
    "report": frozenset({"audit", "store"}),
    "audit": frozenset({"crawler.store.records"}),
    "store": frozenset(),
    "settings": frozenset(),
    "emulator": frozenset({"crawler.wire.signing"}),
}

Edge = tuple[str, str, bool]  # (importer, imported, at module level)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> list[Edge]:
    """Every import of a ``crawler`` module by a ``crawler`` module."""
    modules = {module_name(p) for p in root.rglob("*.py")}
    edges: list[Edge] = []
    for path in sorted(root.rglob("*.py")):
        source = module_name(path)
        tree = ast.parse(path.read_text("utf-8"))
        top_level = {id(node) for node in _module_level(tree.body)}
        for node in ast.walk(tree):
            for target in _targets(node, source, path.name == "__init__.py", modules):
                edges.append((source, target, id(node) in top_level))
    return edges


def _module_level(body: Iterable[ast.stmt]) -> Iterable[ast.stmt]:
    """Statements that run at import: the body, and the bodies of top-level ``if``/``try`` blocks."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                yield from _module_level(block)


def _targets(node: ast.AST, source: str, is_package: bool, modules: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = source.split(".")
            anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
            base = ".".join([*anchor, base] if base else anchor)
        names = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
        ]
    else:
        return []
    found = []
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name.startswith("crawler") and name != source:
            found.append(name)
    return found


def stage(module: str) -> str | None:
    parts = module.split(".")
    return None if module in SHARED or len(parts) < 2 else parts[1]


def violations(edges: Iterable[Edge]) -> list[str]:
    """Each import that crosses stages against the contract, as ``importer -> imported``."""
    found = []
    for source, target, _top in edges:
        here, there = stage(source), stage(target)
        if there is None or here == there:
            continue
        allowed = ALLOWED.get(here or "", frozenset())
        if here is None or not (there in allowed or target in allowed):
            found.append(f"{source} -> {target}")
    return sorted(set(found))


def cycles(edges: Iterable[Edge], *, inner: bool = False) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), over module-level imports, or over
    every import, those inside functions too, when ``inner``."""
    graph: dict[str, set[str]] = {}
    for source, target, top in edges:
        if top or inner:
            graph.setdefault(source, set()).add(target)
            graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_every_import_follows_the_layer_order() -> None:
    assert violations(import_graph()) == []


def test_no_module_imports_itself_back() -> None:
    assert cycles(import_graph()) == []


def test_the_check_fails_on_an_added_back_edge() -> None:
    """A lower stage importing a higher one (the writer importing the pipeline), and the cycle it closes,
    are both caught: the contract is not vacuous."""
    edges = import_graph()
    back = ("crawler.store.writer", "crawler.crawl.pipeline", True)
    assert "crawler.store.writer -> crawler.crawl.pipeline" in violations([*edges, back])
    assert any("crawler.store.writer" in group for group in cycles([*edges, back]))


def test_the_emulator_needs_only_signing_and_errors() -> None:
    reached = {t for s, t, _ in import_graph() if stage(s) == "emulator" and stage(t) != "emulator"}
    assert reached <= {"crawler.wire.signing", "crawler.errors", "crawler.log", "crawler"}


def _emulator_edges() -> list[Edge]:
    return [e for e in import_graph() if stage(e[0]) == "emulator" and stage(e[1]) == "emulator"]


def test_no_emulator_module_imports_another_back_even_inside_a_function() -> None:
    """An import inside a function still closes a cycle in the design (it only dodges the import-time
    error), so among the emulator's modules every import counts."""
    assert cycles(_emulator_edges(), inner=True) == []


def test_the_emulator_check_sees_a_cycle_hidden_in_a_function() -> None:
    """The model importing the backend from inside a function: invisible to the module-level check,
    caught by the emulator's."""
    hidden = ("crawler.emulator.model", "crawler.emulator.backend", False)
    edges = [*_emulator_edges(), hidden]
    assert cycles(edges) == []
    assert any(
        {"crawler.emulator.model", "crawler.emulator.backend"} <= set(g) for g in cycles(edges, inner=True)
    )
