"""The evaluation API in one import, as it has always been importable: what computes
(:mod:`~lagllama_gluonts.common.backtesting`: backtests, metrics, the hold-out rule) and
what writes or prints (:mod:`~lagllama_gluonts.common.reporting`). Nothing in the package
imports this module; it sits on top of both so that neither has to import the other back.
"""

from .backtesting import (
    RollingBacktest,
    TimeSeries,
    backtest_metrics_table,
    backtest_span,
    compare_backtests,
    compare_metrics_table,
    holdout_last_window,
    rolling_backtest,
    run_backtest,
    seasonal_naive_baseline,
)
from .constants import QUANTILES, TABLE_METRICS
from .reporting import (
    BACKTEST_PNG,
    FORECASTS_PNG,
    ITEM_METRICS_FILE,
    METRICS_FILE,
    backtest_side_by_side,
    forecast_table_file,
    write_backtest_report,
    write_forecast,
    write_report,
)

__all__ = [
    "BACKTEST_PNG",
    "FORECASTS_PNG",
    "ITEM_METRICS_FILE",
    "METRICS_FILE",
    "QUANTILES",
    "TABLE_METRICS",
    "RollingBacktest",
    "TimeSeries",
    "backtest_metrics_table",
    "backtest_side_by_side",
    "backtest_span",
    "compare_backtests",
    "compare_metrics_table",
    "forecast_table_file",
    "holdout_last_window",
    "rolling_backtest",
    "run_backtest",
    "seasonal_naive_baseline",
    "write_backtest_report",
    "write_forecast",
    "write_report",
]
