"""The one table reader: frequencies old and new, separators, gaps, and clear refusals."""

import re

import numpy as np
import pandas as pd
import pytest

from lagllama_gluonts.common.frequency import infer_frequency, period_frequency
from lagllama_gluonts.common.tables import load_table, read_series_csv, read_table, sniff_separator
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
    "text, columns, kwargs, message, field",
    [
        (
            "ds,y\n2021-01-01,1\n2021-01-01,2\n2021-01-02,3\n",
            ["y"],
            {},
            "data.csv: item 'y': duplicate timestamp 2021-01-01 00:00:00 (data rows 1 and 2)",
            "time_column",
        ),
        (
            "ds,y\n2021-01-01,1\n2021-01-02,x\n2021-01-03,3\n",
            ["y"],
            {},
            "data.csv: column 'y' has a non-numeric value 'x' in data row 2",
            "targets",
        ),
        (
            "ds,y,x\n2021-01-01,1,1\n2021-01-02,2,x\n",
            ["y", "x"],
            {},
            "data.csv: covariate column 'x' has a non-numeric or infinite value 'x' in data row 2",
            "covariates",
        ),
        ("ds,y\n2021-01-01,1\nsoon,2\n", ["y"], {}, "cannot parse the timestamps in column 'ds'", "time_column"),
        (
            "ds,y\n2021-01-01,1\n,2\n2021-01-03,3\n",
            ["y"],
            {},
            "missing timestamp in column 'ds', data row 2",
            "time_column",
        ),
        (
            "ds,y\n2021-01-01,1\n2021-01-02,2\n",
            ["z"],
            {},
            "data.csv: no target column 'z' (columns=); the table has: ds, y",
            "targets",
        ),
        (
            "ds,y\n2021-01-01,1\n2021-01-02,2\n",
            ["y", "z"],
            {},
            "data.csv: no covariate column 'z'; the table has: ds, y",
            "covariates",
        ),
        (
            "ds,y\n2021-01-01,1\n2021-01-02,2\n",
            ["y"],
            {"time_column": "when"},
            "data.csv: no timestamp column 'when' (--time-column); the table has: ds, y",
            "time_column",
        ),
        (
            "ds,y,x\n2021-01-01,,1\n2021-01-02,,2\n2021-01-03,,3\n",
            ["y", "x"],
            {},
            "data.csv: target column 'y' has no values",
            "targets",
        ),
        (
            "ds,y\n2021-01-01,1\n2021-01-03,2\n2021-01-04,2\n2021-01-09,2\n",
            ["y"],
            {"freq": "2D"},
            "timestamp 2021-01-04 00:00:00 does not lie on the '2D' grid of the item (starting at its first "
            "timestamp): if the data have another step, pass it with --freq; readings at irregular times go on "
            "a grid with resample= FREQ",
            "freq",
        ),
        (  # a row whose values are all blank is on the grid too
            "ds,y\n2021-01-01,1\n2021-01-03,2\n2021-01-04,\n2021-01-05,2\n",
            ["y"],
            {"freq": "2D"},
            "timestamp 2021-01-04 00:00:00 does not lie on the '2D' grid",
            "freq",
        ),
        (
            "ds,y\n2021-01-01 00:00,1\n2021-01-01 01:00,2\n2021-01-01 05:00,3\n2021-01-01 06:30,4\n",
            ["y"],
            {},
            "data.csv: item 'y': cannot infer a regular frequency from the timestamps (irregular steps?); pass --freq",
            "freq",
        ),
        (
            "ds,y\n2021-01-01,1\n2021-01-02,2\n",
            ["y"],
            {"freq": "fortnightly"},
            "data.csv: unknown frequency 'fortnightly'",
            "freq",
        ),
        ("", ["y"], {}, "is empty", None),
        ("ds,y\n", ["y"], {}, "data.csv has no data rows", None),
    ],
)
def test_bad_tables_are_one_clear_error(tmp_path, text, columns, kwargs, message, field):
    with pytest.raises(DataError, match=re.escape(message)) as caught:
        load_table(write(tmp_path, text), columns, **kwargs)
    assert caught.value.field == field


