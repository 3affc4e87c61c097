"""Series driven by known covariates, for pretraining the covariate pathway
(:mod:`~lagllama_gluonts.covariate_regression`).

Each series is a base series (real or synthetic, of the allowed pretraining sources) plus the
effect of up to ``slots`` known drivers, which are returned with it as ``feat_dynamic_real``
(``slots`` rows, unused ones all zero). The drivers are what users bring:

* **temperature**: an annual cycle, a daily one below daily frequency, and AR(1) weather; it acts
  through thresholds (heating below one, cooling above another) and a lag of 0 to 2 steps;
* **working day**: Monday to Friday but random holidays below weekly frequency, random event
  periods above it; a step change;
* **promotion**: sparse pulses of 1 to 5 steps with their own sizes, and sometimes a dip right
  after (demand pulled forward);
* **linear**: an AR(1) series (white noise to slowly wandering) acting linearly, with either sign:
  a driver that looks like noise may still act, and only the regression's fit tells;
* **noise**: an AR(1) series of the same kind that does not act at all.

The effects are summed and scaled to a share ``rho`` of the base's spread, ``rho`` log-uniform in
[0.2, 3]; a fifth of the series get only noise drivers (``rho = 0``), so that the pathway also
learns when to stay out. The base is cut to at most ``max_length`` steps.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
import pandas as pd

KINDS = ("temperature", "working_day", "promotion", "linear", "noise")


def _ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    shocks = rng.normal(0, np.sqrt(1 - phi**2), n)
    out = np.empty(n)
    out[0] = rng.normal()
    for t in range(1, n):
        out[t] = phi * out[t - 1] + shocks[t]
    return out


def _calendar(start: pd.Period, n: int):
    index = pd.period_range(start, periods=n, freq=start.freq)
    day = index.start_time
    return index, np.asarray(day.dayofyear), np.asarray(day.dayofweek), np.asarray(index.start_time.hour)


def _steps_per_day(start: pd.Period) -> float:
    index = pd.period_range(start, periods=2, freq=start.freq)
    return pd.Timedelta(days=1) / (index[1].start_time - index[0].start_time)


def temperature(start: pd.Period, n: int, rng: np.random.Generator) -> np.ndarray:
    _, dayofyear, _, hour = _calendar(start, n)
    value = rng.uniform(5, 20) + rng.uniform(4, 12) * np.cos(2 * np.pi * (dayofyear - rng.uniform(180, 220)) / 365.25)
    if _steps_per_day(start) > 1:
        value += rng.uniform(2, 6) * np.cos(2 * np.pi * (hour - rng.uniform(13, 17)) / 24)
    return value + rng.uniform(1, 4) * _ar1(n, rng.uniform(0.7, 0.98), rng)


def temperature_effect(temp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lag = int(rng.integers(0, 3))
    lagged = np.concatenate((np.full(lag, temp[0]), temp[: len(temp) - lag]))
    low, high = np.quantile(temp, rng.uniform(0.15, 0.45)), np.quantile(temp, rng.uniform(0.55, 0.85))
    return rng.uniform(0, 1) * np.maximum(0, low - lagged) + rng.uniform(0.2, 1) * np.maximum(0, lagged - high)


def working_day(start: pd.Period, n: int, rng: np.random.Generator) -> np.ndarray:
    if _steps_per_day(start) >= 1 / 6:  # daily and finer: weekdays less random holidays
        _, dayofyear, dayofweek, _ = _calendar(start, n)
        holidays = set(rng.choice(366, size=int(rng.integers(5, 15)), replace=False).tolist())
        return ((dayofweek < 5) & ~np.isin(dayofyear, list(holidays))).astype(float)
    events = np.zeros(n)
    for s in np.flatnonzero(rng.random(n) < 0.08):
        events[s : s + int(rng.integers(1, 4))] = 1.0
    return events


def promotion(n: int, rng: np.random.Generator) -> np.ndarray:
    pulses = np.zeros(n)
    for s in np.flatnonzero(rng.random(n) < rng.uniform(0.01, 0.05)):
        pulses[s : s + int(rng.integers(1, 6))] = rng.uniform(0.5, 1.5)
    return pulses


def promotion_effect(pulses: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    effect = pulses.copy()
    if rng.random() < 0.5:  # demand pulled forward: a dip the step after each promotion ends
        ended = (pulses[:-1] > 0) & (pulses[1:] == 0)
        effect[1:][ended] -= rng.uniform(0.2, 0.5) * pulses[:-1][ended]
    return effect


def _driver(kind: str, start: pd.Period, n: int, rng: np.random.Generator):
    """(the covariate as the user sees it, its effect on the target before scaling)."""
    if kind == "temperature":
        temp = temperature(start, n, rng)
        return temp, temperature_effect(temp, rng)
    if kind == "working_day":
        flag = working_day(start, n, rng)
        return flag, flag * rng.choice((-1.0, 1.0))
    if kind == "promotion":
        pulses = promotion(n, rng)
        return pulses, promotion_effect(pulses, rng)
    driver = _ar1(n, rng.uniform(0.0, 0.98), rng)
    return driver, (driver * rng.choice((-1.0, 1.0)) if kind == "linear" else np.zeros(n))


def driven_series(
    bases: Sequence[Dict], num_series: int, seed: int = 0, slots: int = 3, max_length: int = 4000
) -> List[Dict]:
    """``num_series`` series of ``bases`` (drawn with replacement) with drivers: see the module
    docstring. Each entry has ``start``, ``target``, ``item_id`` and ``feat_dynamic_real`` of
    shape (``slots``, len(target))."""
    usable = [b for b in bases if len(b["target"]) >= 64 and np.isfinite(np.asarray(b["target"], float)).any()]
    if not usable:
        raise ValueError("driven_series: no base series of 64 steps or more")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(num_series):
        base = usable[int(rng.integers(len(usable)))]
        values = np.asarray(base["target"], dtype=float)
        first = int(rng.integers(0, max(1, len(values) - max_length + 1)))
        values = values[first : first + max_length]
        start = base["start"] + first
        n, k = len(values), int(rng.integers(1, slots + 1))
        silent = rng.random() < 0.2
        kinds = ["noise"] * k if silent else list(rng.choice(KINDS, size=k))
        rows, effect = np.zeros((slots, n)), np.zeros(n)
        for row, kind in enumerate(kinds):
            rows[row], part = _driver(kind, start, n, rng)
            spread = part.std()
            if spread > 0:
                effect += part / spread * rng.uniform(0.3, 1.0)
        if effect.std() > 0:
            base_spread = np.nanstd(values) or 1.0
            effect *= np.exp(rng.uniform(np.log(0.2), np.log(3.0))) * base_spread / effect.std()
        target = (values + effect).astype(np.float32)
        out.append(
            {
                "start": start,
                "target": target,
                "item_id": f"drivers/{i}/{base.get('item_id', '')}",
                "feat_dynamic_real": rows.astype(np.float32),
            }
        )
    return out
