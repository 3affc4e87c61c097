"""
Evaluation that computes: backtests and their metrics, shared by both models' CLIs and the
benchmarks; nothing here prints or writes (:mod:`~lagllama_gluonts.common.reporting` does).

Everything here is plain GluonTS: predictions come from
:func:`gluonts.evaluation.make_evaluation_predictions`, metrics from
:class:`gluonts.evaluation.Evaluator`, so numbers are comparable with any
other GluonTS model evaluated the same way.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
from gluonts.core.settings import let
from gluonts.dataset import Dataset
from gluonts.dataset.split import split
from gluonts.env import env as gluonts_env
from gluonts.evaluation import Evaluator, make_evaluation_predictions
from gluonts.model.forecast import Forecast
from gluonts.model.predictor import Predictor
from gluonts.model.seasonal_naive import SeasonalNaivePredictor
from gluonts.time_feature import get_seasonality
from tqdm.auto import tqdm

from .constants import INTERVAL_LEVELS, QUANTILES, REPORT_METRICS
from .errors import DataError

TimeSeries = Union[pd.Series, pd.DataFrame]


def _limit(dataset: Dataset, max_series: Optional[int]) -> Dataset:
    """Keep only the first ``max_series`` entries (all when ``None``)."""
    if max_series is None:
        return dataset
    if max_series < 1:
        raise ValueError(f"max_series must be positive, got {max_series}")
    return list(itertools.islice(dataset, max_series))


def _length(dataset: Dataset) -> Optional[int]:
    try:
        return len(dataset)  # type: ignore[arg-type]
    except TypeError:
        # Streaming datasets have no length; tqdm then shows a count only.
        return None


def run_backtest(
    predictor: Predictor,
    dataset: Dataset,
    num_samples: int = 100,
    max_series: Optional[int] = None,
    progress: bool = True,
) -> Tuple[Dict[str, float], List[Forecast], List[TimeSeries]]:
    """
    Forecast the last ``prediction_length`` steps of each series and score
    them with GluonTS' :class:`~gluonts.evaluation.Evaluator`.

    Parameters
    ----------
    predictor
        Any GluonTS predictor.
    dataset
        Test dataset; the trailing ``predictor.prediction_length`` values of
        every entry are held out and forecast.
    num_samples
        Number of sample paths drawn by sampling-based predictors.
    max_series
        Evaluate only the first ``max_series`` entries, for quick runs.
    progress
        Show progress bars while forecasting and evaluating.

    Returns
    -------
    Tuple[Dict[str, float], List[Forecast], List[pandas.DataFrame]]
        Aggregate metrics, the forecasts and the matching ground-truth
        series (history and held-out window), in dataset order.
    """
    dataset = _limit(dataset, max_series)
    num_series = _length(dataset)

    # GluonTS' own bars (the Evaluator's) follow its env flag, ours follows
    # ``disable``; toggling both keeps ``progress=False`` fully quiet.
    with let(gluonts_env, use_tqdm=progress):
        forecast_it, ts_it = make_evaluation_predictions(dataset=dataset, predictor=predictor, num_samples=num_samples)
        # Materialize while predicting so the bar reflects model time, which
        # dominates; the series are needed again for plots anyway.
        forecasts = list(
            tqdm(
                forecast_it,
                total=num_series,
                desc="Forecasting",
                unit="series",
                disable=not progress,
            )
        )
        tss = list(ts_it)

        evaluator = Evaluator(quantiles=QUANTILES, num_workers=0)
        agg_metrics, _ = evaluator(iter(tss), iter(forecasts), num_series=len(tss))
    tallies = [
        interval_tallies(f, np.asarray(ts, dtype=np.float64)[-f.prediction_length :]) for f, ts in zip(forecasts, tss)
    ]
    agg_metrics.update(interval_metrics(pd.DataFrame.from_records(tallies)))
    return agg_metrics, forecasts, tss


# --------------------------------------------------------------------------- central intervals


def _level(q: float) -> float:
    # (1 - 0.9) / 2 is 0.04999...: a QuantileForecast finds its stored 0.05 only when spelled so
    return round(q, 10)


def interval_tallies(forecast: Forecast, truth, levels: Sequence[float] = INTERVAL_LEVELS) -> Dict[str, float]:
    """One forecast's central intervals against the ``truth`` of its horizon, as sums that add
    up over windows and items (:func:`interval_metrics` turns them into rates): observed steps,
    their summed |target|, and per level the steps inside ``[q((1-c)/2), q((1+c)/2)]`` (ends
    included) and the summed width. Read from the forecast's own quantiles, not from the
    Evaluator's ``Coverage[q]`` (whose difference miscounts ties, e.g. a one-sample forecast)."""
    y = np.asarray(truth, dtype=np.float64).reshape(-1)
    if y.size != forecast.prediction_length:  # a joint (D x T) forecast: not scored here
        return {}
    observed = ~np.isnan(y)
    tallies = {"_observed": float(observed.sum()), "_abs_target": float(np.abs(y[observed]).sum())}
    for c in levels:
        low = np.asarray(forecast.quantile(_level((1 - c) / 2)), dtype=np.float64).reshape(-1)
        high = np.asarray(forecast.quantile(_level((1 + c) / 2)), dtype=np.float64).reshape(-1)
        tallies[f"_in_{round(100 * c)}"] = float((observed & (low <= y) & (y <= high)).sum())
        tallies[f"_width_{round(100 * c)}"] = float((high - low)[observed].sum())
    return tallies


