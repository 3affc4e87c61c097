"""Dates, real-world timestamps and degenerate tables, one line per case: each table is read
through the Python API (``dataset_from_df``/``read_table``), ``predict_df`` and both command
lines, and must give the right series or one clear error before any work."""

import re
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from gluonts.model.forecast import SampleForecast

from informer_gluonts.cli import main as informer_main
from lagllama_gluonts.cli import main as lagllama_main
from lagllama_gluonts.common import dataframes
from lagllama_gluonts.common.dataframes import dataset_from_df, predict_df, read_df
from lagllama_gluonts.common.errors import DataError
from lagllama_gluonts.common.tables import read_table

H = 2


class LastValue:
    """A predictor that repeats each series' last observed value: enough to see the grid."""

    prediction_length = H

    def predict(self, entries, **kwargs):
        for entry in entries:
            target = np.asarray(entry["target"], dtype=np.float64)
            last = target[~np.isnan(target)][-1]
            start = entry["start"] + len(target)
            yield SampleForecast(np.full((4, H), last), start_date=start, item_id=entry.get("item_id"))


def rows(stamps, values=None) -> str:
    values = range(1, len(stamps) + 1) if values is None else values
    return "ds,y\n" + "".join(f"{s},{v}\n" for s, v in zip(stamps, values))


DAY_FIRST = [f"{d:02d}/03/2021" for d in range(1, 21)]  # 13/03 tells: day-first
AMBIGUOUS = [f"{d:02d}/03/2021" for d in range(1, 11)]  # no number above 12
DST_HOURLY = [t.isoformat() for t in pd.date_range("2021-03-27 22:00", periods=8, freq="h", tz="Europe/Paris")]
DST_FALL = [t.isoformat() for t in pd.date_range("2021-10-31 00:00", periods=6, freq="h", tz="Europe/Paris")]
DST_DAILY = [t.isoformat() for t in pd.date_range("2021-03-24", periods=8, freq="D", tz="Europe/Paris")]
IRREGULAR = [str(pd.Timestamp("2021-01-01") + pd.Timedelta(minutes=m)) for m in (0, 4, 11, 15, 21, 26, 30, 36)]
TWICE = "store,ds,y\n" + "".join(f"{s},2021-01-{d:02d},{d}\n" for s in "abc" for d in (1, 2, 2, 3, 3, 4))
COMMA = "ds;y\n" + "".join(f"2021-01-{d:02d};{d},5\n" for d in range(1, 11))
SPARSE = rows(["2021-01-01", "2021-01-02", "2021-01-03", "2021-01-20"])

