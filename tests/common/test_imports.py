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