def interval_metrics(tallies: Mapping, levels: Sequence[float] = INTERVAL_LEVELS) -> Dict[str, float]:
    """``coverage_50`` ...: observed steps inside the central interval / observed steps;
    ``width_50`` ...: summed interval width / summed |target| (unit-free, like ND), both pooled
    over whatever ``tallies`` (columns of :func:`interval_tallies`' sums) holds."""
    if "_observed" not in tallies:
        return {}
    observed, scale = float(np.sum(tallies["_observed"])), float(np.sum(tallies["_abs_target"]))
    out = {}
    for c in levels:
        out[f"coverage_{round(100 * c)}"] = (
            float(np.sum(tallies[f"_in_{round(100 * c)}"])) / observed if observed else math.nan
        )
    for c in levels:
        out[f"width_{round(100 * c)}"] = (
            float(np.sum(tallies[f"_width_{round(100 * c)}"])) / scale if scale else math.nan
        )
    return out


def _format_value(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.6g}"


def backtest_metrics_table(
    agg_metrics: Dict[str, float],
    metrics: Sequence[str] = REPORT_METRICS,
) -> str:
    """
    Format the headline metrics of an evaluation as an aligned text table.

    Parameters
    ----------
    agg_metrics
        Aggregate metrics as returned by :func:`run_backtest`.
    metrics
        Metric names to show, in order; names missing from ``agg_metrics``
        are skipped so the table also works for custom evaluators.

    Returns
    -------
    str
        Two columns, ``metric`` and ``value``, one metric per line.
    """
    rows = [(name, _format_value(agg_metrics[name])) for name in metrics if name in agg_metrics]
    if not rows:
        raise ValueError(f"none of {list(metrics)} found in metrics {sorted(agg_metrics)}")
    name_width = max(len("metric"), *(len(name) for name, _ in rows))
    value_width = max(len("value"), *(len(value) for _, value in rows))
    lines = [
        f"{'metric':<{name_width}}  {'value':>{value_width}}",
        f"{'-' * name_width}  {'-' * value_width}",
    ]
    lines += [f"{name:<{name_width}}  {value:>{value_width}}" for name, value in rows]
    return "\n".join(lines)


def seasonal_naive_baseline(
    dataset_meta_freq: str,
    prediction_length: int,
    season_length: Optional[int] = None,
) -> SeasonalNaivePredictor:
    """
    GluonTS' seasonal naive predictor, the reference every model must beat.

    Parameters
    ----------
    dataset_meta_freq
        Frequency string of the dataset (``dataset.metadata.freq``).
    prediction_length
        Forecast horizon.
    season_length
        Season to repeat; defaults to
        :func:`gluonts.time_feature.get_seasonality` of the frequency
        (e.g. 24 for hourly, 12 for monthly data).

    Returns
    -------
    SeasonalNaivePredictor
    """
    if season_length is None:
        season_length = get_seasonality(dataset_meta_freq)
    return SeasonalNaivePredictor(prediction_length=prediction_length, season_length=season_length)


