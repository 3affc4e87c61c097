"""The shape of the code, held by tests: small modules, short functions, two thin CLIs.

A module of either package stays within ``MAX_MODULE_LINES`` lines and a function body (its
docstring excluded) within ``MAX_FUNCTION_LINES``, so that each can be read top to bottom; the
two models' ``cli.py`` hold only their own options and commands (the shared commands live in
``lagllama_gluonts/common``), which keeps them within ``MAX_CLI_LINES`` together."""

import ast
from pathlib import Path

import pytest

from conftest import REPO_ROOT

MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 80
MAX_CLI_LINES = 1000
PACKAGES = ("lagllama_gluonts", "informer_gluonts")


def package_modules():
    return sorted(path for package in PACKAGES for path in (REPO_ROOT / package).rglob("*.py"))


def function_lengths(path: Path):
    """(qualified name, body lines without the docstring) of every function in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = child.body
                if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:]
                yield f"{prefix}{child.name}", body[-1].end_lineno - body[0].lineno + 1
                yield from walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")

    yield from walk(tree, "")


def relative(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT))


@pytest.mark.parametrize("path", package_modules(), ids=relative)
def test_modules_are_short(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{relative(path)} has {lines} lines (at most {MAX_MODULE_LINES})"


@pytest.mark.parametrize("path", package_modules(), ids=relative)
def test_functions_are_short(path):
    long = {name: n for name, n in function_lengths(path) if n > MAX_FUNCTION_LINES}
    assert not long, f"{relative(path)}: function bodies over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_two_clis_are_thin():
    lines = {package: len((REPO_ROOT / package / "cli.py").read_text().splitlines()) for package in PACKAGES}
    assert sum(lines.values()) <= MAX_CLI_LINES, lines


def test_the_length_checks_can_fail(tmp_path):
    sample = tmp_path / "long.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES + 1))
    sample.write_text(f'def f():\n    """Doc."""\n{body}\n\n\nclass C:\n    def g(self):\n        return 1\n')
    assert dict(function_lengths(sample)) == {"f": MAX_FUNCTION_LINES + 1, "C.g": 1}
