"""``zero-shot --csv FILE --item-column COL``: every series of a long table (one row per series
and time step) forecast on its own grid, and bad long input as one line and exit status 2."""

import numpy as np
import pandas as pd
import pytest

from lagllama_gluonts.cli import main
from lagllama_gluonts.common.validation import DataError

from conftest import PNG_MAGIC, QUANTILE_COLUMNS

# item: (first timestamp, length) -- different starts and lengths
ITEMS = {"north": ("2015-01-31", 40), "south": ("2016-06-30", 25), "east": ("2014-03-31", 33)}


def long_frame(freq: str, time_column: str = "timestamp", starts=None) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = []
    for k, (item, (start, length)) in enumerate(ITEMS.items()):
        if starts is not None:
            start = starts[item]
        times = pd.date_range(start, periods=length, freq=freq)
        level = 100.0 * (k + 1)
        values = level + 10 * np.sin(np.arange(length) * 2 * np.pi / 12) + rng.normal(0, 1, length)
        parts.append(pd.DataFrame({"store": item, time_column: times, "sales": values}))
    # rows shuffled: the reader sorts them
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=0)


def last_timestamps(frame: pd.DataFrame, time_column: str) -> dict:
    return pd.to_datetime(frame[time_column]).groupby(frame["store"]).max().to_dict()


@pytest.mark.parametrize(
    "freq, time_column, starts",
    [
        ("ME", "timestamp", None),
        ("h", "ds", {"north": "2021-01-01 00:00", "south": "2021-01-02 07:00", "east": "2020-12-30 13:00"}),
    ],
)
def test_long_csv_forecasts_every_item_on_its_own_grid(tmp_path, capsys, freq, time_column, starts):
    frame = long_frame(freq, time_column, starts)
    csv = tmp_path / "long.csv"
    frame.to_csv(csv, index=False)
    horizon = 5
    out = tmp_path / "out"
    code = main(
        [
            "zero-shot",
            "--csv",
            str(csv),
            "--item-column",
            "store",
            "--target",
            "sales",
            "--prediction-length",
            str(horizon),
            "--num-samples",
            "20",
            "--context-length",
            "32",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "forecast.csv", parse_dates=[time_column])
    assert list(table.columns) == ["store", time_column, "mean", "median", *QUANTILE_COLUMNS]
    assert len(table) == len(ITEMS) * horizon
    # items in the order of their first row in the file
    assert list(table["store"].drop_duplicates()) == list(frame["store"].drop_duplicates())
    for item, last in last_timestamps(frame, time_column).items():
        mine = table[table["store"] == item]
        expected = pd.date_range(last, periods=horizon + 1, freq=freq)[1:]
        assert list(mine[time_column]) == list(expected)
    values = table[QUANTILE_COLUMNS].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()
    np.testing.assert_allclose(table["median"], table["q0.5"])
    assert (out / "forecast.png").read_bytes()[:8] == PNG_MAGIC
    assert "forecast.csv" in capsys.readouterr().out


def test_plot_items_draws_at_most_max_items(tmp_path):
    from lagllama_gluonts.common.plots import plot_items

    steps = pd.date_range("2020-01-31", periods=3, freq="ME")
    table = pd.DataFrame(
        {
            "id": np.repeat(list("abcdef"), 3),
            "ts": np.tile(steps, 6),
            "mean": 1.0,
            "median": 1.0,
            "q0.1": 0.5,
            "q0.9": 1.5,
        }
    )
    history = {k: pd.Series(np.ones(6), index=pd.date_range("2019-07-31", periods=6, freq="ME")) for k in "abcdef"}
    path = plot_items(history, table, tmp_path / "items.png", "six items", max_items=4)
    assert path.read_bytes()[:8] == PNG_MAGIC


LONG_OK = "store,ds,sales\n" + "".join(f"{s},2020-01-{d:02d},{d}\n" for s in "ab" for d in range(1, 21))


@pytest.mark.parametrize(
    "text, options, message",
    [
        (LONG_OK, ["--item-column", "shop"], "no item column 'shop' (--item-column); the table has: store, ds, sales"),
        (LONG_OK + "a,2020-01-05,7\n", ["--item-column", "store"], "duplicate timestamp"),
        (LONG_OK, ["--item-column", "store", "--target", "amount"], "no target column 'amount'"),
        (LONG_OK, ["--item-column", "ds", "--time-column", "ds"], "also the timestamp column"),
        (
            "store,ds,sales\na,2020-01-01,1\na,2020-01-02,x\n",
            ["--item-column", "store", "--freq", "D"],
            "non-numeric value 'x'",
        ),
    ],
)
def test_bad_long_input_is_one_line_and_exit_2(tmp_path, capsys, text, options, message):
    csv = tmp_path / "in.csv"
    csv.write_text(text)
    code = main(
        [
            "zero-shot",
            "--csv",
            str(csv),
            "--target",
            "sales",
            "--prediction-length",
            "3",
            "--out",
            str(tmp_path / "o"),
            *options,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("lagllama-gluonts: error:") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "forecast.csv").exists()


def test_missing_long_file_and_item_column_without_csv(tmp_path, capsys):
    assert (
        main(
            [
                "zero-shot",
                "--csv",
                str(tmp_path / "nope.csv"),
                "--item-column",
                "store",
                "--target",
                "y",
                "--prediction-length",
                "3",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("lagllama-gluonts: error: table file not found") and len(err.strip().splitlines()) == 1
    assert (
        main(["zero-shot", "--dataset", "airpassengers", "--item-column", "store", "--out", str(tmp_path / "o")]) == 2
    )
    err = capsys.readouterr().err
    assert "--item-column" in err and "--csv" in err and len(err.strip().splitlines()) == 1


def test_parquet_without_pyarrow_is_one_line(tmp_path, monkeypatch):
    import builtins

    from lagllama_gluonts.common.tables import read_frame

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError("no pyarrow here")
        return real_import(name, *args, **kwargs)

    path = tmp_path / "long.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(DataError, match="pip install pyarrow"):
        read_frame(path)


def test_long_parquet_forecasts_every_item(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    frame = long_frame("ME")
    path = tmp_path / "long.parquet"
    frame.to_parquet(path, index=False)
    out = tmp_path / "out"
    code = main(
        [
            "zero-shot",
            "--csv",
            str(path),
            "--item-column",
            "store",
            "--target",
            "sales",
            "--prediction-length",
            "4",
            "--num-samples",
            "10",
            "--context-length",
            "32",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out / "forecast.csv")
    assert len(table) == len(ITEMS) * 4 and list(table.columns)[:2] == ["store", "timestamp"]