def test_errors_quote_the_callers_options(tmp_path):
    path = write(tmp_path, "ds,y\n2021-01-01 00:00,1\n2021-01-01 01:00,2\n2021-01-01 05:00,3\n2021-01-01 06:30,4\n")
    with pytest.raises(DataError, match="pass --frequency, missing steps") as caught:
        load_table(path, ["y"], freq_option="--frequency")
    assert caught.value.field == "freq"
    with pytest.raises(DataError, match=re.escape("no timestamp column 'when' (--time); the table has")):
        load_table(path, ["y"], time_column="when", time_option="--time")


def test_the_grid_runs_from_the_files_first_to_its_last_row(tmp_path):
    # the target starts late and ends early, a covariate is blank throughout, a row is missing
    rows = [f"2021-01-{d:02d},{d if 3 <= d <= 8 else ''},{d * 2},\n" for d in range(1, 12) if d != 5]
    path = write(tmp_path, "ds,y,x,blank\n" + "".join(rows))
    table = load_table(path, ["y", "blank", "x", "y"])
    assert list(table.frame.columns) == ["y", "blank", "x"] and (table.frame.dtypes == np.float64).all()
    assert table.frame.index[0] == pd.Timestamp("2021-01-01") and len(table.frame) == 11 and table.freq == "D"
    np.testing.assert_array_equal(table.frame["y"], [np.nan, np.nan, 3, 4, np.nan, 6, 7, 8, np.nan, np.nan, np.nan])
    assert table.frame["x"].iloc[-1] == 22 and np.isnan(table.frame["x"].iloc[4]) and table.frame["blank"].isna().all()
    assert table.entry("y")["start"] == pd.Period("2021-01-01", freq="D")
    # the same file through read_table: the target's entry from its first to its last value
    (entry,) = read_table(path, ["y"], covariates=["x"]).entries
    assert entry["start"] == pd.Period("2021-01-03", freq="D") and len(entry["target"]) == 6


def test_a_wide_tables_frequency_comes_from_all_its_rows(tmp_path):
    # the target is observed every other day, the file has a row each day
    path = write(tmp_path, "ds,y,x\n" + "".join(f"2021-01-{d:02d},{d if d % 2 else ''},{d}\n" for d in range(1, 12)))
    table = read_table(path, ["y"], covariates=["x"])
    assert table.freq == "D" and len(table.entries[0]["target"]) == 11
    assert load_table(path, ["y", "x"]).frame.shape == (11, 2)


def test_rows_empty_in_every_cell_are_no_rows(tmp_path):
    # a spreadsheet export's trailing ",,," rows, and one in the middle: dropped, not refused,
    # and the data rows keep their numbers in errors
    rows = [f"2021-01-{d:02d},{d},{d * 2}\n" for d in range(1, 6)]
    path = write(tmp_path, "ds,y,x\n" + "".join(rows[:2]) + ",,\n" + "".join(rows[2:]) + ",,\n,,\n")
    (entry,) = read_table(path, ["y"], covariates=["x"]).entries
    np.testing.assert_array_equal(entry["target"], [1, 2, 3, 4, 5])
    assert load_table(path, ["y", "x"]).frame.shape == (5, 2)
    (entry,) = read_table(path, ["y"], item_column=None).entries
    assert len(entry["target"]) == 5
    bad = write(tmp_path, "ds,y\n2021-01-01,1\n,\n2021-01-02,x\n")
    with pytest.raises(DataError, match="data row 3"):
        read_table(bad, ["y"])
    empty = write(tmp_path, "ds,y\n,\n,\n")
    with pytest.raises(DataError, match="has no data rows"):
        read_table(empty, ["y"])


def test_a_long_table_is_not_one_grid(tmp_path):
    path = write(tmp_path, "id,ds,y\n" + "".join(f"{i},2021-01-{d:02d},{d}\n" for i in "ab" for d in range(1, 6)))
    with pytest.raises(ValueError, match="only a wide table"):
        read_table(path, ["y"], item_column="id").regular()


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
