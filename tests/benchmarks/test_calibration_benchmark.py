"""benchmarks/calibration.py: its --quick mode runs end to end and writes its table."""

import calibration


def test_quick_mode_defaults():
    args = calibration.parse_args(["--quick"])
    assert (args.windows, args.calibrate_windows, args.num_samples, args.max_series) == (2, 4, 20, 4)
    assert args.sets == calibration.QUICK_SETS
    assert calibration.parse_args([]).max_series is None


def test_quick_run_writes_raw_and_calibrated_rows(tmp_path):
    output = tmp_path / "calibration.md"
    argv = ["--quick", "--max-series", "1", "--windows", "1", "--calibrate-windows", "2", "--num-samples", "4"]
    assert calibration.main([*argv, "--output", str(output)]) == 0
    text = output.read_text()
    for model in ("Lag-Llama zero-shot", "Lag-Llama zero-shot calibrated", "SeasonalNaive calibrated"):
        assert f"| {model} " in text
    assert "coverage_80" in text and "geometric mean wQL" in text