def compare_metrics_table(
    named_metrics: Dict[str, Dict[str, float]],
    metrics: Sequence[str] = REPORT_METRICS,
) -> str:
    """
    Headline metrics of several models on the same split, one column per model.

    Parameters
    ----------
    named_metrics
        Model name -> aggregate metrics as returned by :func:`run_backtest`.
    metrics
        Metric names to show, in order; names no model reports are skipped.

    Returns
    -------
    str
        An aligned text table: ``metric`` then one column per model. ``coverage_80`` is the
        share of observed steps inside the central 80% interval; ``width_80`` its summed width
        over the summed |target| (:func:`interval_metrics`).
    """
    if not named_metrics:
        raise ValueError("no metrics to compare")
    names = list(named_metrics)
    rows = [
        [metric] + [_format_value(named_metrics[n].get(metric)) for n in names]
        for metric in metrics
        if any(metric in named_metrics[n] for n in names)
    ]
    if not rows:
        raise ValueError(f"none of {list(metrics)} found in the metrics")
    header = ["metric"] + names
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(f"{cell:<{w}}" if i == 0 else f"{cell:>{w}}" for i, (cell, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


# --------------------------------------------------------------------------- holding out


def holdout_last_window(
    dataset: Dataset,
    prediction_length: int,
    min_train_length: Optional[int] = None,
    keep_short: bool = False,
) -> Tuple[List[dict], List[dict]]:
    """Split a training set in time: each series without its last ``prediction_length`` steps
    (to train on), and each full series (to validate on its last window, which GluonTS's
    ``ValidationSplitSampler`` scores and the training part never contains).

    The one rule fine-tuning, both CLIs and pretraining use. A series gives up its last window
    only when at least ``min_train_length`` steps (default: ``prediction_length + 1``) remain to
    train on; shorter ones are left out (``keep_short=False``: fine-tuning, where every series
    must be validated on) or trained on whole (``keep_short=True``: pretraining, where short
    series are data too). When nothing is left to train on, that is a :class:`DataError`.
    """
    min_train_length = prediction_length + 1 if min_train_length is None else min_train_length
    fit, validation = [], []
    for entry in dataset:
        length = np.shape(entry["target"])[-1]  # time is the last axis, also for D x T targets
        if length - prediction_length < min_train_length:
            if keep_short:
                fit.append(entry)
            continue
        fit.append({**entry, "target": np.asarray(entry["target"])[..., : length - prediction_length]})
        validation.append(entry)
    if not fit:
        raise DataError(
            f"no series has {min_train_length + prediction_length} or more steps ({min_train_length} to train on "
            f"and the last {prediction_length} to validate with)"
        )
    return fit, validation


# --------------------------------------------------------------------------- side by side


def compare_backtests(
    predictors: Dict[str, Predictor],
    test_data: Dataset,
    num_samples: int = 100,
    max_series: Optional[int] = None,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, float]], List[Forecast], List[TimeSeries]]:
    """Backtest each named predictor on the same split (:func:`run_backtest`).

    Returns the metrics by name (each with its ``predict_seconds``) and the first predictor's
    forecasts with the matching series, for plotting; :func:`compare_metrics_table` shows the
    metrics side by side.
    """
    metrics: Dict[str, Dict[str, float]] = {}
    first: Optional[Tuple[List[Forecast], List[TimeSeries]]] = None
    for i, (name, predictor) in enumerate(predictors.items()):
        started = time.time()
        metrics[name], forecasts, tss = run_backtest(
            predictor, test_data, num_samples=num_samples, max_series=max_series, progress=progress and i == 0
        )
        metrics[name]["predict_seconds"] = time.time() - started
        if first is None:
            first = (forecasts, tss)
    if first is None:
        raise ValueError("no predictors given")
    return metrics, first[0], first[1]


# --------------------------------------------------------------------------- rolling-origin backtests


