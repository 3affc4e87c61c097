"""Covariate columns of a long DataFrame in ``predict_df`` (Chronos-2's ``future_df`` rule,
:mod:`lagllama_gluonts.common.frame_covariates`): a planted effect of a known covariate moves
the forecast toward the truth, a predictor that takes covariates gets them as fields, the
in-context regression wraps one that does not, each bad ``future_df`` is one DataError naming
item and column, a frame without covariates forecasts as before, and the grouped run agrees."""

import numpy as np
import pandas as pd
import pytest
from gluonts.model.forecast import SampleForecast

from lagllama_gluonts.common.dataframes import predict_df
from lagllama_gluonts.common.distributed import predict_df_grouped
from lagllama_gluonts.common.errors import DataError
from lagllama_gluonts.common.incontext import InContextCovariates

H, T, DAY = 24, 240, 24


class SeasonalNaive:
    """The last day repeated, with a little deterministic noise around it: no covariate weights."""

    prediction_length = H

    def __init__(self):
        self.seen = []

    def predict(self, entries, num_samples=None, **kwargs):
        for entry in entries:
            self.seen.append(entry)
            target = np.asarray(entry["target"], dtype=np.float64)
            season = target[-DAY:][np.arange(H) % DAY]
            noise = np.random.default_rng(len(target)).normal(scale=0.01, size=(num_samples or 20, H))
            yield SampleForecast(season + noise, start_date=entry["start"] + len(target), item_id=entry.get("item_id"))


class OwnCovariates:
    """A predictor whose network takes the covariates itself (GluonTS's ``input_names``): it
    records its entries and forecasts the last value plus the known covariates' first row."""

    prediction_length = H

    def __init__(self, names=("past_target", "feat_dynamic_real"), known=None, past=None):
        self.input_names = list(names)
        if known is not None:  # what the network was built with, as GluonTS models keep it
            model = type("Model", (), {"num_feat_dynamic_real": known, "num_past_feat_dynamic_real": past or 0})
            self.prediction_net = type("Net", (), {"model": model()})()
        self.seen = []

    def predict(self, entries, **kwargs):
        for entry in entries:
            self.seen.append(entry)
            target = np.asarray(entry["target"], dtype=np.float64)
            level = target[~np.isnan(target)][-1]
            ahead = entry["feat_dynamic_real"][0, -H:] if "feat_dynamic_real" in entry else np.zeros(H)
            yield SampleForecast(np.tile(level + ahead, (4, 1)), start_date=entry["start"] + len(target))


def frames(items=("a", "b", "c"), effect=10.0, seed=0, length=T, freq="h"):
    """``(df, future_df, truth)``: hourly items with a daily cycle plus ``effect`` times a smooth
    random covariate ``x`` nobody could foresee from the target, and a past-only ``p``."""
    rng = np.random.default_rng(seed)
    history, future, truth = [], [], {}
    for k, item in enumerate(items):
        stamps = pd.date_range(pd.Timestamp("2021-01-01") + pd.Timedelta(hours=3 * k), periods=length + H, freq=freq)
        x = np.convolve(rng.normal(size=length + H + 4), np.ones(5) / 5, "valid")
        y = 50 + 10 * k + 5 * np.sin(np.arange(length + H) * 2 * np.pi / DAY) + effect * x
        y = y + rng.normal(scale=0.1, size=length + H)
        p = rng.normal(size=length)
        history.append(pd.DataFrame({"item_id": item, "timestamp": stamps[:length], "target": y[:length],
                                     "x": x[:length], "p": p}))  # fmt: skip
        future.append(pd.DataFrame({"item_id": item, "timestamp": stamps[length:], "x": x[length:]}))
        truth[item] = y[length:]
    return pd.concat(history, ignore_index=True), pd.concat(future, ignore_index=True), truth


def error(table, truth):
    return np.mean([np.abs(table.loc[table["item_id"] == k, "median"].to_numpy() - v).mean() for k, v in truth.items()])


@pytest.fixture
def spy(monkeypatch):
    """What the in-context regression was asked to forecast, and with which seed."""
    seen = {}
    original = InContextCovariates.predict

    def predict(self, dataset, **kwargs):
        seen["entries"], seen["seed"] = list(dataset), self.seed
        return original(self, seen["entries"], **kwargs)

    monkeypatch.setattr(InContextCovariates, "predict", predict)
    return seen


# --------------------------------------------------------------------------- (1) the effect


