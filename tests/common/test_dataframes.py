"""A long pandas DataFrame in, GluonTS entries and forecasts (a long DataFrame) out, with either model."""

import numpy as np
import pandas as pd
import pytest
import torch

from lagllama_gluonts.common.dataframes import dataset_from_df, predict_df
from lagllama_gluonts.common.validation import DataError

H = 6


def long_frame() -> pd.DataFrame:
    """Three daily items with their own starts and lengths, 'b' missing 2021-01-03, rows shuffled."""
    rows = [("a", f"2021-01-{d:02d}", 10.0 + d) for d in range(1, 8)]
    rows += [("b", f"2021-01-{d:02d}", 20.0 + d) for d in (2, 4, 5, 6)]  # a gap at 01-03
    rows += [("c", f"2020-12-{d:02d}", 30.0 + d) for d in range(25, 32)]
    frame = pd.DataFrame(rows, columns=["item_id", "timestamp", "target"])
    return frame.sample(frac=1, random_state=0).reset_index(drop=True)


def test_a_long_frame_becomes_one_entry_per_item_on_its_own_grid():
    frame = long_frame()
    entries = dataset_from_df(frame)
    by_id = {entry["item_id"]: entry for entry in entries}
    assert sorted(by_id) == ["a", "b", "c"]
    assert [e["item_id"] for e in entries] == list(dict.fromkeys(frame["item_id"]))  # first-row order
    assert by_id["a"]["start"] == pd.Period("2021-01-01", freq="D")
    assert by_id["b"]["start"] == pd.Period("2021-01-02", freq="D")
    assert by_id["c"]["start"] == pd.Period("2020-12-25", freq="D")
    np.testing.assert_array_equal(by_id["a"]["target"], 10.0 + np.arange(1, 8))
    np.testing.assert_array_equal(by_id["b"]["target"], [22.0, np.nan, 24.0, 25.0, 26.0])
    np.testing.assert_array_equal(by_id["c"]["target"], 30.0 + np.arange(25, 32))
    assert all(e["target"].dtype == np.float32 for e in entries)


def test_given_frequencies_in_old_and_new_spellings_and_a_single_series():
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2020-01-31", periods=8, freq="ME"),
            "target": [1.0, 2.0, None, 4.0, 5.0, 6.0, 7.0, 8.0],
        }
    )
    for freq in (None, "M", "ME"):
        (entry,) = dataset_from_df(frame.drop(index=1), id_column=None, freq=freq)  # a missing month
        assert entry["start"] == pd.Period("2020-01", freq="M") and "item_id" not in entry
        np.testing.assert_array_equal(entry["target"], [1.0, np.nan, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0])
    hourly = pd.DataFrame({"id": [7, 7], "ts": ["2021-01-01 00:00", "2021-01-01 03:00"], "y": [1, 2]})
    (entry,) = dataset_from_df(hourly, id_column="id", timestamp_column="ts", target="y", freq="H")
    assert entry["item_id"] == 7 and entry["start"] == pd.Period("2021-01-01 00:00", freq="h")
    np.testing.assert_array_equal(entry["target"], [1.0, np.nan, np.nan, 2.0])


def frame_with(**changes) -> pd.DataFrame:
    frame = long_frame().sort_values(["item_id", "timestamp"]).reset_index(drop=True)
    for (row, column), value in changes.get("cells", {}).items():
        frame.loc[row, column] = value
    return frame.drop(columns=changes.get("drop", []))


def hourly_and_daily() -> pd.DataFrame:
    daily = frame_with()
    hourly = pd.DataFrame(
        {
            "item_id": "h",
            "timestamp": pd.date_range("2021-01-01", periods=5, freq="h").astype(str),
            "target": np.arange(5.0),
        }
    )
    return pd.concat([daily, hourly], ignore_index=True)


def duplicated() -> pd.DataFrame:
    frame = frame_with()
    return pd.concat([frame, frame.iloc[[9]]], ignore_index=True)  # row 9: item 'b', 2021-01-05


def all_nan_item() -> pd.DataFrame:
    frame = frame_with()
    frame.loc[frame["item_id"] == "b", "target"] = np.nan
    return frame


