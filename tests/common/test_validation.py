"""Input checks both models run first: valid forms normalised, bad entries named."""

import datetime

import numpy as np
import pandas as pd
import pytest

from lagllama_gluonts.common.validation import DataError, ValidateSeries, check_dataset, check_entry, check_positive

START = pd.Period("2021-01-01", freq="h")


@pytest.mark.parametrize(
    "entry, freq",
    [
        ({"start": START, "target": np.arange(5, dtype=np.float64)}, None),
        ({"start": START, "target": [0, 1, 2, 3, 4]}, None),
        ({"start": START, "target": np.arange(5, dtype=np.int64)}, None),
        ({"start": pd.Timestamp("2021-01-01"), "target": [0.0, 1, 2, 3, 4]}, "h"),
        ({"start": "2021-01-01 00:00", "target": [0.0, 1, 2, 3, 4]}, "h"),
        ({"start": datetime.datetime(2021, 1, 1), "target": [0.0, 1, 2, 3, 4]}, "H"),
        ({"start": "2021-01-31", "target": [0.0, 1, 2, 3, 4]}, "ME"),
    ],
)
def test_valid_forms_are_normalised(entry, freq):
    checked = check_entry(entry, freq=freq)
    assert checked["target"].dtype == np.float32 and checked["target"].tolist() == [0, 1, 2, 3, 4]
    assert isinstance(checked["start"], pd.Period)
    assert checked["start"].to_timestamp() == pd.Timestamp("2021-01-01")
    assert entry["target"] is not checked["target"] or isinstance(entry["target"], np.ndarray)


def series(target, **extra):
    return {"start": START, "target": target, "item_id": "shop-7", **extra}


@pytest.mark.parametrize(
    "entry, kwargs, message",
    [
        ({"start": START}, {}, "has no 'target' field"),
        (series(["a", "b"]), {}, "non-numeric"),
        (series([]), {}, r"empty \(length 0\)"),
        (series([np.nan, np.nan, np.nan]), {}, r"no observed value \(all 3 values are NaN\)"),
        (series([1.0, 2.0, np.inf, 4.0]), {}, "infinite value at position 2"),
        (series([1.0, -np.inf]), {}, "infinite value at position 1"),
        (series([1.0, 1e38]), {}, "beyond what float32"),
        (series(np.ones((2, 5))), {}, r"shape \(time,\), got shape \(2, 5\)"),
        (series(np.ones(5)), {"target_dim": 2}, r"shape \(2, time\)"),
        (series(np.ones((3, 5))), {"target_dim": 2}, "has 3 variables, the model expects 2"),
        ({"start": pd.Timestamp("2021-01-01"), "target": [1.0]}, {}, "carries no frequency"),
        ({"start": 5, "target": [1.0]}, {}, "must be a pandas Period"),
        ({"start": "not a date", "target": [1.0]}, {"freq": "D"}, "cannot read 'start'"),
        ([1, 2, 3], {}, "must be a dict"),
    ],
)
def test_bad_entries_name_the_item_the_field_and_the_problem(entry, kwargs, message):
    with pytest.raises(DataError, match=message) as error:
        check_entry(entry, index=3, **kwargs)
    assert str(error.value).startswith("series 3")
    if isinstance(entry, dict) and "item_id" in entry:
        assert "item_id='shop-7'" in str(error.value)


def test_values_near_1e30_are_valid():
    assert check_entry(series([1e30, 2e30, 3e30]))["target"].max() == pytest.approx(3e30, rel=1e-6)


def test_dataset_checks():
    with pytest.raises(DataError, match="the training dataset is empty"):
        check_dataset([], "training")
    with pytest.raises(DataError, match="no training dataset given"):
        check_dataset(None, "training")
    with pytest.raises(DataError, match="has 7 or more time steps .the longest has 4"):
        check_dataset([series([1.0] * 4)], "training", min_length=7)
    with pytest.raises(DataError, match="series 1"):
        check_dataset([series([1.0]), series([np.nan])])
    assert check_dataset([series([1.0] * 8), series([2.0] * 3)], min_length=7) == 2


def test_validate_series_runs_at_prediction_too():
    step = ValidateSeries(freq="h")
    out = list(step.apply([{"start": "2021-01-01", "target": [1, 2, 3]}], is_train=False))
    assert out[0]["target"].dtype == np.float32
    with pytest.raises(DataError, match="infinite"):
        list(step.apply([series([1.0, np.inf])], is_train=False))


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "3"])
def test_check_positive_refuses(value):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        check_positive(batch_size=value)


def test_check_positive_accepts_none_and_numpy_ints():
    check_positive(a=None, b=np.int64(3), c=1)
