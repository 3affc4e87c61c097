"""The stylized synthetic source (synthetic.stylized_processes): GARCH prices, multiplicative
seasonal growth, hourly pollution-like build-ups and bursts."""

from collections import Counter

import numpy as np
import pytest

from lagllama_gluonts.synthetic import stylized_processes

# the frequencies of each kind (its index: i % 3)
KIND_FREQUENCIES = {0: {"B", "D"}, 1: {"M", "Q-DEC", "W-SUN"}, 2: {"h"}}


@pytest.fixture(scope="module")
def series():
    return stylized_processes(60, seed=5)


def _kind(entry):
    return int(entry["item_id"].split("/")[1]) % 3


def test_deterministic_by_seed_and_different_across_seeds(series):
    again = stylized_processes(60, seed=5)
    assert [e["item_id"] for e in series] == [e["item_id"] for e in again]
    for a, b in zip(series, again):
        assert a["start"] == b["start"]
        np.testing.assert_array_equal(a["target"], b["target"])
    other = stylized_processes(60, seed=6)
    assert not any(np.array_equal(a["target"], b["target"]) for a, b in zip(series, other))
    assert sum(len(a["target"]) != len(b["target"]) for a, b in zip(series, other)) > 30  # lengths drawn too


def test_finite_positive_float32_series_of_sensible_length(series):
    for entry in series:
        x = entry["target"]
        assert x.dtype == np.float32 and x.ndim == 1
        # prices, sales and concentrations: every kind is positive, none overflows
        assert np.isfinite(x).all() and (x > 0).all(), entry["item_id"]
        assert len(x) >= 24, entry["item_id"]  # at least two years of the quarterly ones
        assert len(x) < 4000


def test_covers_its_three_kinds_in_equal_parts_and_their_frequencies(series):
    kinds = Counter(_kind(e) for e in series)
    assert kinds == {0: 20, 1: 20, 2: 20}
    for kind, freqs in KIND_FREQUENCIES.items():
        seen = {e["start"].freqstr for e in series if _kind(e) == kind}
        assert seen == freqs, (kind, seen)  # every frequency of the kind occurs, and no other
    # the growth series cover at least two seasons (a seasonal model has something to fit)
    periods = {"M": 12, "Q-DEC": 4, "W-SUN": 52}
    assert all(len(e["target"]) >= 2 * periods[e["start"].freqstr] for e in series if _kind(e) == 1)


def _autocorrelation(x, lags=range(1, 11)):
    x = x - x.mean()
    return float(np.mean([np.dot(x[:-k], x[k:]) / np.dot(x, x) for k in lags]))


def _squared_return_clustering(prices, rng):
    """Mean autocorrelation of squared log returns (lags 1-10), minus that of a shuffled copy:
    about zero for independent returns, positive when large moves come in clusters."""
    squared = np.diff(np.log(prices.astype(np.float64))) ** 2
    return _autocorrelation(squared) - _autocorrelation(rng.permutation(squared))


def test_garch_prices_show_volatility_clustering(series):
    rng = np.random.default_rng(0)
    prices = [e["target"] for e in series if _kind(e) == 0]
    clustering = np.array([_squared_return_clustering(x, rng) for x in prices])
    assert np.median(clustering) > 0.03 and (clustering > 0).mean() >= 0.8, clustering.round(3)

    # the statistic can fail: a random walk with independent Student-t returns shows none
    walks = [np.exp(np.cumsum(0.01 * rng.standard_t(5, len(x)))) for x in prices]
    control = np.array([_squared_return_clustering(x, rng) for x in walks])
    assert abs(np.median(control)) < 0.02, control.round(3)
    assert np.median(clustering) > np.median(control) + 0.02


def test_growth_is_multiplicative_and_pollution_drops_abruptly(series):
    growth = [e["target"] for e in series if _kind(e) == 1]
    # levels move by factors, not steps: some series ends more than twice (or half) its start
    assert max(max(x[-12:].mean() / x[:12].mean(), x[:12].mean() / x[-12:].mean()) for x in growth) > 2
    hourly = [e["target"] for e in series if _kind(e) == 2]
    for x in hourly:
        steps = np.diff(np.log(x.astype(np.float64)))
        # the wind sweeps a build-up away in hours: the sharpest fall far beyond the typical step
        assert steps.min() < -10 * np.median(np.abs(steps))