@dataclass
class RollingBacktest:
    """What :func:`rolling_backtest` measured.

    ``metrics``: model name -> GluonTS's aggregate metrics over every item and window (the
    Evaluator's own aggregation). ``item_metrics``: one row per model and item, its windows
    aggregated the same way. ``window_metrics``: one row per model, item and window (window 0
    is the earliest). ``skipped``: ids of the items too short for the windows. ``examples``:
    for the first items, their series and each model's forecasts, for plots.
    """

    metrics: Dict[str, Dict[str, float]]
    item_metrics: pd.DataFrame
    window_metrics: pd.DataFrame
    skipped: List
    examples: List[Tuple[object, pd.Series, Dict[str, List[Forecast]]]]
    prediction_length: int
    windows: int
    distance: int
    freq: str
    items: int

    def record(self) -> dict:
        """The JSON-able summary ``metrics.json`` holds."""
        return {
            "prediction_length": self.prediction_length,
            "windows": self.windows,
            "distance": self.distance,
            "freq": self.freq,
            "items": self.items,
            "skipped": len(self.skipped),
            "skipped_items": [str(s) for s in self.skipped[:20]],
            "metrics": self.metrics,
        }


def _item_name(entry: dict, position: int):
    return entry.get("item_id", position)


def backtest_span(prediction_length: int, windows: int, distance: Optional[int] = None) -> int:
    """Steps at the end of each series that ``windows`` rolling windows cover."""
    distance = prediction_length if distance is None else distance
    return (windows - 1) * distance + prediction_length


