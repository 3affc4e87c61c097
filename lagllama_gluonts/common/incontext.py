"""Covariates for a model that has no weights for them, without any training: in-context
regression, as TimesFM's covariate mode ("xreg + timesfm") does. :class:`InContextCovariates`
wraps any GluonTS predictor (a checkpoint's Lag-Llama zero-shot, SeasonalNaive ...) and returns
:class:`~gluonts.model.forecast.SampleForecast` s.

The rule, per series with ``T`` target steps, horizon ``h``:

1. **Features.** Known-future covariates (``feat_dynamic_real``, ``T + h`` steps) enter at the
   same step. Categorical known-future ones (``feat_dynamic_cat``) are one-hot encoded, one
   column per level seen over the ``T + h`` steps. Past-only covariates
   (``past_feat_dynamic_real``, ``T`` steps) enter **lagged by the horizon**: step ``t`` sees
   ``p[t - h]``, so every horizon step ``T + j`` (``j < h``) uses ``p[T + j - h]``, a value
   known at the forecast origin; the first ``h`` context steps have no lagged value and are
   left out of the fit.
2. **Fit rows.** The last :data:`FIT_WINDOW` (512) context steps whose target and features are
   all observed: a local relation, as TimesFM fits on its context (on ETTh1 a fit over the whole
   17,000-hour history imported a long-run relation into a 24-hour forecast; measured in
   ``benchmarks/results/incontext_covariates.md``). Each feature is
   standardised by its mean and standard deviation over those rows; a feature constant there
   (standard deviation <= 1e-9 of its scale, e.g. all zero) is dropped. Fewer than
   :data:`MIN_ROWS_PER_FEATURE` rows per remaining feature (or none left): no regression.
3. **Intercept.** The regression has one (the target's mean over the fit rows) but it is not
   taken out: the covariate effect is ``e[t] = z[t] . beta`` with ``z`` the *centred*
   standardised features, so the residual series ``y - e`` keeps the target's level and scale
   for the wrapped model's own scaler. A missing feature value counts as its mean (``z = 0``).
4. **Penalty.** Ridge, ``lambda = ridge * n`` (``n`` fit rows) on the standardised features; with
   ``ridge=None`` (default) ``ridge`` is chosen from :data:`RIDGE_GRID` by exact leave-one-out
   error (the hat matrix's diagonal, intercept included).
5. **Gate.** Two tests, both must pass, otherwise the series is forecast exactly as without
   covariates (the wrapped predictor sees the very entry, less its covariate fields: same seed,
   same samples when no series of the call passes (a)).
   (a) *Fit*: the regression's leave-one-out error beats the intercept-only model's (the
   target's mean). A covariate that is constant, absent or pure noise mostly stops here, free.
   (b) *Held-out backtest on the series' own past*: the last :data:`HOLDOUT_WINDOWS` (3)
   horizons before the origin, origins ``T - k h`` (``k = 1 .. 3``), each forecast from the data
   before it only (no look-ahead: the target up to that origin, the known covariates up to its
   end, the past ones up to the origin) twice: without covariates, and by this very rule's
   steps 1-4 and 6 refitted on that truncated series (a window whose refit fails step 2 or (a)
   counts as without). The covariates are used only when the summed mean absolute error of the
   medians (the residual forecast's median plus the point effect ``z . beta_hat``) over the
   held-out windows is strictly lower with them. Cost: up to ``2 x 3`` extra forecasts of the
   wrapped predictor per series that passes (a), in one extra ``predict`` call per chunk. This
   tests the relation over a horizon, which (a) does not: on ETTh1 ``OT`` the loads pass (a) in
   every window, as a long-run relation that does not hold within 24 hours.
6. **Forecast.** The wrapped predictor forecasts the residual series ``y - e`` (covariate
   fields removed); the covariate effect over the horizon is added back to every sample path.
7. **Uncertainty.** The residual series keeps the noise the regression did not explain, so the
   wrapped model's samples carry it. The coefficients' own uncertainty is added: each sample
   path draws its ``beta`` from the ridge posterior ``N(beta_hat, s2 (Z'Z + lambda I)^-1)``,
   ``s2`` the residual variance ``RSS / (n - df)`` (``df`` the hat matrix's trace), from a
   generator seeded by ``seed`` and the series' position. A ``QuantileForecast`` (e.g. a
   calibrated one) gets the point effect ``z . beta_hat`` added to every quantile instead.

``compare=True`` also forecasts the series without covariates (every series of a chunk in which
a regression was used, from the same random draws as the forecast with them: the change is the
covariates', not sampling noise, and the forecasts with them are those ``compare=False`` makes),
and records in :attr:`InContextCovariates.records` the mean absolute change of the median over
the horizon relative to the series' scale (mean absolute observed target; 0 where the regression
was not used): the shared measure of :mod:`~lagllama_gluonts.common.covariate_effect`, which the
command lines print (:func:`change_summary`). Univariate series only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional

import numpy as np
from gluonts.model.forecast import Forecast, QuantileForecast, SampleForecast
from gluonts.model.predictor import Predictor

from .covariate_effect import IN_CONTEXT, relative_change, same_draws
from .errors import DataError

HOLDOUT_WINDOWS = 3  # held-out horizons before the origin (rule, step 5b)
RIDGE_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
MIN_ROWS_PER_FEATURE = 3
COVARIATE_FIELDS = ("feat_dynamic_real", "feat_dynamic_cat", "past_feat_dynamic_real")


@dataclass
class Fit:
    """One series' regression: ``effect`` over the ``T + h`` steps (zeros when unused), the
    horizon's standardised features ``horizon`` (h x m), the posterior's ``beta`` and ``cov``."""

    used: bool
    effect: np.ndarray
    horizon: Optional[np.ndarray] = None
    beta: Optional[np.ndarray] = None
    cov: Optional[np.ndarray] = None
    ridge: Optional[float] = None
    scale: float = 1.0
    why: str = ""
    coefficients: Dict[str, float] = field(default_factory=dict)


FIT_WINDOW = 512  # context steps the regression is fitted on (rule, step 2)


def _who(entry: dict, position: int) -> str:
    return f"item {entry.get('item_id', position)!r}"


def features(entry: dict, horizon: int, position: int = 0):
    """``(F, names)``: the regression's features over the ``T + h`` steps (m x (T + h), NaN
    where unknown), step 1 of the rule; a :class:`DataError` names item, field and problem."""
    target = np.asarray(entry["target"], dtype=np.float64)
    if target.ndim != 1:
        raise DataError(
            f"{_who(entry, position)}: target has shape {target.shape}; in-context covariates need univariate series",
            field="target",
        )
    length, rows, names = target.shape[0], [], []
    for name in ("feat_dynamic_real", "feat_dynamic_cat"):
        if entry.get(name) is None:
            continue
        values = np.atleast_2d(np.asarray(entry[name], dtype=np.float64))
        if values.shape[1] < length + horizon:
            raise DataError(
                f"{_who(entry, position)}: {name} has {values.shape[1]} steps; known-future covariates need the "
                f"target's {length} plus the horizon's {horizon}",
                field=name,
            )
        values = values[:, : length + horizon]
        if np.isnan(values[:, length:]).any():
            raise DataError(f"{_who(entry, position)}: {name} has missing values over the horizon", field=name)
        if name == "feat_dynamic_real":
            rows += list(values)
            names += [f"known[{k}]" for k in range(len(values))]
            continue
        for k, row in enumerate(values):  # categorical: one column per level
            for level in np.unique(row[~np.isnan(row)]):
                rows.append(np.where(np.isnan(row), np.nan, (row == level).astype(np.float64)))
                names.append(f"cat[{k}]={level:g}")
    if entry.get("past_feat_dynamic_real") is not None:
        past = np.atleast_2d(np.asarray(entry["past_feat_dynamic_real"], dtype=np.float64))
        if past.shape[1] < length:
            raise DataError(
                f"{_who(entry, position)}: past_feat_dynamic_real has {past.shape[1]} steps, fewer than "
                f"the target's {length}",
                field="past_feat_dynamic_real",
            )
        lagged = np.full((len(past), length + horizon), np.nan)
        lagged[:, horizon:] = past[:, :length]  # step t sees p[t - h]: known at the origin
        rows += list(lagged)
        names += [f"past[{k}] lag {horizon}" for k in range(len(past))]
    return (np.array(rows) if rows else np.zeros((0, length + horizon))), names


def _loo(z: np.ndarray, y: np.ndarray, lam: float):
    """Ridge on centred ``z`` and ``y``: ``(loo_mse, beta, inverse, df, rss)``, the hat matrix
    with the intercept (``1/n``) for the leave-one-out residuals."""
    n, m = z.shape
    inverse = np.linalg.inv(z.T @ z + lam * np.eye(m))
    beta = inverse @ (z.T @ y)
    residual = y - z @ beta
    leverage = 1.0 / n + np.einsum("ij,jk,ik->i", z, inverse, z)
    loo = residual / np.maximum(1.0 - leverage, 1e-9)
    return float(np.mean(loo**2)), beta, inverse, float(leverage.sum()), float(residual @ residual)


def fit(entry: dict, horizon: int, ridge: Optional[float] = None, position: int = 0) -> Fit:
    """Steps 1-5 of the rule for one entry."""
    target = np.asarray(entry["target"], dtype=np.float64)
    raw, names = features(entry, horizon, position)
    length = target.shape[0]
    observed = target[~np.isnan(target)]
    scale = float(np.mean(np.abs(observed))) if observed.size else 1.0
    unused = Fit(False, np.zeros(length + horizon), scale=scale if scale > 0 else 1.0)
    if not len(raw):
        unused.why = "no covariates"
        return unused
    rows = ~np.isnan(target) & ~np.isnan(raw[:, :length]).any(axis=0)
    rows[: max(0, length - FIT_WINDOW)] = False  # the recent past only (see the rule)
    mean, std = raw[:, :length][:, rows].mean(axis=1), raw[:, :length][:, rows].std(axis=1)
    keep = std > 1e-9 * np.maximum(1.0, np.abs(mean))
    n = int(rows.sum())
    if not keep.any() or n < MIN_ROWS_PER_FEATURE * int(keep.sum()) + 2:
        unused.why = "constant covariates" if not keep.any() else f"too few rows ({n})"
        return unused
    z_all = np.nan_to_num((raw[keep] - mean[keep, None]) / std[keep, None]).T  # (T + h) x m, missing -> mean
    z, y = z_all[:length][rows], target[rows] - target[rows].mean()
    base = float(np.mean((y / (1.0 - 1.0 / n)) ** 2))  # intercept-only leave-one-out error
    grid = RIDGE_GRID if ridge is None else (float(ridge),)
    best = min((_loo(z, y, r * n) + (r,) for r in grid), key=lambda fitted: fitted[0])
    loo, beta, inverse, df, rss = best[:5]
    if not loo < base:
        unused.why = "no gain in leave-one-out error"
        return unused
    variance = rss / max(n - df, 1.0)
    kept = [name for name, k in zip(names, keep) if k]
    coefficients = {name: float(b / s) for name, b, s in zip(kept, beta, std[keep])}  # per unit of covariate
    effect = z_all @ beta
    return Fit(True, effect, z_all[length:], beta, variance * inverse, best[5], unused.scale, "", coefficients)


def _without_covariates(entry: dict, target: Optional[np.ndarray] = None) -> dict:
    plain = {k: v for k, v in entry.items() if k not in COVARIATE_FIELDS}
    if target is not None:
        plain["target"] = target.astype(np.float32)
    return plain


def _truncated(entry: dict, cut: int, horizon: int) -> dict:
    """The entry as seen at origin ``cut`` (step 5b): the target up to it, the known covariates up
    to ``cut + horizon``, the past-only ones up to ``cut``."""
    seen = dict(entry, target=np.asarray(entry["target"])[:cut])
    for name, end in (("feat_dynamic_real", cut + horizon), ("feat_dynamic_cat", cut + horizon)):
        if entry.get(name) is not None:
            seen[name] = np.atleast_2d(np.asarray(entry[name]))[:, :end]
    if entry.get("past_feat_dynamic_real") is not None:
        seen["past_feat_dynamic_real"] = np.atleast_2d(np.asarray(entry["past_feat_dynamic_real"]))[:, :cut]
    return seen


def _refit(seen: dict, horizon: int, ridge: Optional[float], position: int) -> Fit:
    """Steps 1-5a on a held-out window's past; a window the rule cannot fit counts as without."""
    try:
        return fit(seen, horizon, ridge, position)
    except DataError:  # e.g. a known covariate missing inside the held-out window
        return Fit(False, np.zeros(len(seen["target"]) + horizon), why="held-out window not fitted")


