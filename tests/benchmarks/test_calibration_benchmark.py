"""benchmarks/calibration.py: its --quick mode runs end to end and writes its table."""

import calibration

from lagllama_gluonts.common.backtesting import backtest_span


def test_quick_mode_defaults():
    args = calibration.parse_args(["--quick"])
    assert (args.windows, args.calibrate_windows, args.num_samples, args.max_series) == (2, 4, 20, 4)
    assert args.sets == calibration.QUICK_SETS
    assert args.informer_steps == 20
    full = calibration.parse_args([])
    assert full.max_series is None and full.informer_steps == 300


def test_informer_holds_out_the_scored_and_calibration_windows():
    # h = 12, 2 scored windows (24 steps) and 4 calibration windows before the first (48 steps)
    args = calibration.parse_args(["--quick"])
    assert calibration.held_out(12, args) == backtest_span(12, 2) + backtest_span(12, 4) == 72


def test_quick_run_writes_raw_and_calibrated_rows(tmp_path):
    output = tmp_path / "calibration.md"
    argv = ["--quick", "--max-series", "1", "--windows", "1", "--calibrate-windows", "2", "--num-samples", "4"]
    assert calibration.main([*argv, "--informer-steps", "2", "--output", str(output)]) == 0
    text = output.read_text()
    for model in (
        "Lag-Llama zero-shot",
        "Lag-Llama zero-shot calibrated",
        "Informer",
        "Informer calibrated",
        "SeasonalNaive calibrated",
    ):
        assert f"| {model} " in text
    assert "coverage_80" in text and "geometric mean wQL" in text
    # one forecast per set with 2 windows before it: too few to judge coverage, stated as such
    assert "n/a (too few windows)" in text and "| 2-2 " in text
    assert "2 steps of batch 32" in text and "coverage target met by" in text
