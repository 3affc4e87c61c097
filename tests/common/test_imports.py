"""The import direction: ``informer_gluonts`` takes from ``lagllama_gluonts`` only the shared
layer, and the shared layer imports no model code."""

import ast
from pathlib import Path

import pytest

from conftest import REPO_ROOT

COMMON = REPO_ROOT / "lagllama_gluonts" / "common"


def imported_modules(path: Path, package: str = ""):
    """(line, absolute module name) of every import in a file; relative ones resolved."""
    package = package or ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # `from lagllama_gluonts import common` style
                yield node.lineno, f"{module}.{alias.name}"


def python_files(folder: Path):
    files = sorted(folder.rglob("*.py"))
    assert files, f"no Python files under {folder}"
    return files


@pytest.mark.parametrize("path", python_files(REPO_ROOT / "informer_gluonts"), ids=lambda p: p.name)
def test_informer_imports_only_the_shared_layer_of_lagllama(path):
    bad = [
        f"{path.name}:{line} imports {module}"
        for line, module in imported_modules(path)
        if module.startswith("lagllama_gluonts")
        and not (module.startswith("lagllama_gluonts.common") or module == "lagllama_gluonts")
    ]
    # `from lagllama_gluonts import X` is caught through its `lagllama_gluonts.X` entry
    assert not bad, bad


@pytest.mark.parametrize("path", python_files(COMMON), ids=lambda p: p.name)
def test_the_shared_layer_imports_no_model_code(path):
    bad = [
        f"{path.name}:{line} imports {module}"
        for line, module in imported_modules(path)
        if module.startswith(("informer_gluonts", "lagllama_gluonts"))
        and not module.startswith("lagllama_gluonts.common")
    ]
    assert not bad, bad


def test_the_walk_sees_a_forbidden_import(tmp_path):
    """The check itself can fail: a model import inside informer_gluonts is reported."""
    sample = tmp_path / "probe.py"
    sample.write_text("from lagllama_gluonts.module import LagLlamaModel\nfrom ..common import cli\n")
    modules = [m for _, m in imported_modules(sample, package="lagllama_gluonts.x")]
    assert "lagllama_gluonts.module" in modules and "lagllama_gluonts.common.cli" in modules


# --------------------------------------------------------------------------- no import cycles

PACKAGES = ("lagllama_gluonts", "informer_gluonts")


def module_name(path: Path, root: Path) -> str:
    """``pkg/sub/mod.py`` is ``pkg.sub.mod``; ``pkg/sub/__init__.py`` is ``pkg.sub``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(node: ast.AST):
    """Every import statement under ``node``, inside functions too, but not those under
    ``if TYPE_CHECKING:`` (they never run)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _runtime_imports(ast.Module(body=[other], type_ignores=[]))
            continue
        yield from _runtime_imports(child)


def import_graph(root: Path, packages=PACKAGES):
    """Module -> the modules of ``packages`` it imports (at module level or in a function)."""
    files = {module_name(p, root): p for package in packages for p in sorted((root / package).rglob("*.py"))}

    def known(name: str):
        """``name`` itself when it is one of the modules, else its closest known parent."""
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in _runtime_imports(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [known(alias.name) for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else known(base) for a in node.names]
            edges.update(t for t in targets if t is not None and t != name)
        graph[name] = edges
    return graph


def find_cycles(graph):
    """One cycle (a list of modules, the first repeated at the end) per strongly connected
    component of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(component)
    return [_a_cycle_in(graph, component) for component in components]


def _a_cycle_in(graph, component):
    """A path through ``component`` back to its first module: the cycle an error names."""
    first = min(component)
    parents, frontier = {first: None}, [first]
    while frontier:  # breadth first: the shortest way back to ``first``
        following = []
        for node in frontier:
            for child in sorted(graph[node] & component):
                if child == first:
                    path = [node]
                    while parents[path[-1]] is not None:
                        path.append(parents[path[-1]])
                    return [first, *reversed(path[:-1]), first] if len(path) > 1 else [first, node, first]
                if child not in parents:
                    parents[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {first}")  # a component always has one


def test_no_import_cycles():
    """No module of either package imports, even inside a function, one that imports it back."""
    cycles = find_cycles(import_graph(REPO_ROOT))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_check_can_fail(tmp_path):
    """A package whose modules import each other, one of them inside a function, is caught;
    an import under ``if TYPE_CHECKING:`` is not an edge."""
    package = tmp_path / "probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import g\n\ndef f():\n    return g()\n")
    (package / "b.py").write_text("def g():\n    from probe.c import h\n    return h()\n")
    (package / "c.py").write_text("import probe.a\n\ndef h():\n    return 1\n")
    (package / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import e\nelse:\n    from . import a\n"
    )
    (package / "e.py").write_text("from . import d\n")
    graph = import_graph(tmp_path, packages=("probe",))
    assert graph["probe.d"] == {"probe.a"} and graph["probe.e"] == {"probe.d"}
    assert find_cycles(graph) == [["probe.a", "probe.b", "probe.c", "probe.a"]]


def test_the_old_datasets_module_still_imports_and_says_where_to_go():
    import importlib
    import sys

    sys.modules.pop("lagllama_gluonts.datasets", None)
    with pytest.warns(DeprecationWarning, match="lagllama_gluonts.common.datasets"):
        module = importlib.import_module("lagllama_gluonts.datasets")
    from lagllama_gluonts.common.datasets import get_dataset

    assert module.get_dataset is get_dataset
