"""The repository itself: its top level is what the README's layout section says, and one
linter configuration holds for every file."""

import fnmatch
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import REPO_ROOT

TOP_LEVEL = {
    ".ci",
    ".gitignore",
    "LICENSE",
    "README.md",
    "pyproject.toml",
    "lagllama_gluonts",
    "informer_gluonts",
    "tests",
    "benchmarks",
}


def tracked_files():
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.fail("these checks read the git checkout; run them from a clone")
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if (REPO_ROOT / line).exists()]


def test_top_level_is_the_cards_entries_plus_ci():
    assert {path.split("/")[0] for path in tracked_files()} == TOP_LEVEL


def test_tests_mirror_the_packages():
    folders = {path.split("/")[1] for path in tracked_files() if path.startswith("tests/") and path.count("/") > 1}
    assert folders == {"common", "lagllama", "informer", "benchmarks"}


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=" ".join)
def test_one_lint_and_format_configuration_holds_everywhere(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--no-cache", "."], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def pyproject():
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def test_build_outputs_are_ignored():
    """``python -m build`` writes ``dist/`` and ``build/``: neither shows up as a new top-level entry."""
    paths = ["dist/lagllama_gluonts-0.1.0-py3-none-any.whl", "build/lib/lagllama_gluonts/__init__.py"]
    result = subprocess.run(["git", "check-ignore", *paths], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.stdout.split() == paths, result.stdout + result.stderr


def test_every_file_beside_the_checkpoint_is_package_data():
    """The bundled checkpoint's JSON record and model card ship in the wheel with it."""
    patterns = pyproject()["tool"]["setuptools"]["package-data"]["lagllama_gluonts"]
    files = [f"checkpoints/{path.name}" for path in (REPO_ROOT / "lagllama_gluonts" / "checkpoints").iterdir()]
    assert {".ckpt", ".json", ".md"} <= {Path(f).suffix for f in files}
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []


def test_metadata_is_spdx_licensed_and_claims_only_the_tested_python():
    project = pyproject()["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert (REPO_ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
    assert project["requires-python"] == ">=3.11"
    pythons = [c for c in project["classifiers"] if c.startswith("Programming Language :: Python :: 3.")]
    assert pythons == ["Programming Language :: Python :: 3.11"]
    # no upper bound on torch: none is known to be needed
    torch = [d for d in project["dependencies"] if d.startswith("torch")]
    assert torch == ["torch>=2.2"]
