"""benchmarks/covariates.py: every model gets the same budget, and the covariate modes feed what they say."""

import covariates
import numpy as np
import pandas as pd
import pytest

FLAGS = ["--epochs", "2", "--batch-size", "7", "--batches-per-epoch", "3", "--prediction-length", "6"]


@pytest.fixture(scope="module")
def frame():
    index = pd.date_range("2021-01-01", periods=200, freq="h")
    return pd.DataFrame({"y": np.arange(200.0), "a": np.arange(200.0) * 2, "b": -np.arange(200.0)}, index=index)


@pytest.mark.parametrize("build", [covariates.lagllama_scratch, covariates.lagllama_finetuned, covariates.informer])
@pytest.mark.parametrize("mode", ["none", "past", "known", "shuffled"])
def test_the_same_budget_with_and_without_covariates(build, mode):
    args = covariates.parse_args(FLAGS)
    estimator = build(args, mode, 2)
    assert (estimator.batch_size, estimator.num_batches_per_epoch) == (7, 3)
    assert estimator.trainer_kwargs["max_epochs"] == 2 and estimator.prediction_length == 6
    expected = {"none": (0, 0), "past": (0, 2), "known": (2, 0), "shuffled": (2, 0)}[mode]
    assert (estimator.num_feat_dynamic_real, estimator.num_past_feat_dynamic_real) == expected


def test_entries_carry_the_covariates_of_their_mode(frame):
    known = covariates.entry(frame, "y", ["a", "b"], "known", end=100, horizon=6)
    assert known["target"].shape == (106,) and known["feat_dynamic_real"].shape == (2, 106)
    past = covariates.entry(frame, "y", ["a", "b"], "past", end=100, horizon=6)
    assert "feat_dynamic_real" not in past and past["past_feat_dynamic_real"].shape == (2, 106)
    shuffled = covariates.entry(frame, "y", ["a", "b"], "shuffled", end=100, horizon=6)
    # the same values in another order, the same permutation for every column
    assert sorted(shuffled["feat_dynamic_real"][0]) != list(shuffled["feat_dynamic_real"][0])
    np.testing.assert_array_equal(shuffled["feat_dynamic_real"][1], -shuffled["feat_dynamic_real"][0] / 2)
    assert "feat_dynamic_real" not in covariates.entry(frame, "y", ["a"], "none", end=100)


def test_test_windows_lie_in_the_test_period(frame):
    windows = covariates.test_windows(frame, "y", ["a"], "known", start=150, stop=200, count=5, horizon=6)
    assert len(windows) == 5
    assert all(150 + 6 <= len(w["target"]) <= 200 for w in windows)
    assert len({len(w["target"]) for w in windows}) == 5


def test_the_pathway_row_reads_a_checkpoint_with_the_pathway_and_reports_it(base_checkpoint):
    assert covariates.pathway_checkpoint(covariates.parse_args([])) is not None  # the bundled one has it
    assert covariates.pathway_checkpoint(covariates.parse_args(["--pathway", "none"])) is None
    assert covariates.pathway_checkpoint(covariates.parse_args(["--pathway", str(base_checkpoint)])) is None
    rows = {covariates.ZS: [0.30, 0.32], covariates.PW: [0.20, 0.21]}
    notes = {covariates.IC: [(0.01, 1, 2)], covariates.PW: [(0.05, 0.30), (0.04, 0.32)], covariates.FTC: []}
    lines = covariates.why_lines(rows, notes, None, None)
    assert any("Pretrained covariate pathway: it moved the median by 4.50%" in line for line in lines)
    assert not any("Fine-tuned" in line for line in lines)  # --zero-shot-only: no trained rows
    assert "zero-shot (pretrained pathway): **better**" in covariates.verdict_line(rows, notes, None)
