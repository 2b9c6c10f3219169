"""The house: no import cycle anywhere in the package (``lint-imports`` in ``make test`` checks
the layer and independence contracts of pyproject.toml)."""

from __future__ import annotations


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_in_the_package():
    import grimp

    graph = grimp.build_graph("dlexplain")
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert len(edges) > 30, "the graph holds the package's modules"
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_circle():
    # the circle the house issue found: the serving interface built its own subclasses
    edges = {"serving.backends": {"serving.docker"}, "serving.docker": {"serving.backends"},
             "serving.checks": set()}
    assert _cycles(edges) == [["serving.backends", "serving.docker"]]
