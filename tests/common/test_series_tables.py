"""Tables of many series (long and wide, CSV and Parquet) from real corpus files: the reader,
its refusals, the streaming writer, predict_df against PandasDataset by hand, and the
rolling-origin backtest beside SeasonalNaive."""

import numpy as np
import pandas as pd
import pytest

from lagllama_gluonts.common.dataframes import predict_df, predict_series
from lagllama_gluonts.common.evaluation import rolling_backtest, seasonal_naive_baseline, write_backtest_report
from lagllama_gluonts.common.tables import read_frame, read_series_table, write_forecast_frames
from lagllama_gluonts.common.validation import DataError

from conftest import CORPUS, PNG_MAGIC

HOURLY = ("SF_hospital_load", "SF_PV", "load_rte")  # BeijingPM25_0 stays held out
STEPS = 300


def corpus_tail(name: str, steps: int = STEPS) -> pd.DataFrame:
    return pd.read_csv(CORPUS / f"{name}.csv", usecols=["ds", "y"]).iloc[-steps:]


@pytest.fixture
def long_csv(tmp_path):
    """The hourly corpus files as the items of one long table, rows shuffled."""
    parts = [corpus_tail(name).assign(store=name) for name in HOURLY]
    frame = pd.concat(parts, ignore_index=True)[["store", "ds", "y"]].sample(frac=1, random_state=0)
    path = tmp_path / "long.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def wide_csv(tmp_path):
    """Two hourly corpus files side by side (one column each, their own lengths)."""
    a = corpus_tail("SF_hospital_load").rename(columns={"y": "hospital"})
    b = corpus_tail("SF_PV", STEPS - 50).rename(columns={"y": "pv"})
    path = tmp_path / "wide.csv"
    a.merge(b, on="ds", how="left").to_csv(path, index=False)
    return path


def test_a_long_corpus_table_reads_each_file_as_one_item(long_csv):
    table = read_series_table(long_csv, ["y"], item_column="store")
    assert table.freq == "h" and [e["item_id"] for e in table.entries] == list(
        pd.read_csv(long_csv)["store"].drop_duplicates()
    )
    for entry in table.entries:
        expected = corpus_tail(entry["item_id"])
        assert entry["start"] == pd.Period(expected["ds"].iloc[0], freq="h")
        np.testing.assert_allclose(entry["target"], expected["y"].to_numpy(dtype=np.float32))


def test_a_wide_table_is_one_series_per_target_column_each_with_its_own_start(wide_csv):
    table = read_series_table(wide_csv, ["hospital", "pv"])
    hospital, pv = table.entries
    assert (hospital["item_id"], pv["item_id"]) == ("hospital", "pv") and table.wide
    assert len(hospital["target"]) == STEPS and len(pv["target"]) == STEPS - 50  # leading blanks left out
    assert pv["start"] == pd.Period(corpus_tail("SF_PV", STEPS - 50)["ds"].iloc[0], freq="h")
    np.testing.assert_allclose(pv["target"], corpus_tail("SF_PV", STEPS - 50)["y"].to_numpy(dtype=np.float32))


