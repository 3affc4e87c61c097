"""benchmarks/etth1_informer.py reads ETTh1 / ETTh2 through the shared table reader, unchanged."""

import argparse

import etth1_informer
import numpy as np
import pandas as pd
import pytest

from conftest import ETTH1

ETTH2 = ETTH1.with_name("ETTh2.csv")


def test_load_ot_reads_the_paper_series_standardised_on_the_train_rows():
    dates, z, mean, std = etth1_informer.load_ot(ETTH1)
    raw = pd.read_csv(ETTH1, parse_dates=["date"])
    ot = raw["OT"].to_numpy(dtype=np.float64)
    assert len(dates) == len(z) == len(raw) == 17420
    assert (dates == pd.DatetimeIndex(raw["date"])).all()
    assert mean == ot[: etth1_informer.TRAIN_END].mean() and std == ot[: etth1_informer.TRAIN_END].std()
    np.testing.assert_array_equal(z, ((ot - mean) / std).astype(np.float32))
    assert abs(z[: etth1_informer.TRAIN_END].mean()) < 1e-4
    assert pd.Period(dates[0], freq=etth1_informer.FREQ) == pd.Period("2016-07-01 00:00", freq="h")


def test_default_stays_etth1_with_the_committed_paper_numbers():
    args = etth1_informer.build_parser().parse_args([])
    assert args.dataset == "ETTh1"
    assert etth1_informer.dataset_path("ETTh1") == etth1_informer.ETTH1
    assert etth1_informer.PAPER is etth1_informer.PAPERS["ETTh1"].numbers
    assert etth1_informer.PAPER[24] == (0.098, 0.247) and etth1_informer.PAPER[720] == (0.269, 0.435)


def test_etth2_option_reads_etth2_with_the_same_borders():
    args = etth1_informer.build_parser().parse_args(["--dataset", "ETTh2"])
    path = etth1_informer.dataset_path(args.dataset)
    assert path.name == "ETTh2.csv" and path.resolve() == ETTH2.resolve()
    dates, z, mean, std = etth1_informer.load_ot(path)
    raw = pd.read_csv(ETTH2, parse_dates=["date"])
    ot = raw["OT"].to_numpy(dtype=np.float64)
    assert len(z) == len(raw) == 17420
    # The official 12/4/4-month borders, the same rows for both files.
    assert (etth1_informer.TRAIN_END, etth1_informer.VAL_END, etth1_informer.TEST_END) == (8640, 11520, 14400)
    # The official "months" are 30 days of gap-free hours: 360 / 480 / 600 days after the start.
    for border, days in zip(
        (etth1_informer.TRAIN_END, etth1_informer.VAL_END, etth1_informer.TEST_END), (360, 480, 600)
    ):
        assert dates[border] - dates[0] == pd.Timedelta(days=days)
    train = ot[: etth1_informer.TRAIN_END]
    assert mean == train.mean() and std == train.std()
    np.testing.assert_array_equal(z, ((ot - mean) / std).astype(np.float32))
    # a different series from ETTh1's OT, not the same file read twice
    assert not np.allclose(z, etth1_informer.load_ot(ETTH1)[1])


def test_etth2_paper_numbers_are_the_univariate_informer_row():
    paper = etth1_informer.PAPERS["ETTh2"]
    assert paper.numbers == {
        24: (0.093, 0.240),
        48: (0.155, 0.314),
        168: (0.232, 0.389),
        336: (0.263, 0.417),
        720: (0.277, 0.431),
    }
    assert set(paper.numbers) == set(etth1_informer.HORIZONS)
    assert "Table 1" in paper.source and "ETTh2" in paper.source


def test_unknown_dataset_is_refused():
    with pytest.raises(SystemExit):
        etth1_informer.build_parser().parse_args(["--dataset", "ETTm1"])
    with pytest.raises(ValueError, match="ETTm1"):
        etth1_informer.dataset_path("ETTm1")


def _result(H):
    return {
        "H": H,
        "mse": 0.1,
        "mae": 0.2,
        "crps": 0.3,
        "point": "mean",
        "context_length": 96,
        "train_seconds": 60.0,
        "epochs": 1,
        "steps": 50,
        "windows": 10,
        "persistence_mse": 0.4,
        "persistence_mae": 0.5,
    }


@pytest.mark.parametrize("dataset", ["ETTh1", "ETTh2"])
def test_report_title_and_paper_source_follow_the_dataset(dataset):
    args = etth1_informer.build_parser().parse_args(["--dataset", dataset])
    text = etth1_informer.markdown([_result(24), _result(720)], args, "python x", 60.0)
    other = {"ETTh1": "ETTh2", "ETTh2": "ETTh1"}[dataset]
    assert text.startswith(f"# Informer on {dataset}, univariate (setting S)\n")
    assert f"`{dataset}.csv`" in text and etth1_informer.PAPERS[dataset].source in text
    assert other not in text
    mse, mae = etth1_informer.PAPERS[dataset].numbers[720]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("|")]
    assert rows[0][:5] == ["horizon", "MSE ours", "MSE paper", "MAE ours", "MAE paper"]
    assert [r[:5] for r in rows if r[0] == "720"] == [["720", "**0.100**", f"{mse:.3f}", "**0.200**", f"{mae:.3f}"]]


def test_the_lower_of_ours_and_the_papers_number_is_bold():
    assert etth1_informer._pair(0.0950, 0.093) == ("0.095", "**0.093**")
    assert etth1_informer._pair(0.0804, 0.155) == ("**0.080**", "0.155")
    assert etth1_informer._pair(0.2396, 0.240) == ("**0.240**", "**0.240**")  # a tie as shown bolds both


def test_etth1_report_header_is_the_committed_one():
    """The default command must reproduce the committed etth1.md's wording (numbers aside)."""
    committed = (etth1_informer.bench_common.RESULTS / "etth1.md").read_text()
    text = etth1_informer.markdown(
        [_result(24)], argparse.Namespace(**vars(etth1_informer.build_parser().parse_args([]))), "python x", 60.0
    )
    assert text.split("\n| horizon")[0] == committed.split("\n| horizon")[0]