@pytest.mark.parametrize(
    "make, kwargs, expected",
    [
        (
            hourly_and_daily,
            {},
            r"do not share one frequency: item 'a', item 'b', item 'c' look 'D' but item 'h' looks 'h'",
        ),
        (duplicated, {}, r"item 'b': duplicate timestamp 2021-01-05 00:00:00 \(rows 9 and 18\)"),
        (lambda: frame_with(drop=["target"]), {}, r"no column 'target' \(target=\)"),
        (
            lambda: frame_with(),
            {"id_column": "series", "timestamp_column": "date"},
            r"no column 'series' \(id_column=\), 'date' \(timestamp_column=\)",
        ),
        (lambda: frame_with(cells={(8, "target"): "12,5"}), {}, r"item 'b': .*non-numeric value '12,5' in row 8"),
        (all_nan_item, {}, r"item 'b' has no observed target value"),
        (lambda: frame_with(), {"freq": "2D"}, r"item 'a': timestamp 2021-01-02 .* not lie on the '2D' grid"),
    ],
    ids=["frequency-disagreement", "duplicate", "missing-column", "missing-columns", "text", "all-nan", "off-grid"],
)
def test_bad_frames_are_one_clear_error(make, kwargs, expected):
    with pytest.raises(DataError, match=expected):
        dataset_from_df(make(), **kwargs)


# --------------------------------------------------------------------------- forecasts


@pytest.fixture(scope="module")
def lagllama():
    from lagllama_gluonts import load_predictor

    return load_predictor(None, prediction_length=H, num_parallel_samples=20)


def level_frame(freq: str, starts, length: int = 48) -> pd.DataFrame:
    """Items around 1000, 2000 ... (a sine on a level), each from its own start."""
    parts = []
    for k, start in enumerate(starts):
        times = pd.date_range(start, periods=length, freq=freq)
        values = 1000.0 * (k + 1) + 10 * np.sin(np.arange(length) / 3)
        parts.append(pd.DataFrame({"item_id": f"s{k}", "timestamp": times, "target": values}))
    return pd.concat(parts, ignore_index=True)


def check_forecast_table(table: pd.DataFrame, frame: pd.DataFrame, freq: str) -> None:
    ids = list(dict.fromkeys(frame["item_id"]))
    assert len(table) == len(ids) * H
    quantiles = [f"q{q:g}" for q in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)]
    assert list(table.columns) == ["item_id", "timestamp", "mean", "median", *quantiles]
    assert list(table["item_id"]) == [i for i in ids for _ in range(H)]
    values = table[quantiles].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()
    np.testing.assert_array_equal(table["median"], table["q0.5"])
    for item in ids:
        history = frame[frame["item_id"] == item]
        rows = table[table["item_id"] == item]
        expected = pd.date_range(history["timestamp"].max(), periods=H + 1, freq=freq)[1:]
        assert list(rows["timestamp"]) == list(expected)
        level = 1000.0 * (int(item[1:]) + 1)  # the data's own units: each item forecast near its level
        assert (rows["mean"] - level).abs().max() < 0.2 * level


def test_lagllama_forecasts_of_month_end_data_land_on_month_ends(lagllama):
    frame = level_frame("ME", ["2015-01-31", "2016-06-30", "2014-11-30"])
    torch.manual_seed(0)
    table = predict_df(lagllama, frame.sample(frac=1, random_state=1), progress=False)
    check_forecast_table(table, frame.sample(frac=1, random_state=1), "ME")
    assert table["timestamp"].dt.is_month_end.all()
    assert table.loc[table["item_id"] == "s1", "timestamp"].iloc[0] == pd.Timestamp("2020-06-30")


def test_predict_df_takes_other_column_names_levels_and_num_samples(lagllama):
    frame = level_frame("D", ["2021-01-01"]).rename(columns={"timestamp": "date", "target": "sales"})
    table = predict_df(
        lagllama,
        frame.drop(columns="item_id"),
        id_column=None,
        timestamp_column="date",
        target="sales",
        quantile_levels=[0.05, 0.95],
        num_samples=8,
        progress=False,
    )
    assert list(table.columns) == ["date", "mean", "median", "q0.05", "q0.95"] and len(table) == H
    assert table["date"].iloc[0] == pd.Timestamp("2021-02-18")
    assert (table["q0.05"] <= table["q0.95"]).all()


