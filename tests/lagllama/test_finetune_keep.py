"""Fine-tuning's keep-if-better (issues 21 and 24): judged on several validation windows per
series, cut off from training and never reaching past the training data, by the quantile loss of
sampled forecasts and the NLL, among the checkpoint, the best epoch and, with covariates, that
epoch with the covariates zeroed."""

import math

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset
from gluonts.evaluation import Evaluator
from gluonts.model.forecast import SampleForecast

from lagllama_gluonts.common.evaluation import holdout_last_window
from lagllama_gluonts.defaults import BUNDLED_CHECKPOINT, FINETUNE_VALIDATION_WINDOWS
from lagllama_gluonts.estimator import LagLlamaEstimator
from lagllama_gluonts.finetune import (
    TUNED,
    ZERO_SHOT,
    ZEROED,
    Scores,
    choose_candidate,
    finetune,
    gain,
    holdout_windows,
    quantile_losses,
    resplit,
    t_quantile,
    weighted_quantile_loss,
    window_count,
)

H = 12
FAST = dict(max_epochs=2, num_batches_per_epoch=2, batch_size=8, progress=False, num_parallel_samples=10, device="cpu")


def hourly(count=3, steps=200, seed=0, covariate=None):
    """Daily-seasonal hourly series; ``covariate``: "noise" (independent of the target) or
    "driver" (the target moves with it and cannot be read from its own past)."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    entries = []
    for k in range(count):
        x = rng.normal(size=steps)
        y = 10 * np.sin(2 * np.pi * t / 24 + k) + 50 + rng.normal(size=steps)
        if covariate == "driver":
            y = 10 + 3 * x + 0.1 * rng.normal(size=steps)
        entry = {"start": pd.Period("2020-01-01", "h"), "target": y.astype("float32"), "item_id": f"s{k}"}
        if covariate is not None:
            entry["feat_dynamic_real"] = x[None].astype("float32")
        entries.append(entry)
    return ListDataset(entries, "h")


def length(entry):
    return np.shape(entry["target"])[-1]


def prefix_of(part, whole):
    return np.array_equal(np.asarray(whole["target"])[: length(part)], np.asarray(part["target"]))


# --------------------------------------------------------------------------- the windows


@pytest.mark.parametrize(
    "steps, windows", [(24, 0), (25, 1), (47, 1), (48, 2), (71, 2), (72, 3), (1000, FINETUNE_VALIDATION_WINDOWS)]
)
def test_each_series_gives_up_as_many_windows_as_it_allows(steps, windows):
    # its last one when h + 1 steps remain to train on; earlier ones while they take at most half of it
    assert window_count(steps, H) == windows


def test_validation_windows_are_several_per_series_and_never_touch_the_test_part():
    full = list(hourly(covariate="noise"))
    train = [{**e, "target": e["target"][:-H], "feat_dynamic_real": e["feat_dynamic_real"][:, :-H]} for e in full]
    fit, validation = holdout_windows(train, H)
    assert len(fit) == 3 and len(validation) == 3 * FINETUNE_VALIDATION_WINDOWS
    end = length(train[0])  # 188: the test window (188 .. 200) lies beyond
    for series, part in zip(train, fit):
        windows = [w for w in validation if w["item_id"] == series["item_id"]]
        assert [length(w) for w in windows] == [end - 2 * H, end - H, end]
        assert all(prefix_of(w, series) and np.shape(w["feat_dynamic_real"])[-1] == length(w) for w in windows)
        # training stops where the earliest window's horizon starts
        assert length(part) == end - 3 * H and prefix_of(part, series)
        assert np.shape(part["feat_dynamic_real"])[-1] == length(part)


def test_a_callers_split_is_recut_into_windows_and_short_series_still_train_whole():
    first, second = hourly(count=2)
    short = {"start": pd.Period("2020-01-01", "h"), "target": np.arange(20, dtype="float32")}
    fit, validation = holdout_last_window([first, short, second], H, keep_short=True)  # the commands' split
    refit, windows = resplit(fit, validation, H)
    assert [length(e) for e in refit] == [200 - 3 * H, 20, 200 - 3 * H]
    assert prefix_of(refit[0], first) and refit[1] is short and prefix_of(refit[2], second)
    assert [length(w) for w in windows] == [200 - 2 * H, 200 - H, 200] * 2
    assert all(prefix_of(w, series) for w, series in zip(windows, [first] * 3 + [second] * 3))


def test_finetune_trains_before_the_windows_and_validates_on_them(monkeypatch):
    seen = {}
    train_model = LagLlamaEstimator.train_model

    def spy(self, training_data, validation_data=None, **kwargs):
        seen.update(fit=list(training_data), validation=list(validation_data))
        return train_model(self, training_data, validation_data=validation_data, **kwargs)

    monkeypatch.setattr(LagLlamaEstimator, "train_model", spy)
    data = list(hourly())
    result = finetune(data, H, **FAST)
    assert result.record["validation_windows"] == len(seen["validation"]) == 9
    for series, part in zip(data, seen["fit"]):
        windows = [w for w in seen["validation"] if w["item_id"] == series["item_id"]]
        assert min(length(w) for w in windows) - H == length(part)  # nothing of a window trained on
        assert max(length(w) for w in windows) == length(series)  # the training data's own end, no further


# --------------------------------------------------------------------------- the rule


def scores(nll, *losses):
    return Scores(nll, np.asarray(losses, dtype=float))


START = scores(1.0, 0.010, 0.012, 0.011, 0.009)  # four windows' shares of a quantile loss of 0.042
STEADY = scores(0.9, 0.009, 0.011, 0.010, 0.008)  # 1e-3 lower on every window: 9.5% lower, t infinite
NOISY = scores(0.9, 0.005, 0.016, 0.006, 0.011)  # as much lower (0.038), unevenly: t 0.43
SLIGHT = scores(0.9, 0.0098, 0.0118, 0.0108, 0.0088)  # steady but only 1.9% lower
WORSE_NLL = scores(1.1, 0.009, 0.011, 0.010, 0.008)
BETTER = scores(0.8, 0.0080, 0.0098, 0.0089, 0.0070)  # steadily lower than STEADY too
BROKEN = scores(math.nan, *[math.nan] * 4)


@pytest.mark.parametrize(
    "candidates, kept",
    [
        ({ZERO_SHOT: START, TUNED: STEADY}, TUNED),
        ({ZERO_SHOT: START, TUNED: NOISY}, ZERO_SHOT),  # lower, but not significantly
        ({ZERO_SHOT: START, TUNED: SLIGHT}, ZERO_SHOT),  # within the margin
        ({ZERO_SHOT: START, TUNED: WORSE_NLL}, ZERO_SHOT),
        ({ZERO_SHOT: START, TUNED: BROKEN}, ZERO_SHOT),
        ({ZERO_SHOT: scores(1.0, 0.010), TUNED: scores(0.9, 0.005)}, ZERO_SHOT),  # one window tells nothing
        # with covariates: the zeroed one unless the covariates beat it too
        ({ZERO_SHOT: START, TUNED: STEADY, ZEROED: STEADY}, ZEROED),
        ({ZERO_SHOT: START, TUNED: BETTER, ZEROED: STEADY}, TUNED),
        ({ZERO_SHOT: START, TUNED: NOISY, ZEROED: STEADY}, ZEROED),
        ({ZERO_SHOT: START, TUNED: STEADY, ZEROED: WORSE_NLL}, TUNED),
    ],
)
def test_the_rule(candidates, kept):
    assert choose_candidate(candidates, margin=0.02, level=0.95) == kept


@pytest.mark.parametrize("df, value", [(1, 6.314), (2, 2.920), (5, 2.015), (23, 1.714), (41, 1.683), (1000, 1.646)])
def test_the_t_quantiles_are_students(df, value):
    assert t_quantile(0.95, df) == pytest.approx(value, abs=1e-3)


def test_the_gain_and_its_t_statistic():
    relative, t = gain(NOISY, START)
    d = START.losses - NOISY.losses
    assert relative == pytest.approx(d.sum() / 0.042)
    assert t == pytest.approx(d.mean() / (d.std(ddof=1) / 2))
    assert gain(STEADY, START)[1] > 1e6  # the same difference on every window


def test_the_quantile_loss_is_gluonts_mean_weighted_quantile_loss():
    rng = np.random.default_rng(1)
    start = pd.Period("2021-01-01", "h")
    forecasts = [SampleForecast(rng.normal(5, 2, size=(50, 6)), start_date=start + 10) for _ in range(3)]
    labels = [rng.normal(5, 2, size=6) for _ in range(3)]
    labels[1][2] = np.nan  # an unobserved step counts nowhere
    series = [pd.Series(np.concatenate([np.ones(10), y]), index=pd.period_range(start, periods=16)) for y in labels]
    metrics, _ = Evaluator(num_workers=0)(iter(series), iter(forecasts))
    assert weighted_quantile_loss(forecasts, labels) == pytest.approx(metrics["mean_wQuantileLoss"], rel=1e-6)


# --------------------------------------------------------------------------- finetune keeps what the rule says


def test_an_absurd_learning_rate_keeps_the_start_weights_bit_for_bit():
    pl.seed_everything(0, verbose=False)
    result = finetune(hourly(), H, lr=1.0, **FAST)
    record = result.record
    assert record["kept_candidate"] == ZERO_SHOT and record["kept"].startswith("checkpoint"), record
    raw = torch.load(BUNDLED_CHECKPOINT, weights_only=True)["state_dict"]
    state = result.predictor.prediction_net.state_dict()
    assert all(torch.equal(state[k].cpu(), v) for k, v in raw.items())


def test_the_record_names_the_kept_candidate_with_every_candidates_scores():
    pl.seed_everything(0, verbose=False)
    result = finetune(hourly(), H, **FAST)
    record = result.record
    candidates = record["candidates"]
    assert set(candidates) == {ZERO_SHOT, TUNED}
    assert all(math.isfinite(s["val_nll"]) and math.isfinite(s["val_quantile_loss"]) for s in candidates.values())
    assert set(candidates[TUNED]) == {"val_nll", "val_quantile_loss", "gain_vs_zero_shot", "t_vs_zero_shot"}
    assert candidates[TUNED]["gain_vs_zero_shot"] == pytest.approx(
        1 - candidates[TUNED]["val_quantile_loss"] / candidates[ZERO_SHOT]["val_quantile_loss"]
    )
    assert record["start_val_loss"] == candidates[ZERO_SHOT]["val_nll"]
    assert record["best_val_loss"] == candidates[TUNED]["val_nll"]
    assert f"kept {record['kept_candidate']}" in record["selection_summary"]
    # the decision is reproducible: the kept module scores the same again, and the draw is
    # seeded on its own (the caller's random state is left alone)
    _, validation = holdout_windows(hourly(), H)
    state = torch.get_rng_state()
    again = quantile_losses(result.estimator, result.estimator.create_transformation(), result.module, validation)
    assert again.sum() == candidates[record["kept_candidate"]]["val_quantile_loss"]
    assert torch.equal(torch.get_rng_state(), state)


def test_noise_covariates_are_not_kept():
    pl.seed_everything(0, verbose=False)
    result = finetune(hourly(covariate="noise"), H, num_feat_dynamic_real=1, **{**FAST, "max_epochs": 3})
    record = result.record
    assert set(record["candidates"]) == {ZERO_SHOT, TUNED, ZEROED}
    assert record["kept_candidate"] in (ZEROED, ZERO_SHOT), record["selection_summary"]
    assert record["kept"] in ("fine-tuned (covariates zeroed)",) or record["kept"].startswith("checkpoint")
    if record["kept_candidate"] == ZEROED:  # the projection's weight zeroed in what is kept
        assert result.module.model.covariates.proj.weight.abs().max() == 0


def test_covariates_that_drive_the_target_are_kept():
    """The other side of the rule: it keeps the covariates where they help (so the test above
    is not passed by a rule that never keeps them)."""
    pl.seed_everything(0, verbose=False)
    result = finetune(
        hourly(count=4, covariate="driver"),
        4,
        num_feat_dynamic_real=1,
        covariate_lr=1e-2,
        **{**FAST, "max_epochs": 3, "num_batches_per_epoch": 6, "batch_size": 4},
    )
    record = result.record
    assert record["kept_candidate"] == TUNED and record["kept"] == "fine-tuned", record["selection_summary"]
    assert result.module.model.covariates.proj.weight.abs().max() > 0


def test_bad_selection_arguments_fail_before_training():
    with pytest.raises(ValueError, match="keep_margin"):
        finetune(hourly(), H, keep_margin=1.5)
    with pytest.raises(ValueError, match="keep_level"):
        finetune(hourly(), H, keep_level=0.2)
    with pytest.raises(ValueError, match="validation_windows"):
        finetune(hourly(), H, validation_windows=0)
