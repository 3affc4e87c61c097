"""GluonTS repository datasets: materialized from a mirror (given as mirror=, --mirror or
$LAGLLAMA_GLUONTS_MIRROR), read from GluonTS's cache, or one line when neither is there and
there is no network. No test goes online: a network failure is simulated in the process."""

import socket
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gluonts.dataset.repository import datasets as gluonts_datasets

from lagllama_gluonts.common import datasets
from lagllama_gluonts.common.datasets import (
    DatasetUnavailable,
    MirrorFileMissing,
    NetworkAccessBlocked,
    get_dataset,
    materialize_dataset,
    mirror_path,
    redirect_downloads,
)
from lagllama_gluonts.common.errors import DataError

from conftest import MIRROR

GH_RAW = "raw.githubusercontent.com"
M4 = "github.com/M4Competition/M4-methods/raw/master/Dataset"


def raw(relative: str) -> Path:
    return MIRROR / relative


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


def test_default_cache_is_gluonts_default():
    assert datasets.default_dataset_path() == gluonts_datasets.default_dataset_path


# --------------------------------------------------------------------------- how a dataset is resolved

AIRPASSENGERS = f"{GH_RAW}/AileenNielsen/TimeSeriesAnalysisWithPython/master/data/AirPassengers.csv"


@pytest.fixture
def offline(monkeypatch):
    """No network: every host name lookup fails as it does on a machine without one (urllib
    turns it into URLError); the calls are counted, to tell a download attempted from none."""
    attempts = []

    def no_network(host, *args, **kwargs):
        attempts.append(host)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    return attempts


@pytest.fixture
def gluonts_cache(monkeypatch, tmp_path):
    """GluonTS's own dataset cache (``~/.gluonts/datasets``) pointed at an empty folder, and no
    mirror in the environment (conftest sets one for the session)."""
    cache = tmp_path / "gluonts-home" / "datasets"
    monkeypatch.setattr(gluonts_datasets, "default_dataset_path", cache)
    monkeypatch.delenv(datasets.MIRROR_ENV_VAR, raising=False)
    return cache


def one_passenger_mirror(root: Path) -> Path:
    """A mirror holding airpassengers' one source file (a link into the shared mirror)."""
    (root / AIRPASSENGERS).parent.mkdir(parents=True)
    (root / AIRPASSENGERS).symlink_to(raw(AIRPASSENGERS))
    return root


def check_airpassengers(ds) -> None:
    assert len(list(ds.test)[0]["target"]) == 144 and ds.metadata.freq == "1M"


def test_resolve_mirror_argument_then_environment_then_none(monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.MIRROR_ENV_VAR, str(tmp_path / "env"))
    assert datasets.resolve_mirror(tmp_path / "arg") == tmp_path / "arg"
    assert datasets.resolve_mirror() == tmp_path / "env"
    monkeypatch.setenv(datasets.MIRROR_ENV_VAR, "")
    assert datasets.resolve_mirror() is None
    monkeypatch.delenv(datasets.MIRROR_ENV_VAR)
    assert datasets.resolve_mirror() is None
    # no default computed from where the package is installed
    assert not hasattr(datasets, "DEFAULT_MIRROR") and not hasattr(datasets, "_REPO_ROOT")


def test_mirror_argument_fills_gluonts_cache_offline(gluonts_cache, offline, tmp_path):
    ds = get_dataset("airpassengers", mirror=one_passenger_mirror(tmp_path / "mirror"))
    check_airpassengers(ds)
    assert (gluonts_cache / "airpassengers" / "metadata.json").is_file()
    assert offline == []


def test_mirror_from_the_environment_and_the_argument_wins(gluonts_cache, offline, monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.MIRROR_ENV_VAR, str(one_passenger_mirror(tmp_path / "mirror")))
    check_airpassengers(get_dataset("airpassengers"))
    assert offline == []
    # an explicit mirror= comes before the environment's: this one lacks the file
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    with pytest.raises(MirrorFileMissing, match="empty-mirror"):
        get_dataset("airpassengers", mirror=empty, regenerate=True)


def test_mirror_option_of_a_command(gluonts_cache, offline, tmp_path, capsys):
    from lagllama_gluonts.cli import main

    mirror = one_passenger_mirror(tmp_path / "mirror")
    options = ["--num-samples", "4", "--context-length", "32", "--device", "cpu", "--out", str(tmp_path / "out")]
    assert main(["zero-shot", "--dataset", "airpassengers", "--mirror", str(mirror), *options]) == 0
    assert "SeasonalNaive" in capsys.readouterr().out
    assert (gluonts_cache / "airpassengers" / "train").is_dir()
    assert offline == []


def test_no_mirror_reads_gluonts_cache_without_network(gluonts_cache, offline):
    # the cache as GluonTS's own download would have left it, made here from the shared mirror
    materialize_dataset("airpassengers", mirror=MIRROR, path=gluonts_cache)
    check_airpassengers(get_dataset("airpassengers"))
    assert offline == []


def test_no_mirror_no_cache_no_network_is_one_line(gluonts_cache, offline):
    with pytest.raises(DatasetUnavailable) as excinfo:
        get_dataset("airpassengers")
    assert offline, "GluonTS's download was not attempted"
    message = str(excinfo.value)
    assert isinstance(excinfo.value, DataError) and "\n" not in message
    for part in ("'airpassengers'", "--mirror DIR", "mirror=DIR", datasets.MIRROR_ENV_VAR, "network"):
        assert part in message
    assert str(gluonts_cache / "airpassengers") in message
    # urllib's error is summarised in the line, not chained below it
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__
    # nothing half-written where GluonTS would trust it
    assert not gluonts_cache.exists() or list(gluonts_cache.iterdir()) == []


@pytest.mark.parametrize("program", ["lagllama", "informer"])
def test_commands_say_it_in_one_line_with_exit_status_2(program, gluonts_cache, offline, tmp_path, capsys):
    if program == "lagllama":
        from lagllama_gluonts.cli import main
    else:
        from informer_gluonts.cli import main
    out = ["--out", str(tmp_path / "out")]
    assert main(["backtest", "--dataset", "airpassengers", *out]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and ": error: " in err and "Traceback" not in err
    assert "'airpassengers' could not be had" in err and "--mirror DIR" in err
    # a mirror that is not there is named, never a reason to go online
    assert main(["backtest", "--dataset", "airpassengers", "--mirror", str(tmp_path / "nowhere"), *out]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "nowhere" in err and "is not a folder" in err


def test_help_names_the_mirror_option_and_variable(capsys):
    from informer_gluonts.cli import main as informer_main
    from lagllama_gluonts.cli import main as lagllama_main

    for main, argv in [
        (lagllama_main, ["--help"]),
        (lagllama_main, ["zero-shot", "--help"]),
        (lagllama_main, ["finetune", "--help"]),
        (lagllama_main, ["pretrain", "--help"]),
        (informer_main, ["--help"]),
        (informer_main, ["backtest", "--help"]),
        (informer_main, ["forecast", "--help"]),
    ]:
        assert main(argv) == 0
        text = capsys.readouterr().out
        assert "--mirror DIR" in text and "$LAGLLAMA_GLUONTS_MIRROR" in text, argv


def test_pretrain_corpus_lies_beside_the_mirror(monkeypatch, tmp_path):
    from lagllama_gluonts.pretrain import default_corpus_dir

    assert default_corpus_dir(tmp_path / "mirror") == tmp_path / "corpus"
    monkeypatch.delenv(datasets.MIRROR_ENV_VAR)
    with pytest.raises(DataError, match="--mirror DIR"):
        default_corpus_dir()
