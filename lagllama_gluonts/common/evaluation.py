"""
Evaluation shared by both models' CLIs and the benchmarks: one backtest, one report.

Everything here is plain GluonTS: predictions come from
:func:`gluonts.evaluation.make_evaluation_predictions`, metrics from
:class:`gluonts.evaluation.Evaluator`, so numbers are comparable with any
other GluonTS model evaluated the same way.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd
from gluonts.dataset import Dataset
from gluonts.env import env as gluonts_env
from gluonts.evaluation import Evaluator, make_evaluation_predictions
from gluonts.model.forecast import Forecast
from gluonts.model.predictor import Predictor
from gluonts.model.seasonal_naive import SeasonalNaivePredictor
from gluonts.time_feature import get_seasonality
from tqdm.auto import tqdm

from .validation import DataError

# The quantiles everything reports: the Evaluator's weighted quantile loss (CRPS), forecast tables.
QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

# Metric names as they appear in the output of gluonts 0.17's Evaluator,
# in the order they are reported.
TABLE_METRICS = (
    "mean_wQuantileLoss",
    "MASE",
    "sMAPE",
    "MAPE",
    "ND",
    "NRMSE",
    "RMSE",
    "MSE",
    "abs_error",
    "MSIS",
)

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
    with gluonts_env._let(use_tqdm=progress):
        forecast_it, ts_it = make_evaluation_predictions(
            dataset=dataset, predictor=predictor, num_samples=num_samples
        )
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
        agg_metrics, _ = evaluator(
            iter(tss), iter(forecasts), num_series=len(tss)
        )
    return agg_metrics, forecasts, tss


def _format_value(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.6g}"


def backtest_metrics_table(
    agg_metrics: Dict[str, float],
    metrics: Sequence[str] = TABLE_METRICS,
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
    rows = [
        (name, _format_value(agg_metrics[name]))
        for name in metrics
        if name in agg_metrics
    ]
    if not rows:
        raise ValueError(
            f"none of {list(metrics)} found in metrics {sorted(agg_metrics)}"
        )
    name_width = max(len("metric"), *(len(name) for name, _ in rows))
    value_width = max(len("value"), *(len(value) for _, value in rows))
    lines = [
        f"{'metric':<{name_width}}  {'value':>{value_width}}",
        f"{'-' * name_width}  {'-' * value_width}",
    ]
    lines += [
        f"{name:<{name_width}}  {value:>{value_width}}" for name, value in rows
    ]
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
    return SeasonalNaivePredictor(
        prediction_length=prediction_length, season_length=season_length
    )


def compare_metrics_table(
    named_metrics: Dict[str, Dict[str, float]],
    metrics: Sequence[str] = TABLE_METRICS,
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
        An aligned text table: ``metric`` then one column per model.
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
        return "  ".join(
            f"{cell:<{w}}" if i == 0 else f"{cell:>{w}}"
            for i, (cell, w) in enumerate(zip(cells, widths))
        )

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


# --------------------------------------------------------------------------- reports


def backtest_side_by_side(
    predictors: Dict[str, Predictor],
    test_data: Dataset,
    num_samples: int = 100,
    max_series: Optional[int] = None,
    progress: bool = True,
) -> Tuple[Dict[str, Dict[str, float]], List[Forecast], List[TimeSeries]]:
    """Backtest each named predictor on the same split and print their metrics side by side.

    Returns the metrics by name (each with its ``predict_seconds``) and the first predictor's
    forecasts with the matching series, for plotting.
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
    print(compare_metrics_table(metrics), flush=True)
    assert first is not None, "no predictors given"
    return metrics, first[0], first[1]


METRICS_FILE = "metrics.json"
FORECASTS_PNG = "forecasts.png"


def write_report(out: Union[Path, str], record: dict, forecasts: Sequence[Forecast], tss: Sequence[TimeSeries],
                 title: str) -> Tuple[Path, Path]:
    """``OUT/metrics.json`` (the record) and ``OUT/forecasts.png``: the same names for both models."""
    from .plots import plot_forecasts

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / METRICS_FILE
    metrics_path.write_text(json.dumps(record, indent=2, default=float))
    png = plot_forecasts(forecasts, tss, out / FORECASTS_PNG, num_series=4, title=title)
    print(f"wrote {metrics_path} and {png}")
    return metrics_path, png


def write_forecast(out: Union[Path, str], table, column: str, forecast: Forecast, title: str,
                   quantiles: Sequence[float] = QUANTILES, history: Optional[int] = None) -> Tuple[Path, Path]:
    """``OUT/forecast.csv`` (timestamp on the table's own grid, mean, median, ``q0.1`` ...,
    in the column's units) and ``OUT/forecast.png`` for a forecast past the end of a
    :class:`~lagllama_gluonts.common.tables.RegularTable` column: both models' CLIs."""
    from .plots import plot_history_and_forecast
    from .tables import forecast_table

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    horizon = forecast.prediction_length
    frame = forecast_table(forecast, quantiles, timestamps=table.future_timestamps(horizon))
    csv_path = out / "forecast.csv"
    frame.to_csv(csv_path, index=False)
    values = table.frame[column]
    recent = values.iloc[-(history or max(4 * horizon, 64)) :]
    png = plot_history_and_forecast(recent, frame, out / "forecast.png", title)
    print(f"wrote {csv_path} and {png} (forecast {frame['timestamp'].iloc[0]} .. {frame['timestamp'].iloc[-1]})")
    return csv_path, png
