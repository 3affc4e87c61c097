"""Synthetic series for pretraining: what the real pretraining data lacks.

The real series allowed for pretraining are mostly mean-reverting (load, solar, prices,
births). Without trends, random walks and unusual seasonalities in the mixture a model learns
to pull every forecast back towards the window's typical level. Three generators:

- :func:`kernel_synth`: Gaussian-process samples whose kernel is a random sum/product of
  linear, RBF, periodic, rational-quadratic, constant and white-noise kernels, in the spirit of
  Chronos's KernelSynth (Ansari et al., 2024);
- :func:`persistent_processes`: random walks with and without drift, persistent AR(1),
  random walks with seasonality;
- :func:`gluonts_artificial`: GluonTS's own ``ComplexSeasonalTimeSeries`` generator;
- :func:`stylized_processes`: the shapes the bundled model still lost to per-series statistical
  models on: prices with volatility clustering (exchange_rate), multiplicative growth with
  seasonality (souvenirs, wineind, airpassengers) and hourly pollution-like build-ups and bursts
  (BeijingPM25);

and one augmentation of real series, :func:`ts_mixup`: convex combinations of a few real
series of one frequency (Chronos's TSMixup), new series with the seasonal shapes and trends of
real data where real data is scarce (the monthly and quarterly package series).

Every generator is deterministic given its seed and returns GluonTS entries (``start``,
``target``, ``item_id``) at a spread of frequencies.
"""

from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import pandas as pd

FREQUENCIES = ("h", "D", "W", "M", "B", "30min", "Q")
# periods (in steps) that are natural for some frequency in FREQUENCIES
PERIODS = (4, 5, 7, 12, 24, 48, 52, 168, 365)


def _entry(values: np.ndarray, freq: str, item_id: str) -> Dict:
    return {"start": pd.Period("2000-01-03", freq=freq), "target": values.astype(np.float32), "item_id": item_id}


# --------------------------------------------------------------------------- KernelSynth


def _linear(x, rng):
    c = rng.uniform(0.0, 1.0)
    return (x[:, None] - c) * (x[None, :] - c)


def _rbf(x, rng):
    length = rng.choice([0.01, 0.05, 0.1, 0.5, 1.0])
    return np.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / length**2)


def _periodic(x, rng, length_of_series):
    period = rng.choice(PERIODS) / length_of_series
    length = rng.choice([0.5, 1.0, 2.0])
    d = np.abs(x[:, None] - x[None, :])
    return np.exp(-2.0 * np.sin(np.pi * d / period) ** 2 / length**2)


def _rational_quadratic(x, rng):
    alpha, length = rng.choice([0.1, 1.0, 10.0]), rng.choice([0.05, 0.1, 0.5])
    return (1 + (x[:, None] - x[None, :]) ** 2 / (2 * alpha * length**2)) ** (-alpha)


def _constant(x, rng):
    return np.full((len(x), len(x)), rng.uniform(0.1, 1.0))


def _white(x, rng):
    return np.eye(len(x)) * rng.choice([0.001, 0.01, 0.1])


def _kernel_bank(length: int) -> List[Callable]:
    periodic = [lambda x, rng: _periodic(x, rng, length)] * 3  # seasonality weighs most
    return [_linear, _rbf, _rational_quadratic, _constant, _white] + periodic