def test_a_planted_effect_of_a_known_covariate_moves_the_median_toward_the_truth(spy):
    df, future, truth = frames()
    df = df.drop(columns="p")
    without = predict_df(SeasonalNaive(), df, covariates=[], progress=False)
    assert "entries" not in spy  # no covariates: the predictor itself, not wrapped
    with_known = predict_df(SeasonalNaive(), df, future_df=future, progress=False, seed=3)
    assert spy["seed"] == 3 and all(e["feat_dynamic_real"].shape == (1, T + H) for e in spy["entries"])
    assert error(with_known, truth) < 0.4 * error(without, truth)
    for item, values in truth.items():  # each item's median follows the truth's swing over the horizon
        median = with_known.loc[with_known["item_id"] == item, "median"].to_numpy()
        assert np.corrcoef(median, values)[0, 1] > 0.95
        assert np.abs(median - values).mean() < 0.25 * np.ptp(10 * future.loc[future["item_id"] == item, "x"])
    assert list(with_known.columns) == list(without.columns) and len(with_known) == 3 * H


def test_lagllama_zero_shot_is_wrapped_and_helped_by_a_known_covariate():
    """The bundled checkpoint has no covariate weights: the in-context regression wraps it."""
    import torch

    from lagllama_gluonts import load_predictor
    from lagllama_gluonts.common.frame_covariates import own_counts

    predictor = load_predictor(None, prediction_length=H, context_length=32, num_parallel_samples=40, device="cpu")
    assert own_counts(predictor) is None
    df, future, truth = frames(items=("a", "b"))
    torch.manual_seed(0)
    without = predict_df(predictor, df.drop(columns="p"), covariates=[], progress=False)
    torch.manual_seed(0)
    with_known = predict_df(predictor, df.drop(columns="p"), future_df=future, progress=False)
    assert error(with_known, truth) < 0.5 * error(without, truth)


# --------------------------------------------------------------------------- (2, 3) routing


def test_a_predictor_taking_covariates_gets_known_and_past_fields():
    df, future, _ = frames(items=("a", "b"))
    df.loc[5, "x"] = np.nan  # a gap in item 'a''s history: filled forward
    df.loc[0, "p"] = np.nan  # the first step: filled backward
    predictor = OwnCovariates(names=("past_target", "feat_dynamic_real", "past_feat_dynamic_real"))
    shuffled = df.sample(frac=1, random_state=1)  # rows in any order, both frames
    table = predict_df(predictor, shuffled, future_df=future.sample(frac=1, random_state=0), progress=False)
    # the predictor itself got the entries, items in their first row's order
    assert [e["item_id"] for e in predictor.seen] == list(shuffled["item_id"].drop_duplicates())
    for entry in predictor.seen:
        rows = df[df["item_id"] == entry["item_id"]]
        ahead = future.loc[future["item_id"] == entry["item_id"], "x"].to_numpy()
        known, past = entry["feat_dynamic_real"], entry["past_feat_dynamic_real"]
        assert known.shape == (1, T + H) and known.dtype == np.float32
        assert past.shape == (1, T) and past.dtype == np.float32 and "feat_dynamic_cat" not in entry
        np.testing.assert_allclose(known[0, T:], ahead, rtol=1e-6)
        expected = rows["x"].ffill().bfill().to_numpy()
        np.testing.assert_allclose(known[0, :T], expected, rtol=1e-6)
        np.testing.assert_allclose(past[0], rows["p"].ffill().bfill().to_numpy(), rtol=1e-6)
    a = next(e for e in predictor.seen if e["item_id"] == "a")
    assert a["feat_dynamic_real"][0, 5] == a["feat_dynamic_real"][0, 4]
    # the fake forecasts last value + x over the horizon: future_df's rows landed on their steps
    b = table[table["item_id"] == "b"]
    last = df.loc[df["item_id"] == "b", "target"].iloc[-1]
    np.testing.assert_allclose(b["median"], last + future.loc[future["item_id"] == "b", "x"], rtol=1e-5)


