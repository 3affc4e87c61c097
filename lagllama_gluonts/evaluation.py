"""
Evaluation helpers shared by the CLIs and benchmarks.

Everything here is plain GluonTS: predictions come from
:func:`gluonts.evaluation.make_evaluation_predictions`, metrics from
:class:`gluonts.evaluation.Evaluator`, so numbers are comparable with any
other GluonTS model evaluated the same way.
"""

from __future__ import annotations

import itertools
import math
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

EVALUATION_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

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

        evaluator = Evaluator(quantiles=EVALUATION_QUANTILES, num_workers=0)
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


def _first_dim(values: np.ndarray) -> np.ndarray:
    # Multivariate forecasts/series are drawn for their first dimension only.
    values = np.asarray(values)
    return values if values.ndim == 1 else values.reshape(len(values), -1)[:, 0]


def _to_timestamps(index: pd.Index) -> pd.Index:
    # Matplotlib understands timestamps, not pandas periods.
    return index.to_timestamp() if isinstance(index, pd.PeriodIndex) else index


def _plot_one(ax, forecast: Forecast, ts: TimeSeries, history: int) -> None:
    """Draw recent history, truth, median and 50%/90% intervals on ``ax``."""
    window = ts.iloc[-(history + forecast.prediction_length) :]
    ax.plot(
        _to_timestamps(window.index),
        _first_dim(window.to_numpy()),
        color="black",
        linewidth=1,
        label="observed",
    )

    index = _to_timestamps(forecast.index)
    for (low, high), alpha, label in (
        ((0.05, 0.95), 0.2, "90% interval"),
        ((0.25, 0.75), 0.4, "50% interval"),
    ):
        ax.fill_between(
            index,
            _first_dim(forecast.quantile(low)),
            _first_dim(forecast.quantile(high)),
            color="tab:blue",
            alpha=alpha,
            linewidth=0,
            label=label,
        )
    ax.plot(
        index,
        _first_dim(forecast.quantile(0.5)),
        color="tab:blue",
        linewidth=1.5,
        label="median forecast",
    )
    ax.axvline(index[0], color="grey", linestyle=":", linewidth=1)
    item = forecast.item_id
    ax.set_title(f"item {item}" if item is not None else "series")
    ax.set_xlabel("time")
    ax.set_ylabel("value")
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)


def plot_forecasts(
    forecasts: Sequence[Forecast],
    tss: Sequence[TimeSeries],
    path: Union[Path, str],
    num_series: int = 4,
    history: Optional[int] = None,
    title: Optional[str] = None,
) -> Path:
    """
    Save a grid of forecast plots as a PNG.

    Parameters
    ----------
    forecasts
        Forecasts as returned by :func:`run_backtest`.
    tss
        The matching ground-truth series (history and held-out window).
    path
        Output file; parent directories are created.
    num_series
        Plot the first ``num_series`` forecasts.
    history
        Observed steps shown before the forecast window; defaults to four
        prediction lengths, enough to see seasonality without squashing
        the forecast.
    title
        Figure title.

    Returns
    -------
    Path
        The written PNG.
    """
    # An explicit Agg canvas instead of pyplot: works headless and leaves
    # the caller's global backend and figure registry alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    count = min(num_series, len(forecasts), len(tss))
    if count < 1:
        raise ValueError("nothing to plot: no forecasts given")
    cols = min(2, count)
    rows = math.ceil(count / cols)

    fig = Figure(figsize=(6 * cols, 3.2 * rows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, forecast, ts in zip(axes.flat, forecasts, tss[:count]):
        steps = history
        if steps is None:
            steps = 4 * forecast.prediction_length
        _plot_one(ax, forecast, ts, steps)
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)

    handles, labels = axes.flat[0].get_legend_handles_labels()
    # A single column is too narrow for one legend row; reserve the
    # legend's height in inches so it never overlaps the axes.
    ncol = len(labels) if cols > 1 else 2
    legend_inches = 0.22 * math.ceil(len(labels) / ncol) + 0.05
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, 1))

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


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
