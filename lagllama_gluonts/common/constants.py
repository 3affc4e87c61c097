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
