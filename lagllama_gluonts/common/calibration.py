"""Calibrated quantiles for any GluonTS predictor, from its own errors on rolling windows
before each forecast origin: split-conformal on the quantile residuals (conformalized quantile
regression, Romano et al. 2019), one adjustment per central interval and horizon step.

The rule, for a forecast whose origin (first forecast step) is ``t``:

1. **Calibration windows.** ``N`` windows (``--calibrate-windows N``) are cut from the
   series' history before ``t`` with the backtests' spacing (``backtest_span``: ``distance``
   steps apart, default the horizon ``h``; the last one ends at ``t - 1``). A window needs
   ``min_history`` (default ``h``) steps before its origin, some observed; those that do not fit
   are left out. The wrapped predictor forecasts each from its input only.
2. **Scores.** For each central level ``c`` in :data:`CENTRAL_LEVELS` (0.2, 0.4, 0.5, 0.6, 0.8,
   0.9, 0.95) with ends ``lo = q((1-c)/2)``, ``hi = q((1+c)/2)``, each window and step ``j``
   gives ``s = max(lo - y, y - hi)`` (negative inside the interval); missing ``y`` give none.
3. **Whose windows.** The item's own when it has at least ``min_item_windows`` (default
   :data:`MIN_ITEM_WINDOWS` = 20); else every window of every series forecast in the same call
   that *ends before* ``t`` (pooled across items; the same window met twice, as rolling
   backtest windows of one series share their past, counts once).
4. **Adjustment.** Per level and step, with the ``n`` scores there: ``d`` = the ``k``-th
   smallest, ``k = ceil((n + 1) c)`` — the finite-sample ``(1 - alpha)(1 + 1/n)`` quantile,
   ``alpha = 1 - c`` — clipped to ``n`` (below ``n = c / (1 - c)``: 9 windows for 90%, 19 for
   95%, the guarantee needs an infinite interval; the widest score is used instead). No score
   at all: ``d = 0`` (the raw forecast). The interval becomes ``[lo - d, hi + d]``: wider when
   the model was too narrow, narrower (``d < 0``) when too wide.
5. **Output.** The adjusted ends and the raw median, sorted per step (monotone rearrangement:
   nested intervals, no crossing), as a GluonTS ``QuantileForecast`` with those 15 levels
   (0.025 ... 0.975) and the raw mean. A ``QuantileForecast`` rather than shifted samples:
   ``Evaluator`` reads ``quantile(q)`` at 0.1 ... 0.9 and finds exactly the calibrated values
   (shifted or stretched samples would give them back only through ``np.quantile``'s
   interpolation between order statistics), so mean_wQuantileLoss and coverage score the
   calibrated intervals themselves; other levels are interpolated by GluonTS.

No look-ahead: every score used for a forecast comes from a window that ends before its
origin, so in a rolling backtest each window is calibrated on earlier windows only. Univariate
series only; the whole dataset given to ``predict`` is read before the first forecast (pooling).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence

import numpy as np
from gluonts.dataset import Dataset
from gluonts.dataset.split import slice_data_entry
from gluonts.model.forecast import Forecast, QuantileForecast
from gluonts.model.predictor import Predictor

from .backtesting import backtest_span
from .errors import DataError

CENTRAL_LEVELS = (0.2, 0.4, 0.5, 0.6, 0.8, 0.9, 0.95)
MIN_ITEM_WINDOWS = 20


def _ends(levels: Sequence[float]):
    return [round((1 - c) / 2, 10) for c in levels], [round((1 + c) / 2, 10) for c in levels]


def conformal_adjustment(scores: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """``d`` per level and step from ``scores`` (windows x levels x steps, NaN: no score): the
    ``ceil((n + 1) c)``-th smallest of the ``n`` scores, clipped to ``n``; 0 with no score."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[0] == 0:
        return np.zeros(scores.shape[1:])
    ordered = np.sort(scores, axis=0)  # NaN sort last
    n = (~np.isnan(scores)).sum(axis=0)
    c = np.asarray(levels, dtype=np.float64)[:, None]
    k = np.minimum(np.ceil((n + 1) * c - 1e-9), n).astype(int)  # 1e-9: (n+1)c exact integers stay
    picked = np.take_along_axis(ordered, np.maximum(k - 1, 0)[None], axis=0)[0]
    return np.where(n > 0, picked, 0.0)


@dataclass
class _Window:
    owner: int  # the entry it calibrates
    end: int  # ordinal of its last step
    key: str  # the same history and end: the same window
    label: np.ndarray


