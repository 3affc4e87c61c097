"""Tests for offline materialization of GluonTS repository datasets."""

import socket
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gluonts.dataset.repository import datasets as gluonts_datasets

from lagllama_gluonts.common import datasets
from lagllama_gluonts.common.datasets import (
    DEFAULT_MIRROR,
    MirrorFileMissing,
    NetworkAccessBlocked,
    get_dataset,
    materialize_dataset,
    mirror_path,
    redirect_downloads,
)

GH_RAW = "raw.githubusercontent.com"
M4 = "github.com/M4Competition/M4-methods/raw/master/Dataset"


def raw(relative: str) -> Path:
    return DEFAULT_MIRROR / relative


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    # One cache for the module so each dataset is generated once.
    return tmp_path_factory.mktemp("gluonts_cache")


def check_split(ds, freq, prediction_length, n_train, n_test):
    assert ds.metadata.freq == freq
    assert ds.metadata.prediction_length == prediction_length
    train, test = list(ds.train), list(ds.test)
    assert len(train) == n_train
    assert len(test) == n_test
    return train, test


def test_ett_small_1h(cache):
    ds = get_dataset("ett_small_1h", path=cache)
    train, test = check_split(ds, "1h", 24, 14, 14)

    df = pd.read_csv(raw(f"{GH_RAW}/zhouhaoyi/ETDataset/main/ETT-small/ETTh1.csv"))
    # Items are the 7 columns of region 1, then those of region 2.
    assert train[0]["item_id"] == "HUFL_0"
    assert test[7]["item_id"] == "HUFL_1"
    assert len(test[0]["target"]) == len(df) == 17420
    assert len(train[0]["target"]) == len(df) - 24
    np.testing.assert_allclose(train[0]["target"][:5], df["HUFL"][:5], rtol=1e-6)
    np.testing.assert_allclose(test[6]["target"][-5:], df["OT"][-5:], rtol=1e-6)
    assert str(train[0]["start"]) == "2016-07-01 00:00"


def test_exchange_rate(cache):
    ds = get_dataset("exchange_rate", path=cache)
    train, test = check_split(ds, "1B", 30, 8, 40)

    df = pd.read_csv(
        raw(f"{GH_RAW}/laiguokun/multivariate-time-series-data/master/exchange_rate/exchange_rate.txt.gz"),
        header=None,
    )
    assert df.shape == (7588, 8)
    # GluonTS trains on the first 80% (inclusive end) and tests on five
    # rolling windows of 30 steps after that.
    n_train = int(7588 * 0.8) + 1
    assert len(train[0]["target"]) == n_train
    assert [len(test[8 * w]["target"]) for w in range(5)] == [n_train + 30 * (w + 1) for w in range(5)]
    np.testing.assert_allclose(train[0]["target"][:5], df[0][:5], rtol=1e-6)
    np.testing.assert_allclose(train[7]["target"][:5], df[7][:5], rtol=1e-6)


@pytest.mark.parametrize(
    "name, m4_freq, freq, prediction_length, n_series",
    [
        ("m4_hourly", "Hourly", "H", 48, 414),
        ("m4_weekly", "Weekly", "W", 13, 359),
    ],
)
def test_m4(cache, name, m4_freq, freq, prediction_length, n_series):
    ds = get_dataset(name, path=cache)
    train, test = check_split(ds, freq, prediction_length, n_series, n_series)

    train_df = pd.read_csv(raw(f"{M4}/Train/{m4_freq}-train.csv"), index_col=0)
    test_df = pd.read_csv(raw(f"{M4}/Test/{m4_freq}-test.csv"), index_col=0)
    first = train_df.iloc[0].dropna().to_numpy()
    assert len(train[0]["target"]) == len(first)
    np.testing.assert_allclose(train[0]["target"], first, rtol=1e-6)
    np.testing.assert_allclose(test[0]["target"][-prediction_length:], test_df.iloc[0], rtol=1e-6)
    assert train[-1]["item_id"] == n_series - 1


