"""A user's CSV (a timestamp column and numeric columns) as one regular series, and the
forecast written back as a table and a plot: shared by the Lag-Llama and Informer CLIs.

Bad input (missing file or column, unparsable dates, text in a numeric column, irregular
or unknown frequency, no values) raises :class:`~lagllama_gluonts.validation.DataError`
with a one-line message naming the problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from .validation import DataError

DEFAULT_QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Column names taken as the timestamps when none is named (else the first column).
TIME_COLUMN_NAMES = ("ds", "date", "datetime", "timestamp", "time")


def guess_time_column(path: Path | str) -> str:
    """The timestamp column of a CSV: one named like ``ds``/``date``, else the first column."""
    try:
        columns = list(pd.read_csv(path, nrows=0).columns)
    except FileNotFoundError:
        raise DataError(f"CSV file not found: {str(path)!r}") from None
    except Exception as error:  # pandas has many parser error types
        raise DataError(f"cannot read {str(path)!r} as CSV: {error}") from None
    if not columns:
        raise DataError(f"{str(path)!r} has no columns")
    lowered = {str(c).lower(): c for c in columns}
    for name in TIME_COLUMN_NAMES:
        if name in lowered:
            return str(lowered[name])
    return str(columns[0])


def _numeric_column(df: pd.DataFrame, column: str) -> pd.Series:
    """The column as floats; non-numeric cells are an error (blanks are NaN)."""
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if raw.dtype == object:
        # Cells that are only whitespace count as missing, not as text.
        bad &= raw.astype(str).str.strip() != ""
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"column {column!r} has non-numeric values, e.g. "
            f"{raw.iloc[row]!r} in data row {row + 1}"
        )
    return values.astype(float)


def load_csv_series(
    path: Path | str,
    target: str,
    covariates: Sequence[str] = (),
    date_column: str = "date",
    freq: Optional[str] = None,
    date_option: str = "--date-col",
) -> Tuple[pd.DataFrame, str]:
    """
    Read a CSV with a date column into a regular, gap-free frame.

    Parameters
    ----------
    path
        CSV file.
    target
        Column to forecast.
    covariates
        Further numeric columns (used as past-only covariates).
    date_column
        Name of the timestamp column.
    freq
        Pandas frequency alias; inferred from the dates when ``None``.
    date_option
        The command-line option naming the date column, quoted in the error when it is missing.

    Returns
    -------
    Tuple[pandas.DataFrame, str]
        Frame indexed by a regular ``DatetimeIndex`` with the target and
        covariate columns (float, NaN where a time step had no row), and
        the frequency string.

    Raises
    ------
    DataError
        Missing file or column, unparsable dates, non-numeric values,
        duplicate or irregular timestamps.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"CSV file not found: {str(path)!r}")
    try:
        df = pd.read_csv(path)
    except Exception as error:  # pandas has many parser error types
        raise DataError(f"cannot read {str(path)!r} as CSV: {error}") from None
    if df.empty:
        raise DataError(f"{str(path)!r} has no data rows")

    columns = [str(c) for c in df.columns]
    if date_column not in df.columns:
        raise DataError(
            f"CSV has no date column {date_column!r} (columns: "
            f"{', '.join(columns)}); name it with {date_option}"
        )
    for name, role in [(target, "target")] + [
        (c, "covariate") for c in covariates
    ]:
        if name not in df.columns:
            raise DataError(
                f"unknown {role} column {name!r}; the CSV has: "
                f"{', '.join(c for c in columns if c != date_column)}"
            )
        if name == date_column:
            raise DataError(f"the {role} column cannot be the date column")

    try:
        dates = pd.to_datetime(df[date_column], format="mixed")
    except (ValueError, TypeError) as error:
        raise DataError(
            f"cannot parse the dates in column {date_column!r}: {error}"
        ) from None
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataError(f"missing date in data row {row + 1}")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)

    frame = pd.DataFrame(
        {name: _numeric_column(df, name) for name in [target, *covariates]}
    )
    frame.index = pd.DatetimeIndex(dates)
    frame = frame.sort_index()
    if frame.index.has_duplicates:
        duplicate = frame.index[frame.index.duplicated()][0]
        raise DataError(f"duplicate timestamp {duplicate} in {date_column!r}")

    if freq is None:
        if len(frame) < 3:
            raise DataError("too few rows to infer the frequency; pass --freq")
        freq = pd.infer_freq(frame.index)
        if freq is None:
            raise DataError(
                "cannot infer a regular frequency from the dates (gaps or "
                "irregular steps?); pass --freq, missing steps then become "
                "missing values"
            )
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except ValueError:
        raise DataError(f"unknown frequency {freq!r}") from None
    grid = pd.date_range(frame.index[0], frame.index[-1], freq=offset)
    off_grid = frame.index.difference(grid)
    if len(off_grid) > 0:
        raise DataError(
            f"timestamp {off_grid[0]} does not lie on the {freq!r} grid "
            f"starting at {frame.index[0]}"
        )
    # Missing steps become NaN: the model treats them as unobserved.
    frame = frame.reindex(grid)
    if frame[target].notna().sum() == 0:
        raise DataError(f"target column {target!r} has no values")
    return frame, offset.freqstr


def plot_history_and_forecast(
    history: pd.Series,
    table: pd.DataFrame,
    path: Path,
    title: str,
) -> Path:
    # An explicit Agg canvas: works headless, leaves pyplot state alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot(history.index, history.to_numpy(), color="black", lw=1,
            label="history")
    t = pd.DatetimeIndex(table["timestamp"])
    for low, high, alpha in (("q0.1", "q0.9", 0.2), ("q0.3", "q0.7", 0.35)):
        if low in table and high in table:
            label = f"{low[1:]}-{high[1:]} interval"
            ax.fill_between(t, table[low], table[high], color="tab:blue",
                            alpha=alpha, lw=0, label=label)
    ax.plot(t, table["median"], color="tab:blue", lw=1.5, label="median")
    ax.plot(t, table["mean"], color="tab:orange", lw=1, ls="--",
            label="mean")
    ax.axvline(t[0], color="grey", ls=":", lw=1)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def forecast_table(forecast, quantiles: Sequence[float]) -> pd.DataFrame:
    """Timestamps, mean, median and quantiles of one GluonTS forecast."""
    index = forecast.index
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp()
    table = pd.DataFrame(
        {
            "timestamp": index,
            "mean": forecast.mean,
            "median": forecast.quantile(0.5),
        }
    )
    for q in quantiles:
        table[f"q{q:g}"] = forecast.quantile(q)
    return table