def test_past_only_columns_are_past_fields_of_the_history_length(spy):
    df, _, _ = frames(items=("a", "b"))
    # on a calendar grid too: month ends, each item its own length
    monthly = df.groupby("item_id").head(30).copy()
    monthly["timestamp"] = np.tile(pd.date_range("2019-01-31", periods=30, freq="ME"), 2)
    monthly = monthly[~((monthly["item_id"] == "b") & (monthly.index % T >= 25))]  # 'b': 25 months
    predictor = OwnCovariates(names=("past_target", "past_feat_dynamic_real"))
    predict_df(predictor, monthly, covariates=["p", "x"], progress=False)
    assert [e["past_feat_dynamic_real"].shape for e in predictor.seen] == [(2, 30), (2, 25)]
    assert all("feat_dynamic_real" not in e for e in predictor.seen)
    # a predictor without covariate weights: wrapped in the in-context regression, same fields
    predict_df(SeasonalNaive(), df, progress=False)
    assert [e["past_feat_dynamic_real"].shape for e in spy["entries"]] == [(2, T), (2, T)]


def test_categorical_columns_are_codes_on_the_in_context_route(spy):
    df, future, _ = frames(items=("a", "b"))
    df["shift"] = np.where(np.arange(len(df)) % 8 < 4, "day", "night")
    future["shift"] = pd.Categorical(np.where(np.arange(len(future)) % 8 < 4, "day", "night"))
    df["store"] = df["item_id"].map({"a": "north", "b": "south"})  # past-only text, one level per item
    predict_df(SeasonalNaive(), df, future_df=future, progress=False)
    entry = spy["entries"][0]
    codes = entry["feat_dynamic_cat"]
    assert codes.shape == (1, T + H) and codes.dtype == np.int64
    labels = np.r_[df.loc[df["item_id"] == "a", "shift"], future.loc[future["item_id"] == "a", "shift"]]
    assert set(codes[0, labels == "day"]) == {0} and set(codes[0, labels == "night"]) == {1}  # one code per level
    # past-only text: one 0/1 row per level the item's history shows (after the numeric rows)
    assert entry["past_feat_dynamic_real"].shape == (2, T)
    np.testing.assert_array_equal(entry["past_feat_dynamic_real"][1], np.ones(T))
    # a network that takes covariates itself takes numbers: the error says how to encode them
    with pytest.raises(DataError, match=r"column 'shift' is categorical.*pd\.get_dummies"):
        predict_df(OwnCovariates(), df.drop(columns=["p", "store"]), future_df=future, progress=False)


def test_the_counts_a_network_was_built_with_are_checked():
    df, future, _ = frames(items=("a",))
    with pytest.raises(DataError, match=r"takes 2 known-future covariate\(s\) \(num_feat_dynamic_real=2\); the frame "
                                        r"has 1 \('x'"):  # fmt: skip
        predict_df(OwnCovariates(known=2), df.drop(columns="p"), future_df=future, progress=False)
    # Informer-style: known covariates folded into the time features, only the count tells
    predictor = OwnCovariates(names=("past_target", "past_time_feat"), known=1)
    predict_df(predictor, df.drop(columns="p"), future_df=future, progress=False)
    assert predictor.seen[0]["feat_dynamic_real"].shape == (1, T + H)
    with pytest.raises(DataError, match=r"takes 0 past-only covariate\(s\).*has 1 \('p'"):
        predict_df(OwnCovariates(names=("past_target", "past_time_feat"), known=1), df, future_df=future)


# --------------------------------------------------------------------------- (4) refusals


def _missing_rows(df, future):
    return df, future.drop(index=future.index[(future["item_id"] == "b")][3:5])


def _no_rows(df, future):
    return df, future[future["item_id"] != "c"]


def _nan_ahead(df, future):
    future = future.copy()
    future.loc[future.index[(future["item_id"] == "b")][7], "x"] = np.nan
    return df, future


def _extra_step(df, future):
    extra = future[future["item_id"] == "c"].tail(1).assign(timestamp=lambda f: f["timestamp"] + pd.Timedelta("1h"))
    return df, pd.concat([future, extra], ignore_index=True)


def _extra_column(df, future):
    return df, future.assign(price=1.0)


def _target_in_future(df, future):
    return df, future.assign(target=1.0)


def _unknown_item(df, future):
    return df, pd.concat([future, future.tail(1).assign(item_id="zz")], ignore_index=True)


def _no_history(df, future):
    return df.assign(p=lambda f: f["p"].where(f["item_id"] != "b")), future


