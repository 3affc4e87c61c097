"""statsforecast's AutoETS, AutoTheta and AutoARIMA as GluonTS predictors (the ``bench`` extra).

These are what a user would fit per series instead of a zero-shot model, so the zero-shot
benchmark puts them beside it on the same windows, scored by the same GluonTS ``Evaluator``.
Each series is fitted on its own history (the last ``MAX_HISTORY[model]`` steps: an ARIMA over
17,000 hourly steps costs minutes and forecasts no better) with the season length GluonTS's MASE
uses for the frequency; the forecast is a ``QuantileForecast`` whose quantiles come from the
model's prediction intervals (q = 0.1 is the lower end of the 80% interval, ...), and whose
median is the point forecast. Besides the scored quantiles 0.1 ... 0.9 it carries 0.05 and 0.95
(the 90% interval's ends), so that the 90% interval's coverage is read from the model's own
interval, not from GluonTS's exponential extrapolation beyond the outermost stored quantile;
the Evaluator's quantile loss reads only 0.1 ... 0.9, which these extra levels leave unchanged.
A fit that fails (too short, constant) falls back to the seasonal-naive forecast, counted in
``fallbacks``.
"""

from __future__ import annotations

import warnings
from typing import Dict, Iterator, Sequence

import numpy as np

QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # what the Evaluator scores (the package's)
# what the forecasts carry: also the ends of the 90% central interval, whose coverage is reported
FORECAST_QUANTILES = (0.05,) + QUANTILES + (0.95,)
# standard normal quantiles of a central interval's upper end, for the seasonal-naive fallback
_Z = {20: 0.2533, 40: 0.5244, 60: 0.8416, 80: 1.2816, 90: 1.6449, 95: 1.9600}
MODELS = ("AutoETS", "AutoTheta", "AutoARIMA")
# history each model is fitted on: AutoARIMA's seasonal search over 1,000 hourly steps (season 24)
# took minutes per window here, and 300 steps (12 days of hours, 25 years of months) is what a user
# fitting it per series would give it
MAX_HISTORY = {"AutoETS": 1000, "AutoTheta": 1000, "AutoARIMA": 300}


def _levels(quantiles: Sequence[float]) -> list:
    """The central interval levels (%) whose ends are these quantiles: 0.1 and 0.9 -> 80."""
    return sorted({int(round(abs(1 - 2 * q) * 100)) for q in quantiles if q != 0.5})


def _quantile_rows(result: Dict[str, np.ndarray], quantiles: Sequence[float]) -> np.ndarray:
    rows = []
    for q in quantiles:
        if q == 0.5:
            rows.append(result["mean"])
            continue
        level = int(round(abs(1 - 2 * q) * 100))
        rows.append(result[f"lo-{level}"] if q < 0.5 else result[f"hi-{level}"])
    return np.stack(rows)


class StatsForecastPredictor:
    """A GluonTS-style predictor: ``predict(dataset)`` yields one ``QuantileForecast`` per entry."""

    def __init__(
        self,
        model: str,
        freq: str,
        prediction_length: int,
        max_history: int = None,
        quantiles: Sequence[float] = FORECAST_QUANTILES,
    ):
        if model not in MODELS:
            raise ValueError(f"unknown statistical model {model!r}; known: {', '.join(MODELS)}")
        from gluonts.time_feature import get_seasonality

        self.model = model
        self.lead_time = 0  # what make_evaluation_predictions reads of a GluonTS predictor
        self.freq = freq
        self.prediction_length = prediction_length
        self.season_length = max(1, int(get_seasonality(freq)))
        self.max_history = max_history or MAX_HISTORY[model]
        self.quantiles = tuple(quantiles)
        self.fallbacks = 0

    def _make(self):
        import statsforecast.models as models

        return getattr(models, self.model)(season_length=self.season_length)

    def _seasonal_naive(self, y: np.ndarray) -> Dict[str, np.ndarray]:
        m, h = self.season_length, self.prediction_length
        last = y[-m:] if len(y) >= m else y[-1:]
        mean = np.resize(last, h)
        spread = np.std(np.diff(y)) if len(y) > 2 else 0.0
        result = {"mean": mean}
        for level in _levels(self.quantiles):
            z = _Z.get(level, 1.2816)
            result[f"lo-{level}"], result[f"hi-{level}"] = mean - z * spread, mean + z * spread
        return result

    def _forecast(self, y: np.ndarray) -> Dict[str, np.ndarray]:
        y = y[-self.max_history :].astype(float)
        if np.isnan(y).any():  # statistical fits need a gap-free history: carry the last value
            y = _fill_forward(y)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = self._make().forecast(y=y, h=self.prediction_length, level=_levels(self.quantiles))
            if not all(np.all(np.isfinite(v)) for v in result.values()):
                raise ValueError("non-finite forecast")
            return result
        except Exception:
            self.fallbacks += 1
            return self._seasonal_naive(y)

    def predict(self, dataset, num_samples: int = None, **kwargs) -> Iterator:
        from gluonts.model.forecast import QuantileForecast

        for entry in dataset:
            target = np.asarray(entry["target"], dtype=float)
            result = self._forecast(target)
            arrays = _quantile_rows(result, self.quantiles)
            keys = [f"{q:g}" for q in self.quantiles]
            arrays = np.concatenate([arrays, result["mean"][None]])
            start = entry["start"] + len(target)
            yield QuantileForecast(
                arrays, start_date=start, forecast_keys=keys + ["mean"], item_id=entry.get("item_id")
            )


def _fill_forward(y: np.ndarray) -> np.ndarray:
    y = y.copy()
    first = np.flatnonzero(np.isfinite(y))
    if not len(first):
        return np.zeros_like(y)
    y[: first[0]] = y[first[0]]
    for i in range(1, len(y)):
        if not np.isfinite(y[i]):
            y[i] = y[i - 1]
    return y