def test_an_informer_trained_briefly_forecasts_a_frame_the_same_way(tmp_path):
    from informer_gluonts import InformerEstimator
    from informer_gluonts import predict_df as informer_predict_df

    assert informer_predict_df is predict_df
    frame = level_frame("h", ["2021-01-01 00:00", "2021-01-02 05:00"], length=120)
    trainer = dict(
        max_epochs=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        default_root_dir=str(tmp_path),
    )
    estimator = InformerEstimator(
        freq="h",
        prediction_length=H,
        context_length=12,
        lags_seq=[1, 24],
        d_model=8,
        n_heads=1,
        d_ff=8,
        e_layers=1,
        batch_size=4,
        num_batches_per_epoch=3,
        num_parallel_samples=20,
        trainer_kwargs=trainer,
    )
    predictor = estimator.train(dataset_from_df(frame))
    torch.manual_seed(0)
    table = informer_predict_df(predictor, frame, progress=False)
    check_forecast_table(table, frame, "h")
    assert table.loc[table["item_id"] == "s1", "timestamp"].iloc[0] == pd.Timestamp("2021-01-07 05:00")


# --------------------------------------------------------------------------- streaming


class Alive:
    """Forecasts that count how many of them exist at once."""

    now = 0
    most = 0

    def __init__(self, prediction_length: int):
        self.prediction_length = prediction_length
        self.mean = np.arange(prediction_length, dtype=float)
        self.samples = np.zeros((1000, prediction_length))  # the bulk a real forecast carries
        Alive.now += 1
        Alive.most = max(Alive.most, Alive.now)

    def quantile(self, q):
        return self.mean + q

    def __del__(self):
        Alive.now -= 1


class StreamingPredictor:
    def __init__(self):
        self.produced = []  # how many forecasts existed each time the next one was asked for

    def predict(self, dataset, **kwargs):
        self.kwargs = kwargs
        for _ in dataset:
            self.produced.append(Alive.now)
            yield Alive(H)


def test_predict_df_consumes_forecasts_one_at_a_time():
    Alive.now = Alive.most = 0
    frame = level_frame("D", [f"2021-01-{d:02d}" for d in range(1, 29)], length=10)
    predictor = StreamingPredictor()
    table = predict_df(predictor, frame, quantile_levels=[0.5], progress=False)
    assert len(predictor.produced) == 28 and len(table) == 28 * H
    assert Alive.most <= 2 and max(predictor.produced) <= 1  # never more than the current forecast kept
    assert Alive.now == 0 and predictor.kwargs == {}  # num_samples passed on only when given
    np.testing.assert_array_equal(table["q0.5"], np.tile(np.arange(H) + 0.5, 28))


def test_a_predictor_that_drops_series_is_an_error():
    class Short(StreamingPredictor):
        def predict(self, dataset, **kwargs):
            yield from list(super().predict(dataset, **kwargs))[:-1]

    with pytest.raises(RuntimeError, match="returned 2 forecasts for 3 series"):
        predict_df(Short(), long_frame(), progress=False)


def test_both_packages_export_the_dataframe_functions():
    import informer_gluonts
    import lagllama_gluonts

    for package in (lagllama_gluonts, informer_gluonts):
        assert {"predict_df", "dataset_from_df"} <= set(package.__all__) <= set(dir(package))
        assert package.predict_df is predict_df and package.dataset_from_df is dataset_from_df


# --------------------------------------------------------------------------- column conventions


def nixtla(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={"item_id": "unique_id", "timestamp": "ds", "target": "y"})