def test_airpassengers(cache):
    ds = get_dataset("airpassengers", path=cache)
    train, test = check_split(ds, "1M", 12, 1, 1)

    df = pd.read_csv(raw(f"{GH_RAW}/AileenNielsen/TimeSeriesAnalysisWithPython/master/data/AirPassengers.csv"))
    assert len(test[0]["target"]) == len(df) == 144
    assert len(train[0]["target"]) == 144 - 36
    assert train[0]["target"][0] == 112
    np.testing.assert_array_equal(test[0]["target"], df["#Passengers"])


def test_cache_is_readable_by_gluonts_itself(cache):
    dataset_dir = materialize_dataset("airpassengers", path=cache)
    assert dataset_dir == cache / "airpassengers"
    assert (dataset_dir / "metadata.json").is_file()
    # GluonTS must find it complete and load it without downloading.
    with redirect_downloads(cache / "no-such-mirror"):
        ds = gluonts_datasets.get_dataset("airpassengers", path=cache)
    assert len(list(ds.test)[0]["target"]) == 144


def test_regenerate_rebuilds(cache):
    dataset_dir = materialize_dataset("airpassengers", path=cache)
    marker = dataset_dir / "stale"
    marker.write_text("x")
    assert materialize_dataset("airpassengers", path=cache) == dataset_dir
    assert marker.exists()
    materialize_dataset("airpassengers", path=cache, regenerate=True)
    assert not marker.exists()
    assert (dataset_dir / "train").is_dir()


def test_missing_mirror_file_names_url_and_path(tmp_path):
    # A mirror with only the first of the two ETT files.
    mirror = tmp_path / "mirror"
    rel = f"{GH_RAW}/zhouhaoyi/ETDataset/main/ETT-small"
    (mirror / rel).mkdir(parents=True)
    (mirror / rel / "ETTh1.csv").symlink_to(raw(f"{rel}/ETTh1.csv"))
    cache = tmp_path / "cache"

    with pytest.raises(MirrorFileMissing) as excinfo:
        materialize_dataset("ett_small_1h", mirror=mirror, path=cache)

    expected = mirror / rel / "ETTh2.csv"
    assert isinstance(excinfo.value, FileNotFoundError)
    assert excinfo.value.local_path == expected
    assert str(expected) in str(excinfo.value)
    assert f"https://{rel}/ETTh2.csv" in str(excinfo.value)
    # Nothing half-written may be left where GluonTS would trust it.
    assert not (cache / "ett_small_1h").exists()
    assert list(cache.iterdir()) == []


def test_unmapped_network_access_fails_fast(tmp_path):
    original_urlopen = urllib.request.urlopen
    original_getaddrinfo = socket.getaddrinfo
    with redirect_downloads(tmp_path):
        with pytest.raises(NetworkAccessBlocked, match="example.com"):
            socket.create_connection(("example.com", 443), timeout=1)
    assert urllib.request.urlopen is original_urlopen
    assert socket.getaddrinfo is original_getaddrinfo


def test_mirror_path_layout(tmp_path):
    assert mirror_path("https://github.com/a/b/raw/c.csv", tmp_path) == tmp_path / "github.com/a/b/raw/c.csv"
    assert mirror_path("http://h.org/x.gz?dl=1", tmp_path) == tmp_path / "h.org/x.gz"
    with pytest.raises(ValueError):
        mirror_path("https://h.org/../etc/passwd", tmp_path)


def test_unknown_dataset_name(tmp_path):
    with pytest.raises(KeyError, match="not a GluonTS repository dataset"):
        materialize_dataset("no_such_dataset", path=tmp_path)


def test_default_mirror_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.MIRROR_ENV_VAR, str(tmp_path))
    assert datasets._resolve_default_mirror() == tmp_path
    monkeypatch.delenv(datasets.MIRROR_ENV_VAR)
    assert datasets._resolve_default_mirror().is_dir()


def test_default_cache_is_gluonts_default():
    assert datasets.default_dataset_path() == gluonts_datasets.default_dataset_path
