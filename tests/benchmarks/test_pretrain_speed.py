"""benchmarks/pretrain_speed.py on one tiny timing: a row per size, batch and thread count,
with the command that made the table."""

import sys

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import pretrain_speed  # noqa: E402


def test_a_row_per_thread_count_with_positive_rates(tmp_path):
    out = tmp_path / "speed.md"
    assert (
        pretrain_speed.main(
            [
                "--steps",
                "1",
                "--warmup",
                "1",
                "--sizes",
                "small 4x4x16 (previous bundle)",
                "--batch-sizes",
                "4",
                "--threads",
                "1",
                "2",
                "--precisions",
                "32-true",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "python benchmarks/pretrain_speed.py --steps 1" in text
    rows = [line.split("|")[1:-1] for line in text.splitlines() if line.startswith("| small")]
    assert [int(cells[2]) for cells in rows] == [1, 2]
    assert all(float(cells[3]) > 0 for cells in rows)
