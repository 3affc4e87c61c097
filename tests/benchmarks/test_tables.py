"""benchmarks/tables.py on a tiny table: the generator's rows, and a report with every phase
and the command that made it."""

import sys

import pandas as pd

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))

import tables  # noqa: E402


def test_the_generator_writes_long_rows_each_item_on_its_own_start(tmp_path):
    path = tmp_path / "long.csv"
    assert tables.write_long_csv(path, items=7, steps=30, chunk_items=3) == 210
    frame = pd.read_csv(path, parse_dates=["timestamp"])
    assert list(frame.columns) == ["item_id", "timestamp", "target"] and frame["item_id"].nunique() == 7
    steps = frame.groupby("item_id")["timestamp"].agg(lambda t: t.diff().dropna().unique().tolist())
    assert all(s == [pd.Timedelta("1h")] for s in steps)
    assert frame.groupby("item_id")["timestamp"].min().nunique() > 1


def test_a_tiny_run_reports_read_forecast_and_write(tmp_path):
    out = tmp_path / "tables.md"
    assert (
        tables.main(
            ["--items", "6", "--steps", "60", "--prediction-length", "4", "--num-samples", "2", "--out", str(out)]
        )
        == 0
    )
    text = out.read_text()
    assert "python benchmarks/tables.py --items 6" in text
    for phase in ("read (CSV -> checked entries)", "forecast (streamed)", "write (Parquet, per piece)"):
        assert text.count(phase) == 1
    assert "6 x 60" in text
