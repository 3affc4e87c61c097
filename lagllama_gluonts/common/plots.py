"""PNG plots of forecasts, drawn on an explicit Agg canvas: headless, and the caller's pyplot
state is left alone."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
from gluonts.model.forecast import Forecast

from .atomic import atomic_path

TimeSeries = Union[pd.Series, pd.DataFrame]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Union[Path, str]) -> Path:
    path = Path(path)
    with atomic_path(path) as temp:  # an interrupted plot leaves the previous PNG, not half of one
        fig.savefig(temp, format="png", dpi=100)
    return path


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
    count = min(num_series, len(forecasts), len(tss))
    if count < 1:
        raise ValueError("nothing to plot: no forecasts given")
    cols = min(2, count)
    rows = math.ceil(count / cols)

    fig = _figure(6 * cols, 3.2 * rows)
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
    return _save(fig, path)


def _plot_table(ax, history: pd.Series, table: pd.DataFrame, title: str, time_column: str = "timestamp") -> None:
    """Draw recent history and a forecast table (median, mean, 40%/80% intervals) on ``ax``."""
    ax.plot(history.index, history.to_numpy(), color="black", lw=1, label="history")
    t = pd.DatetimeIndex(table[time_column])
    for low, high, alpha in (("q0.1", "q0.9", 0.2), ("q0.3", "q0.7", 0.35)):
        if low in table and high in table:
            ax.fill_between(
                t, table[low], table[high], color="tab:blue", alpha=alpha, lw=0, label=f"{low[1:]}-{high[1:]} interval"
            )
    ax.plot(t, table["median"], color="tab:blue", lw=1.5, label="median")
    ax.plot(t, table["mean"], color="tab:orange", lw=1, ls="--", label="mean")
    ax.axvline(t[0], color="grey", ls=":", lw=1)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)


def plot_history_and_forecast(history: pd.Series, table: pd.DataFrame, path: Union[Path, str], title: str) -> Path:
    """Recent history and a forecast table (``forecast_table``'s columns) with 40%/80% intervals."""
    fig = _figure(10, 4)
    _plot_table(fig.subplots(), history, table, title)
    fig.tight_layout()
    return _save(fig, path)


def plot_items(
    history_by_item: Mapping[Any, pd.Series],
    table: pd.DataFrame,
    path: Union[Path, str],
    title: str,
    max_items: int = 4,
    id_column: Optional[str] = None,
    time_column: Optional[str] = None,
) -> Path:
    """A grid of the first ``max_items`` items of a long forecast table (``predict_df``'s:
    id column, timestamp column, ``mean``, ``median``, ``q0.1`` ...), each with its recent
    history (``history_by_item[item]``, a series indexed by timestamps).

    ``id_column`` and ``time_column`` default to the table's first and second columns."""
    id_column = id_column or str(table.columns[0])
    time_column = time_column or str(table.columns[1])
    items = [item for item in pd.unique(table[id_column]) if item in history_by_item][:max_items]
    if not items:
        raise ValueError("nothing to plot: no item of the table has a history")
    cols = min(2, len(items))
    rows = math.ceil(len(items) / cols)
    fig = _figure(6 * cols, 3.2 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, item in zip(axes.flat, items):
        _plot_table(ax, history_by_item[item], table[table[id_column] == item], f"{id_column} {item}", time_column)
    for ax in list(axes.flat)[len(items) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_backtest(
    examples: Sequence,
    path: Union[Path, str],
    title: Optional[str] = None,
    history: Optional[int] = None,
) -> Path:
    """A rolling backtest's first items (``RollingBacktest.examples``: item, its series, each
    model's window forecasts): the observed series over the windows and some history before,
    each window's median with the first model's 10-90% interval, the other models' medians dashed."""
    if not examples:
        raise ValueError("nothing to plot: no backtest windows given")
    cols = min(2, len(examples))
    rows = math.ceil(len(examples) / cols)
    fig = _figure(6 * cols, 3.2 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red")
    for ax, (item, series, by_model) in zip(axes.flat, examples):
        windows = next(iter(by_model.values()))
        first_start = windows[0].index[0]
        before = history if history is not None else 2 * windows[0].prediction_length
        shown = series[series.index >= first_start - before]
        ax.plot(_to_timestamps(shown.index), _first_dim(shown.to_numpy()), color="black", lw=1, label="observed")
        for m, (model, forecasts) in enumerate(by_model.items()):
            colour = colours[m % len(colours)]
            for w, forecast in enumerate(forecasts):
                index = _to_timestamps(forecast.index)
                if m == 0:
                    ax.fill_between(
                        index,
                        _first_dim(forecast.quantile(0.1)),
                        _first_dim(forecast.quantile(0.9)),
                        color=colour,
                        alpha=0.2,
                        lw=0,
                        label="10-90% interval" if w == 0 else None,
                    )
                ax.plot(
                    index,
                    _first_dim(forecast.quantile(0.5)),
                    color=colour,
                    lw=1.3 if m == 0 else 1,
                    ls="-" if m == 0 else "--",
                    label=f"{model} median" if w == 0 else None,
                )
                ax.axvline(index[0], color="grey", ls=":", lw=0.8)
        ax.set_title(f"item {item}")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    for ax in list(axes.flat)[len(examples) :]:
        ax.set_visible(False)
    axes.flat[0].legend(loc="upper left", fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