@pytest.mark.parametrize(
    "change, kwargs, message",
    [
        (_missing_rows, {}, r"^future_df: item 'b' has no row at 2021-01-11 06:00:00 \(2 of 24 steps missing\) "
                            r"\(column 'timestamp'\); it needs one row for each of the 24 steps after its last "
                            r"timestamp 2021-01-11 02:00:00 on the 'h' grid"),
        (_no_rows, {}, r"^future_df: item 'c' has no rows \(column 'timestamp'\)"),
        (_nan_ahead, {}, r"^future_df: item 'b': known-future covariate column 'x' is missing \(NaN\) at "
                         r"2021-01-11 10:00:00, in the forecast horizon"),
        (_extra_step, {}, r"^future_df: item 'c': timestamp 2021-01-12 06:00:00 \(row 72, column 'timestamp'\) is "
                          r"not in the forecast horizon; future_df holds exactly the 24 steps"),
        (_extra_column, {}, r"^future_df column 'price' is not a covariate of df \(not a column of df\)"),
        (_target_in_future, {}, r"^future_df column 'target' is not a covariate of df \(the target"),
        (_extra_column, {"covariates": ["x"]}, r"future_df column 'price' is not a covariate"),
        (lambda df, f: (df, f), {"covariates": ["x", "price"]}, r"^covariates=: the DataFrame has no column 'price'"),
        (lambda df, f: (df, f), {"covariates": ["target"]}, r"'target' is the target column"),
        (_unknown_item, {}, r"^future_df: item 'zz' \(row 72, column 'item_id'\) is not an item of df"),
        (_no_history, {}, r"^item 'b': covariate column 'p' has no value in the item's history"),
        (lambda df, f: (df, f), {"resample": "2h"}, r"resample= averages the target only"),
    ],
    ids=["missing-rows", "missing-item", "nan-ahead", "extra-step", "extra-column", "target-column",
         "left-out-column", "unknown-name", "target-as-covariate", "unknown-item", "no-history", "resample"],
)  # fmt: skip
def test_a_bad_future_or_covariate_is_one_data_error_before_any_forecast(change, kwargs, message):
    df, future = change(*frames()[:2])
    predictor = SeasonalNaive()
    with pytest.raises(DataError, match=message):
        predict_df(predictor, df, future_df=future, progress=False, **kwargs)
    assert predictor.seen == []  # refused before any forecast


# --------------------------------------------------------------------------- (5) no covariates


def test_without_covariate_columns_the_table_is_the_one_without_covariates(spy):
    df, future, _ = frames()
    plain = df[["item_id", "timestamp", "target"]]
    before = predict_df(SeasonalNaive(), plain, progress=False)  # nothing else: the old path
    assert "entries" not in spy
    pd.testing.assert_frame_equal(predict_df(SeasonalNaive(), df, covariates=[], progress=False), before)
    # a future_df without covariate columns is checked, and changes nothing either
    pd.testing.assert_frame_equal(
        predict_df(SeasonalNaive(), plain, future_df=future.drop(columns="x"), progress=False), before
    )
    assert "entries" not in spy


# --------------------------------------------------------------------------- (7) in groups


def test_grouped_forecasts_with_future_df_equal_predict_df():
    df, future, _ = frames(items=("a", "b", "c", "d", "e"))
    df = df.drop(columns="p")
    whole = predict_df(OwnCovariates(), df, future_df=future, progress=False)
    grouped = predict_df_grouped(OwnCovariates(), df, groups=2, future_df=future.iloc[::-1], freq="h")
    pd.testing.assert_frame_equal(grouped, whole)
    with pytest.raises(DataError, match=r"item 'zz' .* is not an item of df"):
        predict_df_grouped(OwnCovariates(), df, groups=2, future_df=_unknown_item(df, future)[1])
    # a group whose items lack their future rows is refused as predict_df refuses it
    with pytest.raises(DataError, match=r"^future_df: item 'e' has no rows"):
        predict_df_grouped(OwnCovariates(), df, groups=2, future_df=future[future["item_id"] != "e"])


@pytest.mark.slow
def test_ray_with_future_df_equals_the_grouped_run():
    ray = pytest.importorskip("ray")
    from lagllama_gluonts.common.distributed import predict_df_ray

    class Shipped:  # defined here: Ray's workers get it by value, not from this test module
        prediction_length, input_names = H, ["past_target", "feat_dynamic_real"]

        def predict(self, entries, **kwargs):
            for entry in entries:
                level = entry["target"][-1] + entry["feat_dynamic_real"][0, -H:]
                yield SampleForecast(np.tile(level, (4, 1)), start_date=entry["start"] + len(entry["target"]))

    df, future, _ = frames(items=("a", "b", "c"))
    kwargs = dict(groups=2, freq="h", covariates=["x"], future_df=future)
    local = predict_df_grouped(Shipped(), df, **kwargs)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        distributed = predict_df_ray(Shipped(), df, **kwargs)
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(distributed, local)
