"""benchmarks/zero_shot.py: the dataset's own test split as a row of its own (outside the means),
the intervals' coverage table, the statistical cache, and a small run end to end."""

import json

import pytest
import zero_shot  # benchmarks/ is on sys.path (tests/benchmarks/__init__.py)
import zero_shot_sets

from lagllama_gluonts.common.datasets import get_dataset
from lagllama_gluonts.defaults import BUNDLED_CHECKPOINT

TEST_SPLIT = "airpassengers" + zero_shot_sets.TEST_SPLIT


def scores(crps, coverage=(0.8, 0.9)):
    return {"CRPS": crps, "MASE": 1.0, "coverage_80": coverage[0], "coverage_90": coverage[1]}


ZS, ETS = "Lag-Llama zero-shot", "AutoETS (statsforecast)"
SUMMARY = {
    "a": {"SeasonalNaive": scores(0.2, (0.0, 0.0)), ZS: scores(0.1, (0.7, 0.8)), ETS: scores(0.15)},
    "b": {"SeasonalNaive": scores(0.4, (0.1, 0.1)), ZS: scores(0.1, (0.9, 1.0)), ETS: scores(0.05)},
    # would change every number below, were it counted
    zero_shot_sets.ETTH_TEST_SPLIT: {"SeasonalNaive": scores(1.0), ZS: scores(10.0), ETS: scores(20.0)},
}


def test_the_etth_test_split_is_the_commands_windows_and_a_default_set():
    assert zero_shot_sets.ETTH_TEST_SPLIT == "ett_small_1h (test split, 1 window)"
    assert zero_shot_sets.ETTH_TEST_SPLIT in zero_shot.parse_args([]).datasets
    assert zero_shot_sets.overlapping(zero_shot_sets.ETTH_TEST_SPLIT)
    assert not any(zero_shot_sets.overlapping(n) for n in zero_shot_sets.HELD_OUT + zero_shot_sets.PACKAGE_HELD_OUT)
    assert zero_shot_sets.base_name(TEST_SPLIT) == "airpassengers" == zero_shot_sets.base_name("airpassengers")
    split, rolling = zero_shot_sets.load(TEST_SPLIT), zero_shot_sets.load("airpassengers")
    (official,) = get_dataset("airpassengers").test
    (window,) = split.test  # one window: the official one, which is also the last rolling window
    assert len(window["target"]) == len(official["target"]) == len(rolling.test[-1]["target"])
    assert len(rolling.test) == zero_shot_sets.WINDOWS["airpassengers"]


def test_the_test_split_is_labelled_by_the_dataset_it_is_cut_from():
    args = zero_shot.parse_args(["--datasets", zero_shot_sets.ETTH_TEST_SPLIT, "ett_small_1h"])
    args.checkpoint = BUNDLED_CHECKPOINT
    notes = [line for line in zero_shot.leakage_notes(args) if line.startswith("- `")]
    assert len(notes) == 2 and all("**not seen in pretraining** (held out" in line for line in notes)


def test_overlapping_sets_stay_out_of_the_means_and_get_their_own_line():
    table = "\n".join(zero_shot.geometric_mean_table(SUMMARY))
    assert "| 0.354 " in table and "| 2 " in table  # sqrt(0.5 * 0.25), over a and b only
    assert "| 0.306 " in table  # AutoETS: sqrt(0.75 * 0.125)
    wins = zero_shot.win_lines(SUMMARY, [ZS])
    assert f"- {ZS} CRPS below AutoETS's on 1 of 2 sets (not on: b)." in wins
    (line,) = zero_shot.overlapping_lines(SUMMARY)
    assert line.startswith(f"- `{zero_shot_sets.ETTH_TEST_SPLIT}`") and f"{ZS} 10.0000 (10.000)" in line


def test_coverage_table_per_set_with_the_mean_over_the_held_out_sets():
    table = zero_shot.coverage_table(SUMMARY)
    assert "(ideal 0.80 / 0.90)" in table[0] and f"| {ZS} " in table[0]
    rows = {line.split("|")[1].strip(): line for line in table[2:]}
    assert "| 0.70 / 0.80 " in rows["a"] and "| 0.90 / 1.00 " in rows["b"]
    mean = rows["**mean over the 2 held-out sets** (how many a model ran on)"]
    assert "| 0.05 / 0.05 (2) " in mean and "| 0.80 / 0.90 (2) " in mean
    assert list(rows)[-1] == zero_shot_sets.ETTH_TEST_SPLIT  # after the mean, not in it
    alone = zero_shot.coverage_table({zero_shot_sets.ETTH_TEST_SPLIT: SUMMARY[zero_shot_sets.ETTH_TEST_SPLIT]})
    assert len(alone) == 3 and "mean over" not in "".join(alone)


def test_a_cache_entry_without_coverage_is_scored_again(tmp_path):
    pytest.importorskip("statsforecast")
    args = zero_shot.parse_args(["--cache", str(tmp_path / "cache.json")])
    dataset = zero_shot_sets.load(TEST_SPLIT)
    key = f"{TEST_SPLIT}|AutoTheta|1 windows|h=12|max_series=None"
    stale = {"metrics": {"mean_wQuantileLoss": 9.0, "MASE": 9.0}, "seconds": 0.0, "series": 1, "fallbacks": 0}
    args.cache.write_text(json.dumps({key: stale, "other|entry": stale}))
    results = zero_shot.statistical_scores(args, TEST_SPLIT, dataset)
    assert set(results) == {f"{m} (statsforecast)" for m in zero_shot.STATISTICAL}
    cache = json.loads(args.cache.read_text())
    assert cache["other|entry"] == stale and len(cache) == 4  # the others kept, the stale one replaced
    theta = cache[key]["metrics"]
    assert theta["mean_wQuantileLoss"] < 1 and 0 <= theta["coverage_80"] <= theta["coverage_90"] <= 1
    assert cache[key]["quantiles"][0] == 0.05 and cache[key]["quantiles"][-1] == 0.95


@pytest.mark.slow  # fine-tunes and trains DeepAR (briefly) twice
def test_a_small_run_writes_every_row_and_the_coverage_table(tmp_path):
    pytest.importorskip("statsforecast")
    out, cache = tmp_path / "zero_shot.md", tmp_path / "cache.json"
    argv = ["--quick", "--datasets", "airpassengers", TEST_SPLIT, "--num-samples", "10", "--max-series", "1"]
    zero_shot.main(argv + ["--no-context-study", "--cache", str(cache), "--out", str(out)])
    text = out.read_text()
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines() if line.startswith("| ")]
    split_rows = {row[1]: row for row in rows if row[0] == TEST_SPLIT and len(row) == len(zero_shot.MAIN_HEADER)}
    assert set(split_rows) == {
        "SeasonalNaive",
        "AutoETS (statsforecast)",
        "AutoTheta (statsforecast)",
        "AutoARIMA (statsforecast)",
        "Lag-Llama zero-shot",
        "Lag-Llama fine-tuned",
        "DeepAR (trained here)",
    }
    means = text.split("## Relative to SeasonalNaive")[1].split("## Calibration")[0]
    assert "| Lag-Llama zero-shot " in means and "| 1 " in means and f"- `{TEST_SPLIT}` (not in the means" in means
    coverage = text.split("## Calibration: coverage of the central intervals")[1].split("Notes:")[0]
    assert "**mean over the 1 held-out sets**" in coverage and f"| {TEST_SPLIT} " in coverage
    assert len(json.loads(cache.read_text())) == 6  # 3 statistical models x 2 sets, with their coverage
