"""Numbers the whole shared layer agrees on; imports nothing of the package."""

import numpy as np

# The quantiles everything reports: the Evaluator's weighted quantile loss (CRPS), forecast tables.
QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

FLOAT32_MAX = float(np.finfo(np.float32).max)
# the largest |value| a series may hold: headroom below float32's range for sample paths beyond the data
MAX_MAGNITUDE = FLOAT32_MAX / 1e3

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

# Central prediction intervals every report scores (``common.backtesting.interval_metrics``):
# coverage = share of observed steps inside [q(a/2), q(1-a/2)], computed from the forecast's own
# quantiles; width = summed interval width / summed |target| (scaled like ND, so unit-free).
INTERVAL_LEVELS = (0.5, 0.8, 0.9)
INTERVAL_METRICS = tuple(f"coverage_{round(100 * c)}" for c in INTERVAL_LEVELS) + tuple(
    f"width_{round(100 * c)}" for c in INTERVAL_LEVELS
)
# what the printed tables show: CRPS and MASE, then the intervals, then the Evaluator's others
REPORT_METRICS = TABLE_METRICS[:2] + INTERVAL_METRICS + TABLE_METRICS[2:]