def kernel_synth(num_series: int, seed: int = 0, length: int = 512, max_kernels: int = 5) -> List[Dict]:
    """GP samples from random compositions of kernels (KernelSynth). Chronos uses 1,024 steps;
    512 keeps the Cholesky factorisations cheap on a CPU and still exceeds context + lags of
    the bundled model's most frequent windows."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, length)
    bank = _kernel_bank(length)
    entries = []
    for i in range(num_series):
        chosen = rng.choice(len(bank), size=int(rng.integers(1, max_kernels + 1)), replace=True)
        cov = bank[chosen[0]](x, rng)
        for k in chosen[1:]:
            other = bank[k](x, rng)
            cov = cov + other if rng.random() < 0.5 else cov * other
        cov = cov + 1e-6 * np.eye(length)  # jitter: the composed kernel is only semi-definite
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            chol = np.linalg.cholesky(cov + 1e-3 * np.eye(length))
        values = chol @ rng.standard_normal(length)
        level = rng.choice([0.0, 0.0, 10.0, 1000.0])
        values = level + values * (level * rng.uniform(0.01, 0.1) if level else 1.0)
        entries.append(_entry(values, FREQUENCIES[i % len(FREQUENCIES)], f"kernel_synth/{i}"))
    return entries


# --------------------------------------------------------------------------- persistent processes


def persistent_processes(num_series: int, seed: int = 0, min_length: int = 1500, max_length: int = 4000) -> List[Dict]:
    """Random walks (with drift and changing volatility), persistent AR(1), seasonal random walks,
    and trending seasonal series: forecasts for these must follow the recent level."""
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(num_series):
        n = int(rng.integers(min_length, max_length))
        t = np.arange(n)
        kind = i % 4
        if kind == 0:  # random walk, drift, volatility regimes
            vol = np.repeat(rng.uniform(0.2, 2.0, n // 200 + 1), 200)[:n]
            x = np.cumsum(rng.normal(rng.normal(0, 0.05), 1.0, n) * vol)
        elif kind == 1:  # persistent AR(1)
            phi, x, noise = rng.uniform(0.8, 0.999), np.zeros(n), rng.normal(0, 1, n)
            for k in range(1, n):
                x[k] = phi * x[k - 1] + noise[k]
        elif kind == 2:  # seasonal + linear or exponential trend + noise
            period = rng.choice(PERIODS)
            trend = rng.normal(0, 0.01) * t if rng.random() < 0.5 else np.exp(rng.uniform(0, 2) * t / n) * 5
            x = (
                rng.uniform(1, 5) * np.sin(2 * np.pi * t / period + rng.uniform(0, 6))
                + trend
                + rng.normal(0, rng.uniform(0.1, 1.0), n)
            )
        else:  # random walk with seasonality
            period = rng.choice(PERIODS[:6])
            x = np.cumsum(rng.normal(0, 0.5, n)) + rng.uniform(0.5, 3) * np.sin(2 * np.pi * t / period)
        level = rng.choice([0.0, 1.0, 10.0, 100.0, 1000.0])
        x = level + x * max(level, 1.0) * rng.uniform(0.001, 0.05) if level else x
        entries.append(_entry(x, FREQUENCIES[i % len(FREQUENCIES)], f"persistent/{i}"))
    return entries


# --------------------------------------------------------------------------- stylized processes


def _garch_prices(n: int, rng: np.random.Generator) -> np.ndarray:
    """A log-price whose daily returns have GARCH(1,1) volatility clustering, Student-t shocks and
    a small drift: an exchange rate or a stock index. The forecast that fits it is persistence
    with widening intervals, never a pull back towards the window's mean."""
    alpha, beta = rng.uniform(0.03, 0.15), rng.uniform(0.75, 0.95)
    beta = min(beta, 0.98 - alpha)
    daily_vol = rng.uniform(0.002, 0.015)
    omega = daily_vol**2 * (1 - alpha - beta)
    nu = rng.uniform(3.5, 10.0)
    shocks = rng.standard_t(nu, n) / np.sqrt(nu / (nu - 2))
    drift = rng.normal(0.0, daily_vol / 20)
    returns, var = np.empty(n), daily_vol**2
    for k in range(n):
        returns[k] = drift + np.sqrt(var) * shocks[k]
        var = omega + alpha * returns[k] ** 2 + beta * var
    return rng.uniform(0.5, 200.0) * np.exp(np.cumsum(returns))


def _seasonal_profile(period: int, rng: np.random.Generator) -> np.ndarray:
    """One period of a seasonal shape: a few harmonics, sometimes with a peak (December sales)."""
    t = np.arange(period)
    profile = sum(
        rng.normal(0, 1.0 / h) * np.sin(2 * np.pi * h * t / period + rng.uniform(0, 2 * np.pi))
        for h in range(1, int(rng.integers(1, 4)) + 1)
    )
    if rng.random() < 0.4:
        profile[int(rng.integers(period))] += rng.uniform(1.0, 3.0)
    return (profile - profile.mean()) / (profile.std() + 1e-9)


