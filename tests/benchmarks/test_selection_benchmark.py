"""benchmarks/selection.py: pretraining runs compared on the selection set."""

import json

import numpy as np
import pandas as pd
import pytest
import selection  # benchmarks/selection.py (benchmarks/ is on sys.path: tests/benchmarks/__init__.py)

from lagllama_gluonts.defaults import BUNDLED_CHECKPOINT

from conftest import LAG_LLAMA_FIXTURES


def _entry(freq, length, item_id):
    return {"start": pd.Period("2001-01-01", freq=freq), "target": np.ones(length, np.float32), "item_id": item_id}


def test_frequencies_map_to_their_horizons():
    keys = {f: selection.frequency_key(pd.Period("2001-01-01", freq=f).freqstr) for f in ("h", "30min", "W", "Q", "Y")}
    assert keys == {"h": "h", "30min": "30min", "W": "W", "Q": "Q", "Y": "Y"}
    assert [selection.frequency_key(f) for f in ("H", "W-SUN", "QE-DEC", "A-DEC", "ME", "10min")] == [
        "h",
        "W",
        "Q",
        "Y",
        "M",
        None,
    ]


def test_groups_skip_short_series_and_unknown_frequencies_and_put_real_sources_first():
    sources = {
        "stylized": [_entry("h", 72, "s0"), _entry("h", 71, "s1"), _entry("10min", 500, "s2"), _entry("M", 36, "s3")],
        "m4_hourly": [_entry("h", 100 + k, f"m{k}") for k in range(4)],
    }
    groups, skipped = selection.selection_groups(sources)
    assert list(groups) == ["m4_hourly/h", "stylized/h", "stylized/M"]
    assert [e["item_id"] for e in groups["stylized/h"]] == ["s0"]  # 71 < 3 x 24 steps
    assert sum(skipped.values()) == 2 and any("10min" in reason for reason in skipped)
    capped, skipped = selection.selection_groups(sources, max_series=2)
    assert [e["item_id"] for e in capped["m4_hourly/h"]] == ["m0", "m1"]  # the first ones: the same for every model
    assert sum(skipped.values()) == 4


def _group(baseline, **models):
    scores = {selection.BASELINE: baseline, **models}
    return {"series": 3, "horizon": 24, "freq": "h", "models": {m: {"CRPS": c, "MASE": 1.0} for m, c in scores.items()}}


def test_geometric_means_over_all_real_and_synthetic_groups():
    results = {
        "m4_hourly/h": _group(0.2, a=0.1),
        "packages/M": _group(0.1, a=0.2),
        "persistent/D": _group(0.4, a=0.1),
        "stylized/h": _group(0.0, a=0.1),  # no ratio: left out
    }
    relative = selection.relative_scores(results, ["a"])["a"]
    assert relative["real"]["geomean"] == pytest.approx(1.0) and relative["real"]["groups"] == 2
    assert relative["real"]["wins"] == 1
    assert relative["synthetic"]["geomean"] == pytest.approx(0.25) and relative["synthetic"]["groups"] == 1
    assert relative["all"]["geomean"] == pytest.approx((0.5 * 2 * 0.25) ** (1 / 3)) and relative["all"]["groups"] == 3


def test_a_record_from_before_the_selection_set_is_flagged():
    old = {"sources": {"m4_hourly": {"weight": 0.5}, "persistent": {"weight": 0.5}}}
    new = {"sources": {"m4_hourly": {"weight": 0.5, "selection_series_set_aside": 21}, "persistent": {"weight": 0.5}}}
    assert selection.trained_on_selection(old) == ["m4_hourly"]
    assert selection.trained_on_selection(new) == []
    continued = {**new, "init_from": {"training": old}}
    assert selection.trained_on_selection(continued) == ["m4_hourly"]  # its parent saw them
    # the bundled checkpoint (its last run: the covariate pathway on the drivers source) descends from
    # runs that predate the selection set (its init_from chain)
    line = selection.record_line("bundle", BUNDLED_CHECKPOINT)
    assert "trained on the selection series of m4_hourly, packages" in line and "sources drivers 1.0" in line


def test_one_tiny_run_writes_the_report_and_its_json(tmp_path):
    out = tmp_path / "selection.md"
    checkpoint = LAG_LLAMA_FIXTURES / "small.ckpt"
    argv = ["--checkpoints", f"tiny={checkpoint}", "--sources", "stylized", "--num-synthetic", "6"]
    argv += ["--max-series-per-group", "1", "--num-samples", "4", "--out", str(out)]
    assert selection.main(argv) == 0
    text = out.read_text()
    assert "Command: `python benchmarks/selection.py --checkpoints tiny=" in text and "Machine: " in text
    # a fixture without a training record: nothing is claimed about what it trained on
    assert "- **tiny** (`small.ckpt`): steps None" in text and "selection series is unknown" in text
    record = json.loads(out.with_suffix(".json").read_text())
    groups = record["groups"]
    assert set(groups) <= {f"stylized/{k}" for k in selection.HORIZONS} and "stylized/h" in groups
    for group in groups.values():
        assert group["series"] == 1 and set(group["models"]) == {"SeasonalNaive", "tiny"}
        assert all(np.isfinite(m["CRPS"]) and m["CRPS"] >= 0 for m in group["models"].values())
    relative = record["relative_to_seasonal_naive"]["tiny"]
    assert relative["real"]["groups"] == 0 and relative["synthetic"]["groups"] == relative["all"]["groups"] > 0
    (row,) = [line for line in text.splitlines() if line.startswith("| tiny ")]
    assert f"{relative['all']['geomean']:.3f} (" in row


def test_bad_checkpoint_arguments_are_refused(tmp_path):
    real = LAG_LLAMA_FIXTURES / "small.ckpt"
    assert selection.parse_args(["--checkpoints", f"a={real}"]).checkpoints == {"a": real}
    for bad in (["nameonly"], [f"SeasonalNaive={real}"], [f"a={real}", f"a={real}"], [f"x={tmp_path / 'no.ckpt'}"]):
        with pytest.raises(SystemExit):
            selection.parse_args(["--checkpoints", *bad])
