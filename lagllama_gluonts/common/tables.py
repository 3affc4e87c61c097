"""A user's table (a timestamp column and numeric columns) as regular GluonTS series, and
forecasts written back as a table: the one reader both models' CLIs, pretraining and the
benchmarks use.

What it accepts, so that files as pandas users write them just work:

* separators ``,`` ``;`` tab and ``|``, sniffed from the first lines (or given);
* timestamps in any format ``pd.to_datetime`` parses (day/month order told from the dates,
  else ``date_format=``), zoned times converted to UTC (``timezone='local'``: wall time),
  rows in any order (sorted here); irregular readings averaged onto a grid with ``resample=``;
* every pandas frequency alias, old and new (``H``/``h``, ``T``/``min``, ``M``/``ME``, ``MS``,
  ``Q``/``QE``, ``QS``, ``A``/``Y``/``YE``, ``YS``, ``B``, ``W-SUN`` ...), inferred from the
  timestamps even when some steps are missing, and mapped to the period frequency GluonTS's
  ``start`` needs (month-, quarter- and year-*start* data have no period alias of their own:
  ``MS`` becomes ``M``);
* missing steps on the grid and blank cells become NaN, which both models treat as unobserved.

What it refuses, with one line naming the file, the column or row and the problem
(:class:`~lagllama_gluonts.common.validation.DataError`): a missing file or column,
unparsable or missing timestamps, duplicate timestamps, text in a numeric column, a
timestamp off the frequency's grid, a frequency that cannot be inferred, a target without
any value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from .dataframes import FrameSeries, read_df
from .errors import DataError
from .files import (  # the file layer's names, importable from here as before
    SEPARATORS,
    TIME_COLUMN_NAMES,
    PathLike,
    guess_time_column,
    read_frame,
    sniff_separator,
    to_numbers,
    write_forecast_frames,
)
from .frame_covariates import KNOWN, KNOWN_CAT, PAST, series_fields
from .frequency import future_timestamps, make_period, period_frequency, to_offset
from .timestamps import check_timezone, parse_timestamps

__all__ = [
    "SEPARATORS",
    "TIME_COLUMN_NAMES",
    "WIDE_ID_COLUMNS",
    "PathLike",
    "RegularTable",
    "SeriesTable",
    "forecast_table",
    "guess_time_column",
    "load_table",
    "read_corpus",
    "read_frame",
    "read_series_csv",
    "read_series_table",
    "read_table",
    "sniff_separator",
    "to_numbers",
    "write_forecast_frames",
]


@dataclass
class RegularTable:
    """Columns of a table on a regular time grid (NaN where a step had no row or no value).

    ``freq`` is the grid's pandas alias (``MS``, ``ME``, ``h`` ...), ``period_freq`` the one
    GluonTS's ``start`` takes (``M``, ``M``, ``h`` ...).
    """

    frame: pd.DataFrame
    freq: str
    source: str = ""

    @property
    def period_freq(self) -> str:
        return period_frequency(self.freq)

    @property
    def start(self) -> pd.Period:
        return make_period(self.frame.index[0], self.period_freq)

    def entry(self, column: str, item_id: Optional[str] = None, end: Optional[int] = None, **fields) -> Dict:
        """One GluonTS data entry of ``column`` (its first ``end`` steps), float32."""
        values = self.frame[column].to_numpy(dtype=np.float32)[:end]
        return {"start": self.start, "target": values, "item_id": item_id or column, **fields}

    def future_timestamps(self, horizon: int) -> pd.DatetimeIndex:
        return future_timestamps(self.frame.index[-1], horizon, self.freq)


def load_table(
    path: PathLike,
    columns: Sequence[str],
    time_column: Optional[str] = None,
    freq: Optional[str] = None,
    sep: Optional[str] = None,
    roles: Optional[Sequence[str]] = None,
    time_option: str = "--time-column",
    freq_option: str = "--freq",
) -> RegularTable:
    """
    Read ``columns`` of a wide table onto one regular time grid: :func:`read_table` reads and
    checks the file (the first column, and any other whose role is ``"target"``, as targets;
    the rest as covariates), :meth:`SeriesTable.regular` puts them on the grid from the file's
    first to its last timestamp.

    Parameters
    ----------
    path
        CSV (or other delimited text, or Parquet) file.
    columns
        Numeric columns to keep, in this order; the first must have at least one value.
    time_column
        The timestamp column (default: one named ds/date/datetime/timestamp/time, else the first).
    freq
        Pandas frequency alias of the grid; inferred from the timestamps when ``None``.
    sep
        Column separator; sniffed when ``None``.
    roles
        What each column is (e.g. "target", "covariate"): a target must have a value.
    time_option, freq_option
        How errors quote ``time_column`` and ``freq`` (by default the command lines' flags; see
        :meth:`~lagllama_gluonts.common.errors.DataError.message_for`); ``targets=`` is
        quoted as ``columns=``, this function's parameter.
    """
    columns = list(dict.fromkeys(columns))
    role = dict(zip(columns, roles or ()))
    targets = columns[:1] + [c for c in columns[1:] if role.get(c) == "target"]
    covariates = [c for c in columns if c not in targets]
    flags = {"targets": "columns=", "time_column": time_option, "freq": freq_option}
    try:
        table = read_table(path, targets, time_column=time_column, freq=freq, sep=sep, covariates=covariates)
    except DataError as error:
        raise error.for_flags(flags) from None
    return table.regular(columns)


def read_series_csv(
    path: PathLike,
    time_column: str = "ds",
    value_column: str = "y",
    freq: Optional[str] = None,
    item_id: Optional[str] = None,
) -> Dict:
    """One GluonTS entry from a table with a timestamp and a value column (the corpus layout)."""
    table = load_table(path, [value_column], time_column=time_column, freq=freq, roles=["value"])
    return table.entry(value_column, item_id=item_id or Path(path).stem)


def read_corpus(paths) -> List[Dict]:
    return [read_series_csv(p) for p in paths]


# --------------------------------------------------------------------------- writing


def forecast_table(forecast, quantiles: Sequence[float], timestamps: Optional[pd.DatetimeIndex] = None) -> pd.DataFrame:
    """Timestamps, mean, median and quantile columns ``q0.1`` ... of one GluonTS forecast.

    ``timestamps`` puts the rows on the user's own grid (e.g. month ends); by default the
    forecast's periods are converted to their start times.
    """
    if timestamps is None:
        index = forecast.index
        timestamps = index.to_timestamp() if isinstance(index, pd.PeriodIndex) else index
    table = pd.DataFrame({"timestamp": timestamps, "mean": forecast.mean, "median": forecast.quantile(0.5)})
    for q in quantiles:
        table[f"q{q:g}"] = forecast.quantile(q)
    return table


# --------------------------------------------------------------------------- tables of many series

# the item column a wide table's columns become (another name when a column already has it)
WIDE_ID_COLUMNS = ("item_id", "series", "column")


@dataclass
class SeriesTable:
    """A table of one or more series in long form (one row per item and time step), whichever
    form the file had: what :func:`read_series_table` returns. ``series`` is the validated
    :class:`~lagllama_gluonts.common.dataframes.FrameSeries` (entries, grid, ids)."""

    frame: pd.DataFrame
    id_column: str
    time_column: str
    target: str
    series: FrameSeries
    source: str = ""
    wide: bool = False
    # with ``read_series_table(..., covariates=...)``: the columns, and per entry their values
    # (K, S) on the entry's grid from its start, NaN where missing; S >= len(target), the rows
    # beyond the target being the covariates' future rows (see :meth:`add_covariate_fields`)
    covariates: List[str] = field(default_factory=list)
    covariate_values: List[np.ndarray] = field(default_factory=list)
    # the covariate columns that hold text (no cell a number), their values stored as codes into
    # these sorted levels: only in-context regression takes them (:meth:`add_covariate_fields`)
    categorical: Dict[str, List[str]] = field(default_factory=dict)
    # a wide table's columns as read (targets, then covariates; float64, NaN where blank),
    # indexed by the file's timestamps in file order: what :meth:`regular` puts on the grid
    rows: Optional[pd.DataFrame] = None

    @property
    def entries(self) -> List[Dict]:
        return self.series.entries

    @property
    def freq(self) -> str:
        return self.series.freq

    def regular(self, columns: Optional[Sequence[str]] = None) -> RegularTable:
        """A wide table's ``columns`` (by default all it read) on one regular grid from the
        file's first to its last timestamp, float64, NaN where a step has no row or no value
        (every timestamp lies on that grid: :func:`read_table` checked them all)."""
        if self.rows is None:
            raise ValueError("a long table's items each have their own grid; only a wide table is one RegularTable")
        rows = self.rows if columns is None else self.rows[list(columns)]
        grid = pd.date_range(rows.index.min(), rows.index.max(), freq=to_offset(self.freq))
        return RegularTable(frame=rows.reindex(grid), freq=self.freq, source=self.source)

    def drop_short(self, min_observed: int) -> List:
        """Leave out the items with fewer than ``min_observed`` observed values; their ids are
        returned (a :class:`DataError` when no item is left)."""
        observed = np.array([np.count_nonzero(~np.isnan(e["target"])) for e in self.series.entries])
        keep = np.flatnonzero(observed >= min_observed)
        short = [self.series.name(k) for k in np.flatnonzero(observed < min_observed)]
        if not len(keep):
            raise DataError(
                f"{Path(self.source).name}: every item has fewer than {min_observed} observed values "
                f"(the most: {observed.max()}); use a shorter horizon"
            )
        if short:
            self.series = self.series.subset(keep)
            if self.covariate_values:
                self.covariate_values = [self.covariate_values[k] for k in keep]
        return short

    def add_covariate_fields(
        self,
        known: Sequence[str] = (),
        past: Sequence[str] = (),
        horizon: int = 0,
        known_option: str = "--known-covariates",
    ) -> List[Dict]:
        """Put the covariate columns into the entries under GluonTS's field names and return
        the entries: ``known`` (known over the horizon) as ``feat_dynamic_real`` over the
        target and ``horizon`` steps more, ``past`` (known only in the past) as
        ``past_feat_dynamic_real`` over the target alone (anything later is never handed on);
        text columns as :func:`~lagllama_gluonts.common.frame_covariates.series_fields` puts them.

        The history's gaps are filled forward, then backward (as Informer's command line fills
        its covariates); the ``horizon`` future rows of the known ones must be complete. Refused
        with a :class:`DataError` naming the item: a covariate without any value in an item's
        history, known-future covariates without ``horizon`` rows after the last target value
        (``known_option`` is quoted), or a blank among them. The entries are changed in place,
        so :func:`~lagllama_gluonts.common.dataframes.predict_series` forecasts them as they are.
        """
        columns = list(self.covariates)
        unread = [c for c in (*known, *past) if c not in columns]
        if unread:
            raise ValueError(f"columns {unread} were not read as covariates (read_series_table(covariates=...))")
        known_rows = [columns.index(c) for c in known]
        past_rows = [columns.index(c) for c in past]
        text = [c in self.categorical for c in (*known, *past)]  # codes of a text column
        name = Path(self.source).name
        for position, (entry, values) in enumerate(zip(self.series.entries, self.covariate_values)):
            who = f"{name}: item {self.series.name(position)!r}"
            length = len(entry["target"])
            history = pd.DataFrame(values[:, :length].T).ffill().bfill().to_numpy(dtype=np.float32).T
            for row in (*known_rows, *past_rows):
                if np.isnan(history[row]).all():
                    raise DataError(f"{who}: covariate column {columns[row]!r} has no value in the item's history")
            future = values[known_rows, length : length + horizon]
            if known_rows:
                last = pd.Timestamp(self.series.last[position])
                if future.shape[1] < horizon:
                    raise DataError(
                        f"{who}: known-future covariates ({known_option}) need the {horizon} rows after the last "
                        f"target value ({last}), with the covariates filled in and the target left empty; the table "
                        f"has {future.shape[1]}"
                    )
                blank = np.isnan(future)
                if blank.any():
                    row, step = (int(i) for i in np.argwhere(blank)[0])
                    when = last + (step + 1) * to_offset(self.freq)
                    raise DataError(
                        f"{who}: known-future covariate column {columns[known_rows[row]]!r} is blank at "
                        f"{when}, in the forecast horizon; fill in the values the horizon will have"
                    )
            for field_name in (KNOWN, KNOWN_CAT, PAST):
                entry.pop(field_name, None)
            entry.update(series_fields(history[known_rows + past_rows], future, len(known), text))
        return self.series.entries

    def history(self, items: Sequence, steps: int) -> Dict[object, pd.Series]:
        """The last ``steps`` grid steps of each of ``items`` as a series indexed by timestamps
        (NaN on missing steps), for plots."""
        wanted = set(items)
        out: Dict[object, pd.Series] = {}
        for position, entry in enumerate(self.series.entries):
            name = self.series.name(position)
            if name in wanted:
                values = entry["target"][-steps:].astype(np.float64)
                stamps = pd.date_range(
                    end=pd.Timestamp(self.series.last[position]), periods=len(values), freq=to_offset(self.freq)
                )
                out[name] = pd.Series(values, index=stamps)
        return out


def read_series_table(
    path: PathLike,
    targets: Sequence[str],
    item_column: Optional[str] = None,
    time_column: Optional[str] = None,
    freq: Optional[str] = None,
    sep: Optional[str] = None,
    item_option: str = "--item-column",
    target_option: str = "--target",
    time_option: str = "--time-column",
    freq_option: str = "--freq",
    covariates: Sequence[str] = (),
    **reading,
) -> SeriesTable:
    """:func:`read_table`, with its errors quoting ``item_option``, ``target_option``,
    ``time_option`` and ``freq_option`` (by default the command lines' flags) where
    :func:`read_table` names the Python parameters: the name both CLIs have called.
    ``reading``: :func:`read_table`'s ``date_format``, ``timezone``, ``resample``, ``decimal``
    and ``min_observed``, quoted as ``--date-format`` ...
    """
    flags = {"item_column": item_option, "targets": target_option, "time_column": time_option, "freq": freq_option}
    flags.update({name: f"--{name.replace('_', '-')}" for name in ("date_format", "timezone", "resample", "decimal")})
    try:
        return read_table(path, targets, item_column, time_column, freq, sep, covariates, **reading)
    except DataError as error:
        raise error.for_flags(flags) from None


def read_table(
    path: PathLike,
    targets: Sequence[str],
    item_column: Optional[str] = None,
    time_column: Optional[str] = None,
    freq: Optional[str] = None,
    sep: Optional[str] = None,
    covariates: Sequence[str] = (),
    date_format: Optional[str] = None,
    timezone: str = "utc",
    resample: Optional[str] = None,
    decimal: Optional[str] = None,
    min_observed: int = 0,
) -> SeriesTable:
    """
    Read a file of many series (CSV or Parquet) into GluonTS entries, checked before any work:
    the file (:func:`read_frame`) becomes a long frame, read as :func:`~lagllama_gluonts.common.
    dataframes.read_df` reads any long frame.

    Two layouts:

    * long (``item_column`` given, one target): one row per item and time step, e.g.
      ``store, date, sales``; each item its own start and length;
    * wide (no ``item_column``, one or more targets): one timestamp column and one column per
      series; each target column is an independent series named after its column, from its
      first to its last value. Every row's timestamp is checked and the frequency inferred
      from them all, blank or not: the file is one grid (:meth:`SeriesTable.regular`).

    Rows may come in any order (they are sorted); missing steps on an item's grid and blank
    cells are NaN. Refused with a :class:`DataError` naming the file, the columns the file has,
    the item or the data row (counted from 1 after the header): a missing item, time or target
    column; text in a target (the first bad row); duplicate (item, timestamp) rows; items whose
    timestamps disagree on the frequency (two items named); an item without any value. The
    error's ``field`` is the parameter at fault (``item_column``, ``targets``, ``time_column``,
    ``freq``, ``covariates``), its message quotes it as ``item_column=`` ...: a command line
    renders it with its flags (:meth:`DataError.message_for`).

    ``covariates``: numeric columns read beside the target(s), onto each item's grid
    (``SeriesTable.covariate_values``; in a wide table every series shares them). Each item's
    target then ends at its last value: the rows after it, with the target left empty, are the
    covariates' future rows, up to the item's last row (wide: the table's). Refused like the
    targets (a missing column, text naming the data row), and an infinite value or a covariate
    that is also the target, timestamp or item column. :meth:`SeriesTable.add_covariate_fields`
    puts them into the entries.

    Timestamps (:mod:`~lagllama_gluonts.common.timestamps`): ``date_format`` for day/month
    dates no date tells apart (refused without it), ``timezone`` ``'utc'`` (default: zoned
    times in UTC, a daylight-saving change keeps the grid) or ``'local'`` (wall time);
    ``resample``: readings at irregular times averaged per step of that grid (not with
    covariates). ``decimal``: the decimal mark (``','``; the separator must then differ).
    ``min_observed``: refused at once when no item has that many values (the horizon).
    Steps filled as missing are counted per item in ``table.series.filled``.
    """
    targets = list(dict.fromkeys(targets or []))
    name = Path(path).name
    _check_layout(targets, item_column)
    check_timezone(timezone)
    if resample is not None and covariates:
        raise DataError("resample= averages the targets only; it cannot be used with covariates", field="resample")
    frame = read_frame(path, sep=sep, decimal=decimal)
    if frame.empty:
        raise DataError(f"{name} has no data rows")
    names = [str(c) for c in frame.columns]
    time_column = _check_columns(frame, name, names, targets, item_column, time_column)
    frame.index = pd.RangeIndex(1, len(frame) + 1)  # errors name data rows counted from 1
    # a row empty in every cell (the ",,," a spreadsheet export leaves at the end) is no row
    frame = frame.dropna(how="all")
    if frame.empty:
        raise DataError(f"{name} has no data rows")
    values = {target: _target_values(frame, name, target, item_column) for target in targets}
    covariates = list(dict.fromkeys(covariates or []))
    covariate_values, categorical = _covariate_columns(
        frame, name, names, covariates, targets, time_column, item_column
    )
    long, id_column, target = _as_long(frame, name, values, targets, item_column, time_column)
    wide = item_column is None
    timing = dict(date_format=date_format, timezone=timezone, resample=resample, min_observed=min_observed)
    series = _read_long(long, name, id_column, time_column, target, freq, timing)
    times = _wall_times(frame[time_column], date_format, timezone) if wide or covariates else None
    rows = None
    if wide:  # the ids were categories: plain column names from here on
        series.ids = pd.Index(list(series.ids.astype(str)) if hasattr(series.ids, "astype") else series.ids)
        for entry, item in zip(series.entries, series.ids):
            entry["item_id"] = item
        _trim_to_values(series)
        long = long[~np.isnan(long[target].to_numpy())]  # the long frame: the cells with a value
        rows = pd.DataFrame({**values, **dict(zip(covariates, covariate_values.T))}, index=times)
        if resample is not None:  # the grid regular() reindexes onto: the same means per step
            rows = rows.groupby(pd.Grouper(freq=to_offset(series.freq))).mean()
    del values
    table = SeriesTable(
        frame=long,
        id_column=id_column,
        time_column=time_column,
        target=target,
        series=series,
        source=str(path),
        wide=wide,
        rows=rows,
    )
    if covariates:
        table.covariates, table.categorical = covariates, categorical
        table.covariate_values = _on_item_grids(
            series, covariate_values, times, None if wide else frame[item_column].to_numpy()
        )
    return table


def _check_layout(targets: List[str], item_column: Optional[str]) -> None:
    if not targets:
        raise DataError("name the column(s) to forecast with targets=", field="targets")
    if item_column is not None and len(targets) > 1:
        raise DataError(
            "item_column= reads a long table with one targets= column; several "
            f"targets= columns ({', '.join(targets)}) are a wide table (leave out item_column=)",
            field="item_column",
        )


def _check_columns(
    frame: pd.DataFrame,
    name: str,
    names: List[str],
    targets: List[str],
    item_column: Optional[str],
    time_column: Optional[str],
) -> str:
    """The item, time and target columns are in the file and distinct; returns the time column."""
    if item_column is not None and item_column not in frame.columns:
        raise DataError(
            f"{name}: no item column {item_column!r} (item_column=); the table has: {', '.join(names)}",
            field="item_column",
        )
    time_column = time_column or guess_time_column([c for c in names if c != item_column] or names)
    if time_column not in frame.columns:
        raise DataError(
            f"{name}: no timestamp column {time_column!r} (time_column=); the table has: {', '.join(names)}",
            field="time_column",
        )
    if item_column is not None and item_column == time_column:
        raise DataError(
            f"item_column= {item_column!r} is also the timestamp column; name another column", field="item_column"
        )
    missing = [t for t in targets if t not in frame.columns]
    if missing:
        raise DataError(
            f"{name}: no target column {', '.join(map(repr, missing))} (targets=); the table has: {', '.join(names)}",
            field="targets",
        )
    for target in targets:
        if target in (time_column, item_column):
            role = "timestamp" if target == time_column else "item"
            raise DataError(f"the target column {target!r} is the {role} column", field="targets")
    return time_column


def _target_values(frame: pd.DataFrame, name: str, target: str, item_column: Optional[str]) -> np.ndarray:
    """A target column as float64 (blanks NaN); text is an error naming the data row."""
    raw = frame[target]
    numbers, row = to_numbers(raw)
    if row is not None:
        who = "" if item_column is None else f"item {frame[item_column].iloc[row]!r}: "
        raise DataError(
            f"{name}: {who}column {target!r} has a non-numeric value {raw.iloc[row]!r} in data row {raw.index[row]}",
            field="targets",
        )
    return numbers


def _as_long(frame, name: str, values: Mapping[str, np.ndarray], targets, item_column, time_column):
    """The long frame (item, time, target) of either layout, its item and target column names."""
    if item_column is not None:
        long = pd.DataFrame(
            {item_column: frame[item_column], time_column: frame[time_column], targets[0]: values[targets[0]]},
            index=frame.index,
        )
        return long, item_column, targets[0]
    for column, numbers in values.items():
        if np.isnan(numbers).all():
            raise DataError(f"{name}: target column {column!r} has no values", field="targets")
    id_column = next(c for c in WIDE_ID_COLUMNS if c not in (time_column, *targets))
    target = "target" if "target" not in (id_column, time_column) else "value"
    count = len(frame)
    long = pd.DataFrame(
        {
            id_column: pd.Categorical(np.repeat(np.arange(len(targets)), count)).rename_categories(targets),
            time_column: np.tile(frame[time_column].to_numpy(), len(targets)),
            target: np.concatenate([values[t] for t in targets]),
        },
        index=np.tile(frame.index.to_numpy(), len(targets)),
    )  # each cell's data row in the file
    # every row, blank cells too, so that read_df checks each of the file's timestamps and
    # infers the frequency from them all; _trim_to_values then cuts each column to its values
    return long, id_column, target


def _trim_to_values(series: FrameSeries) -> None:
    """Each entry of a wide table from its first to its last value: a column that starts
    later has its own start, one that ends earlier its own end (``series.last`` follows);
    blanks inside stay NaN."""
    period_freq = period_frequency(series.freq)
    for position, entry in enumerate(series.entries):
        length = len(entry["target"])
        observed = np.flatnonzero(~np.isnan(entry["target"]))  # _as_long refused columns without any
        first, end = int(observed[0]), int(observed[-1]) + 1
        if first == 0 and end == length:
            continue
        grid = pd.date_range(end=pd.Timestamp(series.last[position]), periods=length, freq=to_offset(series.freq))
        entry["target"] = entry["target"][first:end]
        entry["start"] = make_period(grid[first], period_freq)
        series.last[position] = grid[end - 1].as_unit("ns").value


def _read_long(
    long: pd.DataFrame, name: str, id_column: str, time_column: str, target: str, freq, timing
) -> FrameSeries:
    """:func:`read_df` of the long frame, its errors naming the file and its data rows."""
    try:
        return read_df(long, id_column=id_column, timestamp_column=time_column, target=target, freq=freq, **timing)
    except DataError as error:
        message = str(error).replace("(rows ", "(data rows ")
        message = message.replace(", row ", ", data row ").replace(" in row ", " in data row ")
        raise DataError(f"{name}: {message}", field=_FIELDS.get(error.field, error.field)) from None


# read_df's parameters, as read_table calls them
_FIELDS = {"id_column": "item_column", "timestamp_column": "time_column", "target": "targets"}


def _wall_times(column: pd.Series, date_format=None, timezone: str = "utc") -> pd.DatetimeIndex:
    """The timestamps as ``read_df`` parsed them (already checked there)."""
    return pd.DatetimeIndex(parse_timestamps(column, str(column.name), date_format, timezone).ns.view("datetime64[ns]"))


def _covariate_columns(
    frame: pd.DataFrame,
    name: str,
    names: List[str],
    covariates: List[str],
    targets: List[str],
    time_column: str,
    item_column: Optional[str],
) -> Tuple[np.ndarray, Dict[str, List[str]]]:
    """The covariate columns of the raw frame as float64 (len(frame), K), checked, and the text
    ones' levels: a column none of whose cells is a number holds text, stored as codes into its
    sorted levels; one with numbers and some text is a :class:`DataError` naming the row."""
    for column in covariates:
        if column not in frame.columns:
            raise DataError(
                f"{name}: no covariate column {column!r}; the table has: {', '.join(names)}", field="covariates"
            )
        if column in targets:
            raise DataError(f"the target {column!r} cannot also be a covariate", field="covariates")
        if column in (time_column, item_column):
            role = "timestamp" if column == time_column else "item"
            raise DataError(f"the covariate column {column!r} is the {role} column", field="covariates")
    columns, categorical = [], {}
    for column in covariates:
        raw = frame[column]
        numbers, row = to_numbers(raw)
        if row is not None and np.isnan(numbers).all():  # text in every cell with a value
            text = raw.astype("string").str.strip().replace("", pd.NA)
            categorical[column] = sorted(text.dropna().unique())
            codes = pd.Categorical(text, categories=categorical[column]).codes.astype(np.float64)
            numbers, row = np.where(codes < 0, np.nan, codes), None
        elif row is None and np.isinf(numbers).any():
            row = int(np.flatnonzero(np.isinf(numbers))[0])
        if row is not None:
            who = "" if item_column is None else f"item {frame[item_column].iloc[row]!r}: "
            raise DataError(
                f"{name}: {who}covariate column {column!r} has a non-numeric or infinite value "
                f"{raw.iloc[row]!r} in data row {raw.index[row]}",
                field="covariates",
            )
        columns.append(numbers)
    return (np.stack(columns, axis=1) if columns else np.zeros((len(frame), 0))), categorical


def _on_item_grids(
    series, values: np.ndarray, times: pd.DatetimeIndex, items: Optional[np.ndarray]
) -> List[np.ndarray]:
    """Each entry's covariates (K, S) on its grid, from its start to its last row (``items``
    None, a wide table: the table's last row); the entry's target is cut after its last value
    (its rows beyond are the covariates' future rows) and ``series.last`` follows."""
    offset = to_offset(series.freq)
    shared = None if items is not None else pd.DataFrame(values, index=times)
    groups = None if items is None else pd.DataFrame(values, index=times).groupby(items, sort=False)
    out = []
    for position, entry in enumerate(series.entries):
        length = len(entry["target"])
        grid = pd.date_range(end=pd.Timestamp(series.last[position]), periods=length, freq=offset)
        if shared is not None:
            grid = pd.date_range(grid[0], times.max(), freq=offset)
            source = shared
        else:
            source = groups.get_group(series.ids[position])
        out.append(source.reindex(grid).to_numpy(dtype=np.float32).T)
        observed = np.flatnonzero(~np.isnan(entry["target"]))
        end = int(observed[-1]) + 1  # read_df refused items without any value
        if end < length:
            entry["target"] = entry["target"][:end]
            series.last[position] = grid[end - 1].as_unit("ns").value
    return out
