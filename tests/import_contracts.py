"""import-linter contract types of our own (pyproject.toml [tool.importlinter], run by `make test`).

import-linter's `acyclic_siblings` judges whole packages (any import from `plan` to `projects` and back is a
cycle), which is stricter than what keeps modules importable in any order. `acyclic_modules` refuses cycles between
*modules*: a module that (indirectly) imports itself is loaded half-initialised depending on who imported first.
Imports inside functions count too: hiding an import in a function keeps the cycle, it only defers the failure.
"""

from __future__ import annotations

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


class AcyclicModulesContract(Contract):
    """No module of `packages` reaches itself through imports of modules of `packages`.

    A package's `__init__` counts as a module; importing a submodule does not import anything from the parent's
    `__init__` unless it says so (Python runs the parent's `__init__` first, but that is not an edge here: a parent
    importing its children is the ordinary way of re-exporting).
    """

    type_name = "acyclic_modules"
    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        roots = list(self.packages)  # type: ignore[arg-type]
        modules = sorted({m for root in roots for m in (graph.find_descendants(root) | {root})})
        inside = set(modules)
        edges = {m: sorted(graph.find_modules_directly_imported_by(m) & inside) for m in modules}
        cycles = [sorted(c) for c in _strongly_connected(modules, edges) if len(c) > 1]
        chains = []
        for cycle in cycles:
            members = set(cycle)
            first = cycle[0]
            chains.append(_cycle_through(first, edges, members))
        return ContractCheck(kept=not cycles, warnings=None, metadata={"cycles": chains})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for chain in check.metadata["cycles"]:
            output.print_error(" -> ".join(chain))
            output.new_line()


def _strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph has hundreds of modules; recursion depth is not the point)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(edges[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(component)
    return found


def _cycle_through(start: str, edges: dict[str, list[str]], members: set[str]) -> list[str]:
    """One shortest path start -> ... -> start inside a strongly connected component (breadth first)."""
    previous: dict[str, str] = {}
    queue = [start]
    for node in queue:
        for nxt in edges[node]:
            if nxt not in members:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return [start]