def test_a_nixtla_frame_forecasts_like_the_same_data_in_chronos_names(lagllama):
    frame = level_frame("D", ["2021-01-01", "2021-01-09"])
    for ours, theirs in zip(dataset_from_df(frame), dataset_from_df(nixtla(frame))):
        assert ours["start"] == theirs["start"] and ours["item_id"] == theirs["item_id"]
        np.testing.assert_array_equal(ours["target"], theirs["target"])
    torch.manual_seed(0)
    expected = predict_df(lagllama, frame, progress=False)
    torch.manual_seed(0)
    table = predict_df(lagllama, nixtla(frame), progress=False)
    assert list(table.columns[:2]) == ["unique_id", "ds"]  # the input's own names come back
    pd.testing.assert_frame_equal(table, nixtla(expected))


def test_named_columns_win_over_the_guess():
    frame = frame_with().assign(y=-1.0, ds="not a time")  # both conventions: a guess would refuse
    entries = dataset_from_df(frame, id_column="item_id", timestamp_column="timestamp", target="target")
    assert [e["item_id"] for e in entries] == ["a", "b", "c"] and entries[0]["target"][0] == 11.0
    # one name given, the others guessed from the convention the rest of the frame shows
    sales = nixtla(frame_with()).assign(sales=lambda f: f["y"] + 1, y=np.nan)  # y must not be read
    (first, *_) = dataset_from_df(sales, target="sales")
    assert first["item_id"] == "a" and first["target"][0] == 12.0
    # id_column=None is a single series, as before; the other two are still guessed
    (entry,) = dataset_from_df(nixtla(frame_with()).query("unique_id == 'a'").drop(columns="unique_id"), id_column=None)
    assert "item_id" not in entry and len(entry["target"]) == 7


@pytest.mark.parametrize(
    "columns, expected",
    [
        (
            ["item_id", "timestamp", "target", "y"],
            r"^cannot guess the columns: the DataFrame has columns of both conventions, 'item_id', 'timestamp', "
            r"'target' \(Chronos/AutoGluon\) and 'y' \(Nixtla\); say which with id_column=, timestamp_column=, "
            r"target=$",
        ),
        (
            ["store", "date", "sales"],
            r"^cannot guess the columns: the DataFrame's columns \('store', 'date', 'sales'\) are neither "
            r"item_id/timestamp/target nor unique_id/ds/y; name them with id_column=, timestamp_column=, target=$",
        ),
        (
            ["ds", "y"],
            r"^the DataFrame has no column 'unique_id' \(id_column=\), which Nixtla's unique_id/ds/y has; its "
            r"columns are: 'ds', 'y'; name the column with id_column= \(id_column=None: the whole frame is one "
            r"series\)$",
        ),
    ],
    ids=["both-conventions", "neither", "nixtla-without-ids"],
)
def test_a_frame_the_guess_cannot_read_is_one_clear_error(lagllama, columns, expected):
    frame = pd.DataFrame(
        {name: ["2021-01-01"] * 3 if name in ("timestamp", "ds", "date") else [1, 1, 1] for name in columns}
    )
    for call in (dataset_from_df, lambda f: predict_df(lagllama, f, progress=False)):
        with pytest.raises(DataError, match=expected) as raised:
            call(frame)
        assert raised.value.field in ("id_column", "timestamp_column", "target")


@pytest.mark.parametrize(
    "columns",
    [
        ["item_id", "timestamp", "target"],
        ["unique_id", "ds", "y", "price"],
        ["item_id", "Date", "target"],
        ["unique_id", "y", "date", "ds"],
    ],
)
def test_the_command_line_and_the_api_guess_the_time_column_with_one_function(monkeypatch, columns):
    from lagllama_gluonts.common import columns as rules
    from lagllama_gluonts.common import files
    from lagllama_gluonts.common.dataframes import resolve_columns
    from lagllama_gluonts.common.tables import guess_time_column

    assert guess_time_column is files.guess_time_column
    frame = pd.DataFrame(columns=columns)
    cli, api = guess_time_column(columns), resolve_columns(frame).timestamp_column
    assert cli == api
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[0])
        return rules.guess_columns(*args, **kwargs)

    for module in ("files", "dataframes"):  # both go through the one set of rules
        monkeypatch.setattr(f"lagllama_gluonts.common.{module}.guess_columns", spy)
    assert (guess_time_column(columns), resolve_columns(frame).timestamp_column) == (cli, api)
    assert len(calls) == 2
