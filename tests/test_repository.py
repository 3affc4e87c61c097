"""The repository itself: its top level is what the README's layout section says, and one
linter configuration holds for every file."""

import shutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

TOP_LEVEL = {
    ".ci",
    ".gitignore",
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