# (id, file text, read_table kwargs, CLI flags, expected): a dict of the first entry's start,
# length and first values, or the error's message (a regular expression) and field
CASES = [
    ("day-first-told", rows(DAY_FIRST), {}, [], dict(start="2021-03-01", length=20)),
    ("day-first-ambiguous", rows(AMBIGUOUS), {}, [], ("column 'ds'.* pass --date-format", "date_format")),
    ("day-first-format", rows(AMBIGUOUS), {"date_format": "%d/%m/%Y"}, ["--date-format", "%d/%m/%Y"],
     dict(start="2021-03-01", length=10)),
    ("month-first-format", rows(AMBIGUOUS), {"date_format": "%m/%d/%Y"}, ["--date-format", "%m/%d/%Y"],
     ("does not lie on the 'MS' grid|cannot infer", "freq")),
    ("format-mismatch", rows(DAY_FIRST), {"date_format": "%m/%d/%Y"}, ["--date-format", "%m/%d/%Y"],
     ("'13/03/2021' .* does not match --date-format", "date_format")),
    ("dst-spring-utc", rows(DST_HOURLY), {}, [], dict(start="2021-03-27 21:00", length=8)),
    ("dst-fall-utc", rows(DST_FALL), {}, [], dict(start="2021-10-30 22:00", length=6)),
    ("dst-hourly-local", rows(DST_HOURLY), {"timezone": "local"}, ["--timezone", "local"],
     ("offset changes .* use --timezone utc|offset changes", "timezone")),
    ("dst-daily-local", rows(DST_DAILY), {"timezone": "local"}, ["--timezone", "local"],
     dict(start="2021-03-24", length=8)),
    ("dst-daily-utc", rows(DST_DAILY), {}, [], ("daylight saving.*--timezone local|--timezone", "freq")),
    ("irregular-advice", rows(IRREGULAR), {"freq": "5min"}, ["--freq", "5min"],
     ("irregular times go on a grid with --resample FREQ", "freq")),
    ("irregular-resampled", rows(IRREGULAR), {"resample": "10min"}, ["--resample", "10min"],
     dict(start="2021-01-01 00:00", length=4, values=[1.5, 3.5, 5.5, 7.5])),
    ("duplicates-all-at-once", TWICE, {"item_column": "store"}, ["--item-column", "store"],
     ("6 duplicate rows in 3 item\\(s\\): item 'a' \\(2\\), item 'b' \\(2\\), item 'c' \\(2\\)", "time_column")),
    ("duplicates-resampled", TWICE, {"item_column": "store", "resample": "D"},
     ["--item-column", "store", "--resample", "D"], dict(start="2021-01-01", length=4, values=[1, 2, 3, 4])),
    ("decimal-comma", COMMA, {"decimal": ","}, ["--decimal", ","], dict(start="2021-01-01", values=[1.5, 2.5])),
    ("decimal-without-option", COMMA, {}, [], ("non-numeric value '1,5'", "targets")),
    ("decimal-is-separator", rows(DAY_FIRST), {"decimal": ",", "sep": ","}, ["--decimal", ",", "--sep", ","],
     ("give one mark other than the separator", "decimal")),
    ("unknown-frequency", rows(DAY_FIRST), {"freq": "foo"}, ["--freq", "foo"],
     ("unknown frequency 'foo'.*'h', 'D'", "freq")),
    ("unknown-resample", rows(DAY_FIRST), {"resample": "foo"}, ["--resample", "foo"],
     ("unknown frequency 'foo'", "freq")),
    ("mostly-missing", SPARSE, {"freq": "D"}, ["--freq", "D"], dict(start="2021-01-01", length=20, filled=16)),
]  # fmt: skip


def api_words(pattern: str) -> str:
    """A CLI message's pattern in the API's words: ``--date-format`` is ``date_format=``."""
    return re.sub(r"--([a-z-]+)", lambda m: m.group(1).replace("-", "_") + "=", pattern)


def read(tmp_path, text, kwargs):
    path = tmp_path / "data.csv"
    path.write_text(text)
    kwargs = dict(kwargs)
    return read_table(path, ["y"], kwargs.pop("item_column", None), sep=kwargs.pop("sep", None), **kwargs)


def check_entry(entry, series, expected):
    freq = series.freq
    assert entry["start"] == pd.Period(expected["start"], freq=dataframes.period_frequency(freq))
    if "length" in expected:
        assert len(entry["target"]) == expected["length"]
    if "values" in expected:
        np.testing.assert_allclose(entry["target"][: len(expected["values"])], expected["values"])
    if "filled" in expected:
        assert int(series.filled.sum()) == expected["filled"]