class CalibratedPredictor(Predictor):
    """``predictor`` with its central intervals calibrated on ``windows`` rolling windows before
    each forecast origin (the rule: this module's docstring)."""

    def __init__(
        self,
        predictor: Predictor,
        windows: int,
        distance: Optional[int] = None,
        min_item_windows: int = MIN_ITEM_WINDOWS,
        min_history: Optional[int] = None,
        levels: Sequence[float] = CENTRAL_LEVELS,
    ) -> None:
        if isinstance(windows, bool) or not isinstance(windows, int) or windows < 1:
            raise DataError(f"calibration windows must be a positive integer, got {windows!r}", field="windows")
        super().__init__(prediction_length=predictor.prediction_length, lead_time=getattr(predictor, "lead_time", 0))
        self.predictor, self.windows = predictor, windows
        self.distance = distance or predictor.prediction_length
        self.min_item_windows, self.levels = min_item_windows, tuple(levels)
        self.min_history = predictor.prediction_length if min_history is None else min_history

    def predict(self, dataset: Dataset, **kwargs) -> Iterator[Forecast]:
        entries = list(dataset)
        windows, inputs = self._cut(entries)
        raw = list(self.predictor.predict(entries, **kwargs))
        scores = self._scores(windows, list(self.predictor.predict(inputs, **kwargs)) if inputs else [])
        ends = np.array([w.end for w in windows], dtype=np.int64)
        first = _first_occurrences([w.key for w in windows])
        for position, forecast in enumerate(raw):
            origin = forecast.start_date.ordinal
            own = np.array([w.owner == position for w in windows], dtype=bool)
            chosen = own if own.sum() >= self.min_item_windows else first & (ends < origin)
            yield self._calibrated(forecast, conformal_adjustment(scores[chosen], self.levels), int(chosen.sum()))

    def _cut(self, entries: List[dict]):
        """Each entry's calibration windows (their inputs, for the wrapped predictor)."""
        h = self.prediction_length
        span = backtest_span(h, self.windows, self.distance)
        windows, inputs = [], []
        for position, entry in enumerate(entries):
            target = np.asarray(entry["target"], dtype=np.float64)
            if target.ndim != 1:
                item = entry.get("item_id", position)
                raise DataError(
                    f"series {item!r}: calibration works on univariate series; its target has shape {target.shape}",
                    field="target",
                )
            for k in range(self.windows):
                origin = len(target) - span + k * self.distance
                label = target[origin : origin + h]
                if origin < self.min_history or np.isnan(target[:origin]).all() or np.isnan(label).all():
                    continue
                digest = hashlib.sha1(target[: origin + h].tobytes()).hexdigest()
                end = (entry["start"] + (origin + h - 1)).ordinal
                windows.append(_Window(position, end, f"{entry['start']}/{digest}", label))
                inputs.append(slice_data_entry(entry, slice(None, origin), prediction_length=h))
        return windows, inputs

    def _scores(self, windows: List[_Window], forecasts: List[Forecast]) -> np.ndarray:
        """Windows x levels x steps: ``max(lo - y, y - hi)``."""
        lows, highs = _ends(self.levels)
        scores = np.full((len(windows), len(self.levels), self.prediction_length), np.nan)
        for i, (window, forecast) in enumerate(zip(windows, forecasts)):
            lo = np.stack([np.asarray(forecast.quantile(q), dtype=np.float64) for q in lows])
            hi = np.stack([np.asarray(forecast.quantile(q), dtype=np.float64) for q in highs])
            scores[i] = np.maximum(lo - window.label, window.label - hi)  # NaN where y is missing
        return scores

    def _calibrated(self, forecast: Forecast, adjustment: np.ndarray, used: int) -> QuantileForecast:
        lows, highs = _ends(self.levels)
        lo = np.stack([np.asarray(forecast.quantile(q), dtype=np.float64) for q in lows]) - adjustment
        hi = np.stack([np.asarray(forecast.quantile(q), dtype=np.float64) for q in highs]) + adjustment
        median = np.asarray(forecast.quantile(0.5), dtype=np.float64)[None]
        values = np.sort(np.concatenate([lo, median, hi]), axis=0)
        levels = sorted(lows + [0.5] + highs)
        mean = np.asarray(forecast.mean, dtype=np.float64)[None]
        return QuantileForecast(
            forecast_arrays=np.concatenate([values, mean]),
            start_date=forecast.start_date,
            forecast_keys=[f"{q:g}" for q in levels] + ["mean"],
            item_id=forecast.item_id,
            info={**(forecast.info or {}), "calibration_windows": used},
        )


def _first_occurrences(keys: List[str]) -> np.ndarray:
    seen, first = set(), np.zeros(len(keys), dtype=bool)
    for i, key in enumerate(keys):
        if key not in seen:
            seen.add(key)
            first[i] = True
    return first


def calibrated(predictor: Predictor, windows: Optional[int], distance: Optional[int] = None) -> Predictor:
    """``predictor`` calibrated on ``windows`` rolling windows, or itself when ``windows`` is None."""
    return predictor if not windows else CalibratedPredictor(predictor, windows, distance=distance)


def required_history(prediction_length: int, windows: int, distance: Optional[int] = None) -> int:
    """Steps of history a series needs for all ``windows`` calibration windows of its own."""
    return prediction_length + backtest_span(prediction_length, windows, distance)


__all__ = ["CENTRAL_LEVELS", "MIN_ITEM_WINDOWS", "CalibratedPredictor", "calibrated", "conformal_adjustment"]