def rolling_backtest(
    dataset: Dataset,
    predictor_or_estimator,
    prediction_length: int,
    windows: int = 1,
    distance: Optional[int] = None,
    num_samples: int = 100,
    baseline: bool = True,
    season_length: Optional[int] = None,
    min_history: Optional[int] = None,
    name: str = "model",
    plot_items: int = 4,
    progress: bool = True,
    derived: Optional[Dict[str, Callable[[Predictor], Predictor]]] = None,
) -> RollingBacktest:
    """
    Rolling-origin evaluation of any GluonTS model on every series of ``dataset``, beside
    GluonTS's SeasonalNaive on the very same windows; model-agnostic (both models' CLIs).

    The windows come from GluonTS's own splitter: ``split(dataset, offset=-span)`` and
    ``generate_instances(prediction_length, windows, distance)``, where ``span`` is what the
    windows cover at the end of each series; window ``k`` forecasts ``prediction_length``
    steps from the origin ``k * distance`` steps after the split (``distance`` defaults to the
    horizon: windows side by side). Each window sees all the history before its origin.

    ``predictor_or_estimator``: a GluonTS predictor (used as it is: zero-shot), or an
    estimator, trained first on each series' part before the split (never on a window).
    ``derived``: more models made from that predictor, scored beside it on the same windows
    (e.g. ``{"X calibrated": lambda p: CalibratedPredictor(p, 8)}``); each is handed every
    window's input only, so anything it learns comes from before that window's origin.

    Series shorter than ``min_history`` (default: ``prediction_length``) plus ``span`` steps,
    or without any observed value before the first window, are skipped and listed in
    ``skipped``; none left is a :class:`DataError`.
    """
    for label, value in (("prediction_length", prediction_length), ("windows", windows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    distance = prediction_length if distance is None else distance
    if distance < 1:
        raise ValueError(f"distance must be a positive integer, got {distance!r}")
    span = backtest_span(prediction_length, windows, distance)
    min_history = prediction_length if min_history is None else min_history
    kept, skipped = [], []
    for position, entry in enumerate(dataset):
        target = np.asarray(entry["target"])
        if target.shape[-1] >= span + min_history and not np.isnan(target[..., :-span]).all():
            kept.append(entry)
        else:
            skipped.append(_item_name(entry, position))
    if not kept:
        raise DataError(
            f"no series has the {span + min_history} steps {windows} window(s) of {prediction_length} need "
            f"({min_history} of history before the first); the longest of the {len(skipped)} has "
            f"{max((np.shape(e['target'])[-1] for e in dataset), default=0)}: use fewer --windows or a shorter "
            "--prediction-length"
        )
    freq = kept[0]["start"].freqstr

    training, template = split(kept, offset=-span)
    test_data = template.generate_instances(prediction_length, windows=windows, distance=distance)
    predictor = predictor_or_estimator
    if not hasattr(predictor, "predict") and hasattr(predictor, "train"):
        predictor = predictor.train(list(training))
    models = {name: predictor, **{label: make(predictor) for label, make in (derived or {}).items()}}
    if baseline:
        models["SeasonalNaive"] = seasonal_naive_baseline(freq, prediction_length, season_length)

    names = [_item_name(entry, position) for position, entry in enumerate(kept)]
    shown = min(plot_items, len(kept)) * windows
    metrics, per_item, per_window = {}, [], []
    examples: Dict[str, List[Forecast]] = {}
    for i, (model, model_predictor) in enumerate(models.items()):
        evaluator = Evaluator(quantiles=QUANTILES, num_workers=0)
        agg, rows, first = _score_windows(
            evaluator,
            model_predictor,
            test_data,
            num_samples,
            shown,
            progress=progress and i == 0,
            desc=f"backtesting {model}",
        )
        rows.insert(0, "model", model)
        rows["item_id"] = np.repeat(np.asarray(names, dtype=object), windows)
        rows.insert(2, "window", np.tile(np.arange(windows), len(kept)))
        metrics[model] = agg
        per_window.append(_public_intervals(rows))
        per_item.append(_per_item(evaluator, rows, model))
        examples[model] = first
    series = [_as_series(entry, freq) for entry in kept[: min(plot_items, len(kept))]]
    shown_examples = [
        (names[k], series[k], {model: examples[model][k * windows : (k + 1) * windows] for model in models})
        for k in range(len(series))
    ]
    return RollingBacktest(
        metrics=metrics,
        item_metrics=pd.concat(per_item, ignore_index=True),
        window_metrics=pd.concat(per_window, ignore_index=True).drop(columns=_tally_columns(per_window[0])),
        skipped=skipped,
        examples=shown_examples,
        prediction_length=prediction_length,
        windows=windows,
        distance=distance,
        freq=freq,
        items=len(kept),
    )


def _as_series(entry: dict, freq: str) -> pd.Series:
    target = np.asarray(entry["target"], dtype=np.float64)
    return pd.Series(target, index=pd.period_range(entry["start"], periods=len(target), freq=freq))


def _score_windows(evaluator: Evaluator, predictor, test_data, num_samples: int, keep: int, progress: bool, desc: str):
    """GluonTS's Evaluator over the windows, forecasts streamed (only the first ``keep`` kept)."""
    kept: List[Forecast] = []
    tallies: List[Dict[str, float]] = []

    def forecasts():
        stream = predictor.predict(test_data.input, num_samples=num_samples)
        labels = iter(test_data.label)
        for k, forecast in enumerate(
            tqdm(stream, total=len(test_data), desc=desc, unit="window", disable=not progress)
        ):
            if k < keep:
                kept.append(forecast)
            tallies.append(interval_tallies(forecast, next(labels)["target"]))
            yield forecast

    def truths():
        for past, label in test_data:
            target = np.concatenate([np.asarray(past["target"]), np.asarray(label["target"])]).astype(np.float64)
            yield pd.Series(target, index=pd.period_range(past["start"], periods=len(target), freq=past["start"].freq))

    with let(gluonts_env, use_tqdm=False):
        agg, rows = evaluator(truths(), forecasts(), num_series=len(test_data))
    rows = rows.drop(columns=["item_id"], errors="ignore").reset_index(drop=True)
    rows.insert(0, "item_id", None)
    tally_frame = pd.DataFrame.from_records(tallies)
    rows = pd.concat([rows, tally_frame], axis=1)
    return {**agg, **interval_metrics(tally_frame)}, rows, kept


def _tally_columns(rows: pd.DataFrame) -> List[str]:
    return [column for column in rows.columns if str(column).startswith("_")]


def _public_intervals(rows: pd.DataFrame) -> pd.DataFrame:
    """Each window's own coverage and width columns beside its tallies."""
    if "_observed" not in rows:
        return rows
    per_row = [interval_metrics(row) for row in rows[_tally_columns(rows)].to_dict("records")]
    return pd.concat([rows, pd.DataFrame.from_records(per_row, index=rows.index)], axis=1)


def _per_item(evaluator: Evaluator, rows: pd.DataFrame, model: str) -> pd.DataFrame:
    """Each item's windows aggregated by the Evaluator's own rules (sums, means, ratios)."""
    records = []
    for item, group in rows.groupby("item_id", sort=False):
        agg, _ = evaluator.get_aggregate_metrics(group.drop(columns=["model", "window"]))
        agg.update(interval_metrics(group))  # pooled over the item's windows, not averaged
        records.append(
            {"model": model, "item_id": item, "windows": len(group), **{m: agg[m] for m in REPORT_METRICS if m in agg}}
        )
    return pd.DataFrame.from_records(records)