def test_parquet_reads_like_csv(long_csv, tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "long.parquet"
    pd.read_csv(long_csv).to_parquet(path, index=False)
    a = read_series_table(long_csv, ["y"], item_column="store").entries
    b = read_series_table(path, ["y"], item_column="store").entries
    assert [e["item_id"] for e in a] == [e["item_id"] for e in b]
    for x, y in zip(a, b):
        assert x["start"] == y["start"]
        np.testing.assert_array_equal(x["target"], y["target"])


def test_the_pyarrow_engine_keeps_local_wall_time_and_ragged_rows(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "tz.csv"
    path.write_text("ds,y\n2021-01-01T00:00:00+01:00,1\n2021-01-01T01:00:00+01:00,2\n")
    assert str(read_frame(path)["ds"].iloc[0]).startswith("2021-01-01T00:00:00+01:00")  # text kept: C engine
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("ds,y,x\n2021-01-01,1,2\n2021-01-02,3\n")  # fewer cells: NaN, as pandas' C engine
    assert np.isnan(read_frame(ragged)["x"].iloc[1])
    plain = tmp_path / "plain.csv"
    plain.write_text("ds,y\n2021-01-01 00:00:00,1\n2021-01-01 01:00:00,2\n")
    assert read_frame(plain, engine="pyarrow")["y"].tolist() == read_frame(plain, engine="c")["y"].tolist()


LONG = "store,ds,y\n" + "".join(f"{s},2021-01-{d:02d},{d}\n" for s in "ab" for d in range(1, 21))


@pytest.mark.parametrize(
    "text, targets, item, message",
    [
        (LONG, ["y"], "shop", r"no item column 'shop' \(--item-column\); the table has: store, ds, y"),
        # a long table read without --item-column: its one column has duplicate timestamps
        (LONG, ["y"], None, r"item 'y': duplicate timestamp 2021-01-01 00:00:00 \(data rows 1 and 21\)"),
        (LONG.replace("ds", "when"), ["y"], "store", None),
        (LONG, ["sales"], "store", r"no target column 'sales' \(--target\); the table has: store, ds, y"),
        (LONG, ["y", "ds"], None, r"the target column 'ds' is the timestamp column"),
        (LONG, ["y", "y2"], "store", r"several --target columns"),
        (
            LONG + "a,2021-01-05,7\n",
            ["y"],
            "store",
            r"item 'a': duplicate timestamp 2021-01-05 00:00:00 \(data rows 5 and 41\)",
        ),
        (
            LONG.replace("b,2021-01-07,7", "b,2021-01-07,seven"),
            ["y"],
            "store",
            r"item 'b': column 'y' has a non-numeric value 'seven' in data row 27",
        ),
        (
            "store,ds,y\n"
            + "".join(f"a,2021-01-{d:02d},{d}\n" for d in range(1, 11))
            + "".join(f"b,2021-01-01 {h:02d}:00,{h}\n" for h in range(10)),
            ["y"],
            "store",
            r"do not share one frequency: item 'a' looks 'D' but item 'b' looks 'h'",
        ),
    ],
    ids=[
        "no-item-column",
        "long-read-as-wide",
        "time-column-guessed",
        "no-target",
        "target-is-time",
        "long-several",
        "duplicate",
        "text",
        "mixed-frequencies",
    ],
)
def test_bad_tables_name_the_columns_rows_and_items(tmp_path, text, targets, item, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    if message is None:
        assert read_series_table(path, targets, item_column=item).entries
        return
    with pytest.raises(DataError, match=message):
        read_series_table(path, targets, item_column=item)


def test_unsorted_rows_are_sorted_and_gaps_are_nan(tmp_path):
    rows = [("a", f"2021-01-{d:02d}", float(d)) for d in (5, 1, 3, 2, 6)]  # 01-04 missing, shuffled
    path = tmp_path / "t.csv"
    pd.DataFrame(rows, columns=["id", "date", "v"]).to_csv(path, index=False)
    (entry,) = read_series_table(path, ["v"], item_column="id", freq="D").entries
    np.testing.assert_array_equal(entry["target"], [1, 2, 3, np.nan, 5, 6])


def test_drop_short_counts_the_items_left_out(long_csv, tmp_path):
    frame = pd.read_csv(long_csv)
    frame = pd.concat([frame, pd.DataFrame({"store": "tiny", "ds": frame["ds"].iloc[:3], "y": 1.0})])
    path = tmp_path / "with_tiny.csv"
    frame.to_csv(path, index=False)
    table = read_series_table(path, ["y"], item_column="store")
    assert table.drop_short(24) == ["tiny"] and len(table.entries) == 3
    with pytest.raises(DataError, match="every item has fewer than 100000 observed values"):
        table.drop_short(100_000)


# --------------------------------------------------------------------------- forecasts


@pytest.fixture(scope="module")
def lagllama():
    from lagllama_gluonts import load_predictor

    return load_predictor(None, prediction_length=12, context_length=32, num_parallel_samples=16, device="cpu")


def test_predict_df_equals_pandas_dataset_by_hand(lagllama, long_csv):
    import torch
    from gluonts.dataset.pandas import PandasDataset

    frame = pd.read_csv(long_csv, parse_dates=["ds"])
    torch.manual_seed(3)
    table = predict_df(lagllama, frame, id_column="store", timestamp_column="ds", target="y", progress=False)
    # by hand: GluonTS's own PandasDataset of the same long frame, in the same item order
    order = list(frame["store"].drop_duplicates())
    by_hand = PandasDataset.from_long_dataframe(
        frame.sort_values("ds"), target="y", item_id="store", timestamp="ds", freq="h"
    )
    entries = {e["item_id"]: e for e in by_hand}
    torch.manual_seed(3)
    forecasts = list(lagllama.predict([entries[k] for k in order]))
    for item, forecast in zip(order, forecasts):
        mine = table[table["store"] == item]
        np.testing.assert_allclose(mine["mean"], forecast.mean, rtol=1e-6)
        np.testing.assert_allclose(mine["q0.9"], forecast.quantile(0.9), rtol=1e-6)
        assert list(mine["ds"]) == list(forecast.index.to_timestamp())


def test_forecasts_stream_to_csv_and_parquet_piece_by_piece(lagllama, long_csv, tmp_path):
    table = read_series_table(long_csv, ["y"], item_column="store")
    pieces = list(predict_series(lagllama, table.series, progress=False, chunk_items=2))
    assert [p["store"].nunique() for p in pieces] == [2, 1]  # three items, two per piece
    path, rows = write_forecast_frames(tmp_path / "f.csv", iter(pieces))
    back = pd.read_csv(path, parse_dates=["ds"])
    assert rows == len(back) == 36
    pd.testing.assert_frame_equal(back, pd.concat(pieces, ignore_index=True), check_dtype=False)
    pytest.importorskip("pyarrow")
    path, rows = write_forecast_frames(tmp_path / "f.parquet", iter(pieces))
    pd.testing.assert_frame_equal(pd.read_parquet(path), pd.concat(pieces, ignore_index=True), check_dtype=False)


# --------------------------------------------------------------------------- rolling backtests


def test_rolling_backtest_scores_each_window_beside_seasonal_naive(long_csv, tmp_path):
    table = read_series_table(long_csv, ["y"], item_column="store")
    entries = table.entries + [
        {"start": pd.Period("2021-01-01", freq="h"), "target": np.ones(30, dtype=np.float32), "item_id": "short"}
    ]
    naive = seasonal_naive_baseline("h", 24)
    result = rolling_backtest(entries, naive, 24, windows=3, name="naive", progress=False)
    assert result.skipped == ["short"] and result.items == 3  # 30 < 3 x 24 + 24 steps
    assert set(result.metrics) == {"naive", "SeasonalNaive"}
    assert result.metrics["naive"]["MASE"] == pytest.approx(result.metrics["SeasonalNaive"]["MASE"])
    windows = result.window_metrics[result.window_metrics["model"] == "naive"]
    assert len(windows) == 9 and list(windows["window"]) == [0, 1, 2] * 3
    # window 2 of each item is its last 24 steps: SeasonalNaive repeats the day before them
    for entry in table.entries:
        target = entry["target"].astype(float)
        last = windows[(windows["item_id"] == entry["item_id"]) & (windows["window"] == 2)]
        assert last["abs_error"].item() == pytest.approx(np.abs(target[-24:] - target[-48:-24]).sum(), rel=1e-5)
    # per item: the windows aggregated the Evaluator's way (abs_error sums)
    items = result.item_metrics[result.item_metrics["model"] == "naive"].set_index("item_id")
    sums = windows.groupby("item_id")["abs_error"].sum()
    np.testing.assert_allclose(items.loc[sums.index, "abs_error"], sums)
    metrics, item_csv, png = write_backtest_report(tmp_path / "bt", result, "t")
    assert png.read_bytes()[:8] == PNG_MAGIC and len(pd.read_csv(item_csv)) == 6
    with pytest.raises(DataError, match="no series has the 96 steps"):
        rolling_backtest(entries[-1:], naive, 24, windows=3, progress=False)


def test_rolling_backtest_trains_an_estimator_on_the_part_before_the_windows():
    class Spy:
        """An estimator that records what it was trained on and predicts SeasonalNaive."""

        def train(self, data):
            self.seen = [len(e["target"]) for e in data]
            return seasonal_naive_baseline("D", 5)

    start = pd.Period("2021-01-01", freq="D")
    entries = [
        {"start": start, "target": np.arange(40.0), "item_id": "a"},
        {"start": start, "target": np.arange(33.0), "item_id": "b"},
    ]
    spy = Spy()
    result = rolling_backtest(entries, spy, 5, windows=2, distance=3, baseline=False, progress=False)
    assert spy.seen == [40 - 8, 33 - 8]  # span: (2 - 1) x 3 + 5 steps, never trained on
    assert list(result.metrics) == ["model"] and result.distance == 3


# -- covariate columns carried into the entries (read_series_table(covariates=...)) ------------


def ercot_tail(steps: int = 120, future: int = 0) -> pd.DataFrame:
    """ERCOT's price with Houston's temperature; the last ``future`` prices left empty (the
    temperature's future rows)."""
    frame = pd.read_csv(CORPUS / "price_ercot_dam.csv").iloc[-steps:].reset_index(drop=True)
    if future:
        frame.loc[len(frame) - future :, "y"] = np.nan
    return frame


def test_covariates_of_a_wide_table_end_where_the_table_does_and_the_target_at_its_last_value(tmp_path):
    frame = ercot_tail(future=6)
    frame["hour"] = pd.to_datetime(frame["ds"]).dt.hour.astype(float)
    path = tmp_path / "ercot.csv"
    frame.to_csv(path, index=False)
    table = read_series_table(path, ["y"], covariates=["temp_celsius_houston", "hour"])
    (entry,) = table.entries
    assert len(entry["target"]) == 114 and not np.isnan(entry["target"]).any()
    assert pd.Timestamp(table.series.last[0]) == pd.Timestamp(frame["ds"].iloc[113])  # forecasts start after it
    (values,) = table.covariate_values
    assert values.shape == (2, 120)
    np.testing.assert_allclose(values[0], frame["temp_celsius_houston"].to_numpy(), rtol=1e-6)
    (entry,) = table.add_covariate_fields(known=["temp_celsius_houston"], past=["hour"], horizon=6)
    assert entry["feat_dynamic_real"].shape == (1, 120) and entry["past_feat_dynamic_real"].shape == (1, 114)
    np.testing.assert_array_equal(entry["past_feat_dynamic_real"][0], values[1, :114])
    (entry,) = table.add_covariate_fields(known=["temp_celsius_houston"], horizon=0)  # training: the target's span
    assert entry["feat_dynamic_real"].shape == (1, 114) and "past_feat_dynamic_real" not in entry


def test_covariates_of_a_long_table_follow_each_item_and_fill_gaps_forward(tmp_path):
    a, b = ercot_tail(future=4), ercot_tail(80, future=2)
    b["temp_celsius_houston"] = b["temp_celsius_houston"] + 100.0
    b.loc[10, "temp_celsius_houston"] = np.nan  # a gap in b's history: the value before it
    frame = pd.concat([a.assign(zone="a"), b.assign(zone="b")]).sample(frac=1, random_state=0)
    path = tmp_path / "zones.csv"
    frame.to_csv(path, index=False)
    table = read_series_table(path, ["y"], item_column="zone", covariates=["temp_celsius_houston"])
    first, second = table.add_covariate_fields(known=["temp_celsius_houston"], horizon=2)
    assert (len(first["target"]), len(second["target"])) == (116, 78)
    assert first["feat_dynamic_real"].shape == (1, 118) and second["feat_dynamic_real"].shape == (1, 80)
    assert second["feat_dynamic_real"][0, 10] == second["feat_dynamic_real"][0, 9] > 100.0
    assert first["feat_dynamic_real"].max() < 100.0  # each item its own rows
    with pytest.raises(
        DataError,
        match=r"item 'b': known-future covariates \(--known-covariates\) need the 3 rows "
        r"after the last target value .* the table has 2",
    ):
        table.add_covariate_fields(known=["temp_celsius_houston"], horizon=3)


def test_without_covariates_the_reader_is_unchanged(tmp_path):
    path = tmp_path / "ercot.csv"
    ercot_tail(future=6).to_csv(path, index=False)
    table = read_series_table(path, ["y"])
    assert len(table.entries[0]["target"]) == 114 and table.covariates == [] and table.covariate_values == []


@pytest.mark.parametrize(
    "change, covariates, message",
    [
        (lambda f: f, ["wind"], "no covariate column 'wind'; the table has: ds, y, temp_celsius_houston"),
        (lambda f: f, ["y"], "the target 'y' cannot also be a covariate"),
        (lambda f: f, ["ds"], "the covariate column 'ds' is the timestamp column"),
        (
            lambda f: f.assign(temp_celsius_houston=f["temp_celsius_houston"].astype(str).where(f.index != 7, "hot")),
            ["temp_celsius_houston"],
            "covariate column 'temp_celsius_houston' has a non-numeric or infinite value 'hot' in data row 8",
        ),
    ],
)
def test_bad_covariate_columns_are_refused_naming_them(tmp_path, change, covariates, message):
    path = tmp_path / "ercot.csv"
    change(ercot_tail()).to_csv(path, index=False)
    with pytest.raises(DataError, match=message):
        read_series_table(path, ["y"], covariates=covariates)


def test_blank_future_covariates_and_covariates_without_history_are_refused(tmp_path):
    frame = ercot_tail(future=3)
    frame.loc[len(frame) - 2, "temp_celsius_houston"] = np.nan
    frame["empty"] = np.nan
    path = tmp_path / "ercot.csv"
    frame.to_csv(path, index=False)
    table = read_series_table(path, ["y"], covariates=["temp_celsius_houston", "empty"])
    with pytest.raises(
        DataError,
        match=r"known-future covariate column 'temp_celsius_houston' is blank at "
        r".*, in the forecast horizon",
    ):
        table.add_covariate_fields(known=["temp_celsius_houston"], horizon=3)
    with pytest.raises(DataError, match="covariate column 'empty' has no value in the item's history"):
        table.add_covariate_fields(past=["empty"])
