"""Reporting: the files (``metrics.json``, ``item_metrics.csv``, ``forecast.csv``, PNGs) both
models' commands write. The top of the evaluation layers: it computes nothing itself
(:mod:`~lagllama_gluonts.common.backtesting` does) and prints nothing (each function returns
what it wrote; the commands say so).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import pandas as pd
from gluonts.model.forecast import Forecast

from .atomic import atomic_path
from .backtesting import RollingBacktest, TimeSeries, compare_backtests
from .constants import QUANTILES
from .dataframes import predict_series
from .files import write_forecast_frames
from .jsonio import write_json
from .plots import plot_backtest, plot_forecasts, plot_history_and_forecast
from .plots import plot_items as plot_table_items
from .tables import forecast_table

METRICS_FILE = "metrics.json"
FORECASTS_PNG = "forecasts.png"
ITEM_METRICS_FILE = "item_metrics.csv"
BACKTEST_PNG = "backtest.png"
COVARIATE_EFFECT_FILE = "covariate_effect.json"


# the name the commands called when it also printed the table (compare_metrics_table does that now)
backtest_side_by_side = compare_backtests


def write_report(
    out: Union[Path, str], record: dict, forecasts: Sequence[Forecast], tss: Sequence[TimeSeries], title: str
) -> Tuple[Path, Path]:
    """``OUT/metrics.json`` (the record) and ``OUT/forecasts.png``: the same names for both models."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / METRICS_FILE
    write_json(metrics_path, record)
    png = plot_forecasts(forecasts, tss, out / FORECASTS_PNG, num_series=4, title=title)
    return metrics_path, png


def write_covariate_effect(out: Union[Path, str], record: dict) -> Path:
    """``OUT/covariate_effect.json``: a forecast's covariate record
    (:func:`~lagllama_gluonts.common.covariate_effect.summary`; a backtest keeps it in its
    ``metrics.json`` under ``covariate_effect``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / COVARIATE_EFFECT_FILE, record)
    return out / COVARIATE_EFFECT_FILE


def write_forecast(
    out: Union[Path, str],
    table,
    column: str,
    forecast: Forecast,
    title: str,
    quantiles: Sequence[float] = QUANTILES,
    history: Optional[int] = None,
) -> Tuple[Path, Path]:
    """``OUT/forecast.csv`` (timestamp on the table's own grid, mean, median, ``q0.1`` ...,
    in the column's units) and ``OUT/forecast.png`` for a forecast past the end of a
    :class:`~lagllama_gluonts.common.tables.RegularTable` column: both models' CLIs."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    horizon = forecast.prediction_length
    frame = forecast_table(forecast, quantiles, timestamps=table.future_timestamps(horizon))
    csv_path = out / "forecast.csv"
    with atomic_path(csv_path) as temp:  # whole or not at all, as every file written here
        frame.to_csv(temp, index=False)
    values = table.frame[column]
    recent = values.iloc[-(history or max(4 * horizon, 64)) :]
    png = plot_history_and_forecast(recent, frame, out / "forecast.png", title)
    return csv_path, png


def write_backtest_report(
    out: Union[Path, str], result: RollingBacktest, title: str, extra: Optional[dict] = None
) -> Tuple[Path, Path, Path]:
    """``OUT/metrics.json`` (aggregates per model and what was skipped), ``OUT/item_metrics.csv``
    (one row per model and item) and ``OUT/backtest.png`` (the first items' windows)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / METRICS_FILE
    write_json(metrics_path, {**(extra or {}), **result.record()})
    items_path = out / ITEM_METRICS_FILE
    with atomic_path(items_path) as temp:
        result.item_metrics.to_csv(temp, index=False)
    png = plot_backtest(result.examples, out / BACKTEST_PNG, title=title)
    return metrics_path, items_path, png


def forecast_table_file(
    predictor,
    table,
    path: Union[Path, str],
    title: str,
    num_samples: Optional[int] = None,
    quantiles: Sequence[float] = QUANTILES,
    plot_items: int = 4,
    progress: Optional[bool] = None,
) -> Tuple[Path, int, Path]:
    """Forecast every item of a :class:`~lagllama_gluonts.common.tables.SeriesTable` past its
    end and write the long table (item, timestamp, mean, median, ``q0.1`` ...) to ``path``
    (.csv or .parquet) piece by piece as the forecasts stream; ``forecast.png`` beside it
    shows the first ``plot_items`` items. Returns the file, its rows and the PNG."""
    path = Path(path)
    first: List[pd.DataFrame] = []

    def pieces():
        for piece in predict_series(predictor, table.series, quantiles, num_samples=num_samples, progress=progress):
            if not first:
                first.append(piece[piece[table.id_column].isin(pd.unique(piece[table.id_column])[:plot_items])])
            yield piece

    path, rows = write_forecast_frames(path, pieces())
    shown = first[0]
    horizon = len(shown) // max(1, shown[table.id_column].nunique())
    history = table.history(list(pd.unique(shown[table.id_column])), max(4 * horizon, 64))
    png = plot_table_items(
        history,
        shown,
        path.parent / "forecast.png",
        title,
        max_items=plot_items,
        id_column=table.id_column,
        time_column=table.time_column,
    )
    return path, rows, png