@pytest.mark.parametrize("text, kwargs, flags, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_read_table(tmp_path, text, kwargs, flags, expected):
    if isinstance(expected, tuple):
        with pytest.raises(DataError) as caught:
            read(tmp_path, text, kwargs)
        assert re.search(api_words(expected[0]), str(caught.value))
        assert caught.value.field in (expected[1], "time_column" if expected[1] == "timestamp_column" else None)
        return
    table = read(tmp_path, text, kwargs)
    check_entry(table.entries[0], table.series, expected)


def frame_of(text, kwargs) -> pd.DataFrame:
    sep = ";" if text.startswith("ds;") else ","
    frame = pd.read_csv(__import__("io").StringIO(text), sep=sep, dtype=str)
    return frame if "item_column" in kwargs else frame.assign(item_id="s")


API_KWARGS = ("date_format", "timezone", "resample", "freq")


@pytest.mark.parametrize("text, kwargs, flags, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_predict_df(text, kwargs, flags, expected):
    """The same frame handed to ``predict_df`` (text cells, as read): same answer; a decimal
    comma is a file option, so there the frame's text is refused as text."""
    if "decimal" in kwargs or "sep" in kwargs:
        pytest.skip("decimal= is read_table's (a file's) option")
    frame = frame_of(text, kwargs)
    api = {k: v for k, v in kwargs.items() if k in API_KWARGS}
    ids = "store" if "item_column" in kwargs else "item_id"
    call = lambda: predict_df(LastValue(), frame, id_column=ids, timestamp_column="ds", target="y", **api)  # noqa: E731
    if isinstance(expected, tuple):
        with pytest.raises(DataError) as caught:
            call()
        assert re.search(api_words(expected[0]), str(caught.value))
        return
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        forecasts = call()
    assert len(forecasts) == H * frame[ids].nunique()
    series = read_df(frame, ids, "ds", "y", **api)
    check_entry(series.entries[0], series, expected)
    assert ("filled" in expected) == any("mostly missing" in str(w.message) for w in seen)


CLIS = {"lagllama": lagllama_main, "informer": informer_main}


@pytest.mark.parametrize("cli", CLIS)
@pytest.mark.parametrize(
    "text, flags, expected", [(c[1], c[3], c[4]) for c in CASES if isinstance(c[4], tuple)],
    ids=[c[0] for c in CASES if isinstance(c[4], tuple)],
)  # fmt: skip
def test_cli_refuses_with_one_line(tmp_path, capsys, cli, text, flags, expected):
    path = tmp_path / "data.csv"
    path.write_text(text)
    argv = ["forecast", "--csv", str(path), "--target", "y", "--prediction-length", str(H)]
    code = CLIS[cli]([*argv, "--out", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(expected[0], err), err


def test_the_cli_prints_the_steps_filled_as_missing(tmp_path, capsys):
    from argparse import Namespace

    from lagllama_gluonts.common.cli import read_table_args

    path = tmp_path / "data.csv"
    path.write_text(SPARSE)
    args = Namespace(csv=path, target=["y"], item_column=None, time_column=None, freq="D", sep=None)
    read_table_args(args)
    out = capsys.readouterr().out
    assert "filled 16 of 20 steps as missing" in out and "1 series mostly missing ('y')" in out


# --------------------------------------------------------------------------- degenerate tables


def one_step_items(n: int) -> pd.DataFrame:
    return pd.DataFrame({"item_id": np.arange(n), "timestamp": pd.Timestamp("2021-01-01"), "target": 1.0})


def test_one_step_items_are_refused_before_any_per_item_object(monkeypatch):
    """No item has the values a forecast needs: refused from counts, no Period built."""
    monkeypatch.setattr(pd.DatetimeIndex, "to_period", lambda *a, **k: pytest.fail("built per-item periods"))
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"every item \(of 100000\) has fewer than 8 observed values"):
        read_df(one_step_items(100_000), freq="D", min_observed=8)
    assert time.perf_counter() - started >= 0  # the seconds are in the report, not a limit here


def test_a_long_table_of_one_step_items_is_refused_by_the_cli(tmp_path, capsys):
    path = tmp_path / "many.csv"
    one_step_items(1000).to_csv(path, index=False)
    argv = ["forecast", "--csv", str(path), "--target", "target", "--item-column", "item_id", "--freq", "D"]
    code = lagllama_main([*argv, "--prediction-length", str(H), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "every item (of 1000) has fewer than 8 observed values" in err


def test_predict_df_ray_on_an_empty_frame_answers_as_predict_df():
    pytest.importorskip("ray")
    from lagllama_gluonts.common.distributed import predict_df_ray

    empty = one_step_items(0)
    with pytest.raises(DataError, match="the DataFrame has no rows"):
        predict_df(LastValue(), empty)
    with pytest.raises(DataError, match="the DataFrame has no rows"):
        predict_df_ray(LastValue(), empty)


def test_dataset_from_df_warns_when_an_item_is_mostly_missing():
    frame = pd.DataFrame({"item_id": "a", "timestamp": pd.to_datetime(["2021-01-01", "2021-01-02", "2021-01-10"]),
                          "target": [1.0, 2.0, 3.0]})  # fmt: skip
    with pytest.warns(UserWarning, match="1 item\\(s\\) mostly missing on the 'D' grid \\('a'\\)"):
        entries = dataset_from_df(frame, freq="D")
    assert len(entries[0]["target"]) == 10