def _error(median, truth: np.ndarray) -> float:
    """Mean absolute error of a median over the observed steps of a held-out window."""
    observed = ~np.isnan(truth)
    return float(np.mean(np.abs(np.asarray(median, dtype=np.float64)[observed] - truth[observed])))


def _with_effect(forecast: Forecast, fitted: Fit, rng: np.random.Generator) -> Forecast:
    """Step 7: the effect added to the residual series' forecast."""
    if isinstance(forecast, SampleForecast):
        draws = rng.multivariate_normal(fitted.beta, fitted.cov, size=forecast.samples.shape[0], method="eigh")
        samples = forecast.samples + (draws @ fitted.horizon.T).astype(forecast.samples.dtype)
        return SampleForecast(samples, forecast.start_date, forecast.item_id, forecast.info)
    if isinstance(forecast, QuantileForecast):
        arrays = forecast.forecast_array + fitted.horizon @ fitted.beta
        return QuantileForecast(arrays, forecast.start_date, forecast.forecast_keys, forecast.item_id, forecast.info)
    raise TypeError(f"in-context covariates add to sample or quantile forecasts, not {type(forecast).__name__}")


class InContextCovariates(Predictor):
    """``predictor`` with covariates by in-context regression (the module's rule).

    ``ridge``: the penalty relative to the fit rows (None: chosen by leave-one-out);
    ``holdout``: the held-out windows of the gate's backtest (step 5b; 0: leave-one-out only);
    ``seed``: the coefficient draws' generator; ``compare``: also forecast without covariates
    and record the change (:attr:`records`, one dict per forecast); ``chunk``: series whose
    forecasts are held at once."""

    method = IN_CONTEXT  # what "without covariates" means for its records (covariate_effect's recorders say theirs)

    def __init__(
        self,
        predictor,
        ridge: Optional[float] = None,
        seed: int = 0,
        compare: bool = False,
        chunk=256,
        holdout: int = HOLDOUT_WINDOWS,
    ):
        super().__init__(prediction_length=predictor.prediction_length)
        self.predictor, self.ridge, self.seed, self.compare, self.chunk = predictor, ridge, seed, compare, chunk
        self.holdout = holdout
        self.records: List[dict] = []

    def predict(self, dataset, num_samples: Optional[int] = None, **kwargs) -> Iterator[Forecast]:
        if num_samples is not None:
            kwargs["num_samples"] = num_samples
        entries, start = list(dataset), len(self.records)
        for first in range(0, len(entries), self.chunk):
            part = entries[first : first + self.chunk]
            fits = [fit(e, self.prediction_length, self.ridge, first + k) for k, e in enumerate(part)]
            self._gate(part, fits, first, kwargs)
            inputs = [
                _without_covariates(e, np.asarray(e["target"], dtype=np.float64) - f.effect[: len(e["target"])])
                if f.used
                else _without_covariates(e)
                for e, f in zip(part, fits)
            ]
            used = [k for k, f in enumerate(fits) if f.used]
            forecasts, plain = self._forecast(part, inputs, used, kwargs)
            for k, (fitted, forecast) in enumerate(zip(fits, forecasts)):
                if fitted.used:
                    rng = np.random.default_rng([self.seed, start + first + k])
                    forecast = _with_effect(forecast, fitted, rng)
                self._record(part[k], fitted, forecast, plain.get(k))  # before the yield: a caller may stop
                yield forecast

    def _forecast(self, part: List[dict], inputs: List[dict], used: List[int], kwargs: dict):
        """The chunk's forecasts, and with ``compare`` the used series' forecasts without covariates
        (``{position: forecast}``): the whole chunk forecast again, less its covariate fields, from
        the same random draws, so that a series' change is its covariates', not sampling noise."""
        if not (self.compare and used):
            return list(self.predictor.predict(inputs, **kwargs)), {}
        forecasts, plain = same_draws(
            lambda: list(self.predictor.predict(inputs, **kwargs)),
            lambda: list(self.predictor.predict([_without_covariates(e) for e in part], **kwargs)),
        )
        return forecasts, {k: plain[k] for k in used}

    def _gate(self, part: List[dict], fits: List[Fit], first: int, kwargs: dict) -> None:
        """Step 5b: the held-out backtest of every series that passed step 5a, in one ``predict``
        call; a series whose held-out error is not lower with covariates loses its fit."""
        h, windows, inputs = self.prediction_length, [], []
        for k, fitted in enumerate(fits):
            target = np.asarray(part[k]["target"], dtype=np.float64)
            for j in range(1, self.holdout + 1) if fitted.used else ():
                cut = len(target) - j * h
                if cut < 1 or np.isnan(target[cut : cut + h]).all():
                    continue
                seen = _truncated(part[k], cut, h)
                refit = _refit(seen, h, self.ridge, first + k)
                windows.append((k, target[cut : cut + h], refit))
                inputs.append(_without_covariates(seen, target[:cut]))
                if refit.used:
                    inputs.append(_without_covariates(seen, target[:cut] - refit.effect[:cut]))
        if not windows:
            return
        forecasts, errors = iter(self.predictor.predict(inputs, **kwargs)), {}
        for k, truth, refit in windows:
            plain = _error(next(forecasts).quantile(0.5), truth)
            if refit.used:
                covariates = _error(next(forecasts).quantile(0.5) + refit.horizon @ refit.beta, truth)
            else:
                covariates = plain
            errors[k] = errors.get(k, np.zeros(2)) + (plain, covariates)
        for k, fitted in enumerate(fits):
            if fitted.used and not errors.get(k, np.zeros(2))[1] < errors.get(k, np.zeros(2))[0]:
                fits[k] = Fit(
                    False, np.zeros_like(fitted.effect), scale=fitted.scale, why="no gain in held-out backtest"
                )

    def _record(self, entry: dict, fitted: Fit, forecast: Forecast, plain: Optional[Forecast]) -> None:
        change = 0.0 if plain is None else relative_change(forecast, plain, entry["target"])
        record = {"item_id": entry.get("item_id"), "used": fitted.used, "why": fitted.why, "ridge": fitted.ridge}
        self.records.append({**record, "coefficients": fitted.coefficients, "change": change})


def change_summary(records: List[dict]) -> dict:
    """What the command lines print and record: forecasts made (a backtest: series x windows),
    how many used the regression, and the mean (over forecasts) absolute change of the median
    relative to the series' scale."""
    changes = [r["change"] for r in records]
    return {
        "forecasts": len(records),
        "used": sum(r["used"] for r in records),
        "mean_relative_change": float(np.mean(changes)) if changes else 0.0,
        "max_relative_change": float(np.max(changes)) if changes else 0.0,
    }


def change_text(records: List[dict]) -> str:
    """One line: how much the covariates changed the forecast."""
    s = change_summary(records)
    return (
        f"in-context covariates: used in {s['used']} of {s['forecasts']} forecasts (the rest: no gain in "
        "leave-one-out error or in a held-out backtest of the series' own past, or constant covariates); "
        "they moved the median by "
        f"{100 * s['mean_relative_change']:.2f}% of the series' scale on average "
        f"(at most {100 * s['max_relative_change']:.2f}%)"
    )