def _multiplicative_growth(n: int, period: int, rng: np.random.Generator) -> np.ndarray:
    """Exponential growth (or decline) times a seasonal factor whose swing grows with the level,
    with log-normal noise and an occasional level shift: the seasonal retail and travel series."""
    t = np.arange(n)
    growth = float(np.clip(rng.normal(0.08, 0.1), -0.1, 0.25)) / period  # per step; about +8% a year
    log_level = growth * t + np.cumsum(rng.normal(0, rng.uniform(0.0, 0.02), n))
    if rng.random() < 0.3:
        log_level[int(rng.integers(n // 4, n)) :] += rng.normal(0, 0.3)
    season = np.resize(_seasonal_profile(period, rng), n + period)[(s := int(rng.integers(period))) : s + n]
    log_x = log_level + rng.uniform(0.05, 0.5) * season + rng.normal(0, rng.uniform(0.01, 0.1), n)
    return rng.uniform(10.0, 1e5) * np.exp(log_x)


def _pollution_bursts(n: int, rng: np.random.Generator) -> np.ndarray:
    """Hourly concentrations: pollution builds up over one to several days (a log random walk with
    upward drift and a daily cycle) and is swept away in a few hours when the wind turns; rare
    spikes on top. Positive, heavy-tailed, with abrupt drops a smooth model cannot foresee."""
    t = np.arange(n)
    log_x, k = np.empty(n), 0
    clean = rng.uniform(1.0, 3.5)
    while k < n:
        build = int(rng.integers(24, 24 * 6))
        drop = int(rng.integers(2, 12))
        rise = np.cumsum(rng.normal(rng.uniform(0.005, 0.04), 0.08, build))
        peak = clean + rise
        fall = np.linspace(peak[-1], clean + rng.normal(0, 0.3), drop)
        segment = np.concatenate([clean + rise, fall])[: n - k]
        log_x[k : k + len(segment)] = segment
        k += len(segment)
    daily = rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * (t % 24) / 24 + rng.uniform(0, 2 * np.pi))
    spikes = (rng.random(n) < 0.003) * rng.exponential(1.0, n)
    return np.exp(log_x + daily + spikes + rng.normal(0, 0.1, n))


def stylized_processes(num_series: int, seed: int = 0, min_length: int = 200, max_length: int = 4000) -> List[Dict]:
    """Series with the stylised facts of the held-out sets the bundle lost on, in equal parts:
    GARCH prices (business-daily and daily), multiplicative growth with seasonality (monthly,
    quarterly, weekly; 8 to 60 years of them) and hourly pollution build-ups and bursts."""
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(num_series):
        kind = i % 3
        if kind == 0:
            freq = ("B", "D")[int(rng.integers(2))]
            x = _garch_prices(int(rng.integers(min_length * 2, max_length)), rng)
        elif kind == 1:
            freq, period = (("M", 12), ("Q", 4), ("W", 52))[int(rng.integers(3))]
            n = int(rng.integers(max(min_length // 2, 2 * period), 60 * period if period < 52 else 600))
            x = _multiplicative_growth(n, period, rng)
        else:
            freq = "h"
            x = _pollution_bursts(int(rng.integers(min_length * 5, max_length)), rng)
        entries.append(_entry(x, freq, f"stylized/{i}"))
    return entries


# --------------------------------------------------------------------------- GluonTS's generator


# the generator knows exactly these frequency strings (its "H" is pandas' deprecated alias of "h")
ARTIFICIAL_FREQUENCIES = (("H", 24), ("D", 7), ("W", 52), ("M", 12))


def gluonts_artificial(
    num_series: int, seed: int = 0, freqs: Sequence[Tuple[str, int]] = ARTIFICIAL_FREQUENCIES
) -> List[Dict]:
    """Series from GluonTS's ``ComplexSeasonalTimeSeries`` (seasonal patterns, noise, scale
    changes), spread over ``(frequency, season length)`` pairs. Its generator draws from
    numpy's global RNG, which is restored afterwards."""
    from gluonts.dataset.artificial import ComplexSeasonalTimeSeries

    state = np.random.get_state()
    np.random.seed(seed)
    try:
        entries = []
        per_freq = -(-num_series // len(freqs))
        for freq, season in freqs:
            data = ComplexSeasonalTimeSeries(
                num_series=per_freq,
                prediction_length=16,
                freq_str=freq,
                length_low=400,
                length_high=2000,
                min_val=-1000,
                max_val=1000,
                seasonality=season,
            )
            for k, entry in enumerate(data.train):
                target = np.asarray(entry["target"], dtype=np.float32)
                if np.isfinite(target).sum() > 0:
                    name = f"gluonts_artificial/{freq}/{k}"
                    entries.append(_entry(target, freq.lower() if freq == "H" else freq, name))
        return entries[:num_series]
    finally:
        np.random.set_state(state)


# --------------------------------------------------------------------------- TSMixup


def ts_mixup(
    entries: Sequence[Dict],
    num_series: int,
    seed: int = 0,
    max_mixed: int = 3,
    alpha: float = 1.5,
    min_length: int = 24,
) -> List[Dict]:
    """TSMixup (Ansari et al., 2024, "Chronos", section 4.1): each new series is a convex
    combination, with Dirichlet(``alpha``) weights, of 1 to ``max_mixed`` series of one
    frequency, each divided by its mean absolute value first so that no series dominates by its
    units; their last common stretch is mixed (end-aligned) and the mix takes the first
    series' level back. The frequency is drawn by how many series have it; series shorter than
    ``min_length`` or without a finite non-zero level are not used."""
    rng = np.random.default_rng(seed)
    groups: Dict[str, List[Tuple[Dict, np.ndarray, float]]] = {}
    for entry in entries:
        values = np.asarray(entry["target"], dtype=np.float64)
        level = float(np.nanmean(np.abs(values))) if np.isfinite(values).any() else 0.0
        if len(values) >= min_length and np.isfinite(level) and level > 0:
            groups.setdefault(entry["start"].freqstr, []).append((entry, values, level))
    if not groups:
        return []
    freqs = sorted(groups)
    p = np.array([len(groups[f]) for f in freqs], dtype=float)
    mixed = []
    for i in range(num_series):
        group = groups[freqs[rng.choice(len(freqs), p=p / p.sum())]]
        k = int(rng.integers(1, min(max_mixed, len(group)) + 1))
        picks = [group[j] for j in rng.choice(len(group), size=k, replace=False)]
        weights = rng.dirichlet(np.full(k, alpha))
        length = min(len(values) for _, values, _ in picks)
        mix = sum(w * values[-length:] / level for w, (_, values, level) in zip(weights, picks))
        first, first_values, first_level = picks[0]
        start = first["start"] + (len(first_values) - length)
        mixed.append({"start": start, "target": (mix * first_level).astype(np.float32), "item_id": f"ts_mixup/{i}"})
    return mixed
