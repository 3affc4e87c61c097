"""The one table reader: frequencies old and new, separators, gaps, and clear refusals."""

import numpy as np
import pandas as pd
import pytest

from lagllama_gluonts.common.frequency import infer_frequency, period_frequency
from lagllama_gluonts.common.tables import load_table, read_series_csv, sniff_separator
from lagllama_gluonts.common.validation import DataError

from conftest import CORPUS


@pytest.mark.parametrize(
    "alias, period",
    [
        ("h", "h"),
        ("H", "h"),
        ("min", "min"),
        ("15min", "15min"),
        ("s", "s"),
        ("D", "D"),
        ("B", "B"),
        ("W", "W-SUN"),
        ("W-MON", "W-MON"),
        ("ME", "M"),
        ("M", "M"),
        ("MS", "M"),
        ("BMS", "M"),
        ("2MS", "2M"),
        ("QE", "Q-DEC"),
        ("QS", "Q-DEC"),
        ("QS-JAN", "Q-DEC"),
        ("QE-NOV", "Q-NOV"),
        ("YE", "Y-DEC"),
        ("YS", "Y-DEC"),
        ("YS-JUL", "Y-JUN"),
    ],
)
def test_every_alias_maps_to_a_period_frequency(alias, period):
    assert period_frequency(alias) == period
    pd.Period("2021-01-01", freq=period_frequency(alias))  # usable as a GluonTS start


@pytest.mark.parametrize("freq", ["ME", "MS", "QE-DEC", "YS-JAN", "B", "W-SUN", "h", "30min"])
def test_inference_survives_missing_steps(freq):
    index = pd.date_range("2001-01-01", periods=60, freq=freq)
    gappy = index.delete([7, 8, 20, 41])
    assert pd.tseries.frequencies.to_offset(infer_frequency(gappy)) == pd.tseries.frequencies.to_offset(freq)


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_separators_are_sniffed(tmp_path, sep):
    rows = [f"2021-01-{d:02d}{sep}{d}{sep}{d * 2}" for d in range(1, 11)]
    path = write(tmp_path, "\n".join([f"date{sep}y{sep}x", *rows]) + "\n")
    assert sniff_separator(path) == sep
    table = load_table(path, ["y", "x"])
    assert table.freq == "D" and table.frame["y"].tolist() == list(range(1, 11))


def test_month_end_data_continue_on_month_ends(tmp_path):
    dates = pd.date_range("2020-01-31", periods=14, freq="ME")
    path = write(tmp_path, "month,sales\n" + "".join(f"{d.date()},{i}\n" for i, d in enumerate(dates)))
    table = load_table(path, ["sales"])
    assert table.period_freq == "M"
    assert table.entry("sales")["start"] == pd.Period("2020-01", freq="M")
    assert list(table.future_timestamps(3)) == list(pd.date_range("2021-03-31", periods=3, freq="ME"))


def test_gaps_become_missing_unsorted_rows_are_sorted_time_zones_dropped(tmp_path):
    dates = pd.date_range("2021-01-01", periods=10, freq="h", tz="Europe/Paris")
    rows = [(d, float(i)) for i, d in enumerate(dates) if i != 4]
    rows.reverse()
    path = write(tmp_path, "timestamp,y\n" + "".join(f"{d.isoformat()},{v}\n" for d, v in rows))
    table = load_table(path, ["y"])
    assert table.freq == "h" and len(table.frame) == 10
    assert np.isnan(table.frame["y"].iloc[4]) and table.frame["y"].iloc[9] == 9.0
    assert table.frame.index.tz is None


def test_float64_values_are_kept_until_the_entry(tmp_path):
    path = write(tmp_path, "ds,y\n" + "".join(f"2021-01-{d:02d},{1e-30 * d}\n" for d in range(1, 9)))
    table = load_table(path, ["y"])
    assert table.frame["y"].dtype == np.float64
    entry = table.entry("y")
    assert entry["target"].dtype == np.float32 and entry["target"][0] == pytest.approx(1e-30, rel=1e-6)


@pytest.mark.parametrize(
    "text, columns, kwargs, message",
    [
        ("ds,y\n2021-01-01,1\n2021-01-01,2\n2021-01-02,3\n", ["y"], {}, "duplicate timestamp 2021-01-01"),
        ("ds,y\n2021-01-01,1\n2021-01-02,x\n2021-01-03,3\n", ["y"], {}, "non-numeric values, e.g. 'x' in data row 2"),
        ("ds,y\n2021-01-01,1\nsoon,2\n", ["y"], {}, "cannot parse the timestamps"),
        ("ds,y\n2021-01-01,1\n2021-01-02,2\n", ["z"], {}, "unknown value column 'z'"),
        ("ds,y\n2021-01-01,1\n2021-01-02,2\n", ["y"], {"time_column": "when"}, "no timestamp column 'when'"),
        ("ds,y\n2021-01-01,\n2021-01-02,\n2021-01-03,\n", ["y"], {}, "has no values"),
        (
            "ds,y\n2021-01-01,1\n2021-01-03,2\n2021-01-04,2\n2021-01-09,2\n",
            ["y"],
            {"freq": "2D"},
            "does not lie on the '2D' grid",
        ),
        (
            "ds,y\n2021-01-01 00:00,1\n2021-01-01 01:00,2\n2021-01-01 05:00,3\n2021-01-01 06:30,4\n",
            ["y"],
            {},
            "cannot infer a regular frequency",
        ),
        ("ds,y\n2021-01-01,1\n2021-01-02,2\n", ["y"], {"freq": "fortnightly"}, "unknown frequency 'fortnightly'"),
        ("", ["y"], {}, "is empty"),
    ],
)
def test_bad_tables_are_one_clear_error(tmp_path, text, columns, kwargs, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_table(write(tmp_path, text), columns, **kwargs)


def test_a_directory_or_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        load_table(tmp_path, ["y"])
    with pytest.raises(DataError, match="not found"):
        load_table(tmp_path / "nope.csv", ["y"])


@pytest.mark.parametrize(
    "name, freq", [("retail_sales.csv", "MS"), ("elecdemand_dataset.csv", "30min"), ("births_us.csv", "D")]
)
def test_corpus_files_read_through_the_same_reader(name, freq):
    entry = read_series_csv(CORPUS / name)
    assert entry["item_id"] == name[:-4]
    assert entry["start"].freqstr == period_frequency(freq)
    assert entry["target"].dtype == np.float32 and np.isfinite(entry["target"]).any()
