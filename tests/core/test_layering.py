"""The module-cycle contract that `make test` runs (`lint-imports`) finds cycles, and the tree has none."""

from __future__ import annotations

import grimp

from tests.import_contracts import AcyclicModulesContract, _cycle_through, _strongly_connected


def _contract() -> AcyclicModulesContract:
    return AcyclicModulesContract(name="cycles", session_options={}, contract_options={"packages": ["pkg"]})


def test_a_cycle_between_modules_breaks_the_contract_and_is_shown_as_a_chain():
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    graph.add_import(importer="pkg.d", imported="pkg.a")  # into the cycle, not part of it
    check = _contract().check(graph, verbose=False)
    assert not check.kept
    assert check.metadata["cycles"] == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]

    graph.remove_import(importer="pkg.c", imported="pkg.a")
    assert _contract().check(graph, verbose=False).kept


def test_components_and_chains():
    edges = {"a": ["b"], "b": ["a", "c"], "c": ["d"], "d": ["c"], "e": []}
    components = sorted(sorted(c) for c in _strongly_connected(list(edges), edges) if len(c) > 1)
    assert components == [["a", "b"], ["c", "d"]]
    assert _cycle_through("a", edges, {"a", "b"}) == ["a", "b", "a"]


def test_the_tree_keeps_its_layering():
    """The same check as `lint-imports` (pyproject.toml), so a plain pytest run notices a new cycle too."""
    graph = grimp.build_graph("tripl_core", "tripl_api", "tripl_pipelines")
    check = AcyclicModulesContract(name="cycles", session_options={},
                                   contract_options={"packages": ["tripl_core"]}).check(graph, verbose=False)
    assert check.kept, check.metadata["cycles"]
    assert not graph.find_matching_direct_imports(import_expression="tripl_core.** -> tripl_api.**")
