"""Your own pandas data in, forecasts out: a long DataFrame (one row per item and time step)
as GluonTS entries, and any GluonTS predictor's forecasts back as a long DataFrame.

>>> from lagllama_gluonts import load_predictor, predict_df   # or: from informer_gluonts import predict_df
>>> predictor = load_predictor(None, prediction_length=12)    # doctest: +SKIP
>>> forecasts = predict_df(predictor, df)  # item_id/timestamp/target or unique_id/ds/y  # doctest: +SKIP
>>> forecasts = predict_df(predictor, df, id_column="store", target="sales")  # doctest: +SKIP
>>> forecasts = predict_df(predictor, df, future_df=future)  # covariates, Chronos-2's rule  # doctest: +SKIP

The columns, when not named: Chronos/AutoGluon's ``item_id``/``timestamp``/``target`` or
Nixtla's ``unique_id``/``ds``/``y`` (statsforecast, neuralforecast), recognised by their names
(:func:`~lagllama_gluonts.common.columns.guess_columns`, the rules the command lines guess
the timestamp column by). A named column always wins; a frame with columns of both
conventions, or of neither, is a :class:`DataError` that names its columns and the
parameters to pass.

``forecasts`` has one row per item and future step: the id column, the timestamp column
(each step on the item's own grid: month-end data gets month ends), ``mean``, ``median`` and
one column per quantile level named ``q0.1``, ``q0.5``, ``q0.9`` ... (``f"q{level:g}"``, as
in the command lines' ``forecast.csv``), all in the data's own units.

What :func:`dataset_from_df` accepts: rows in any order (sorted here), each item with its own
start and length, timestamps as datetimes or strings pandas parses (time zones dropped to
local wall time), the frequency given (``freq=``, any pandas alias old or new: ``H``/``h``,
``M``/``ME``, ``MS``, ``Q``/``QE``, ``B``, ``W-SUN`` ...) or inferred from the items (all of
them must share one), missing steps on an item's grid and blank targets as NaN (unobserved).
Items keep the order of their first row. ``id_column=None`` takes the whole frame as one series
(a frame without an item column is never guessed to be one: it says so).

What it refuses, with one :class:`~lagllama_gluonts.common.validation.DataError` naming the
item, the row or the timestamp: missing columns, missing ids or timestamps, text in the
target, duplicate (item, timestamp) rows, items that disagree on the frequency, timestamps
off the frequency's grid, infinite or float32-overflowing values, an item without any
observed value.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .columns import GUESS, guess_columns
from .constants import MAX_MAGNITUDE, QUANTILES
from .errors import DataError
from .files import to_numbers
from .frame_covariates import (
    check_counts,
    covariate_columns,
    covariate_fields,
    horizon_of,
    in_context,
    is_categorical,
    own_counts,
    refuse_categorical,
)
from .frequency import future_timestamps, infer_frequency, period_frequency, to_offset
from .timestamps import parse_timestamps, resample_rows

_NO_DIFF = np.iinfo(np.int64).max
_TRIES = 5  # items of a group whose grid pandas is asked for before the group is left to the others


@dataclass
class FrameSeries:
    """The entries of a long frame and what forecasts need to land on each item's own grid
    (what :func:`read_df` returns; :func:`predict_series` forecasts it)."""

    entries: List[Dict[str, Any]]
    freq: str  # the grid's pandas alias (``ME``, ``MS``, ``h`` ...)
    last: np.ndarray  # each item's last grid timestamp, int64 nanoseconds
    ids: Any  # the item ids, in entry order (None for a single series)
    id_column: Optional[str] = "item_id"
    timestamp_column: str = "timestamp"
    # per item, the grid steps without any row (filled as missing): the readers report them
    filled: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.entries)

    def subset(self, keep: Sequence[int]) -> "FrameSeries":
        """Only the items at positions ``keep`` (e.g. those long enough), in that order."""
        keep = np.asarray(keep, dtype=np.int64)
        ids = None if self.ids is None else self.ids.take(keep)
        filled = None if self.filled is None else self.filled[keep]
        return FrameSeries(
            [self.entries[k] for k in keep],
            self.freq,
            self.last[keep],
            ids,
            self.id_column,
            self.timestamp_column,
            filled,
        )

    def lengths(self) -> np.ndarray:
        return np.array([len(entry["target"]) for entry in self.entries], dtype=np.int64)

    def name(self, position: int):
        return None if self.ids is None else self.ids[position]


_Series = FrameSeries  # the name it had


# --------------------------------------------------------------------------- reading


def dataset_from_df(
    df: pd.DataFrame,
    id_column: Optional[str] = GUESS,
    timestamp_column: Optional[str] = None,
    target: Optional[str] = None,
    freq: Optional[str] = None,
    date_format: Optional[str] = None,
    timezone: str = "utc",
    resample: Optional[str] = None,
) -> List[Dict[str, Any]]:
    """GluonTS entries (``start`` a ``pd.Period``, ``target`` float32 with NaN for missing
    steps, ``item_id``) of a long DataFrame: one row per item and time step.

    Parameters
    ----------
    df
        The table; other columns are ignored. Its columns are found by name when not given:
        ``item_id``/``timestamp``/``target`` (Chronos, AutoGluon) or ``unique_id``/``ds``/``y``
        (Nixtla's statsforecast, neuralforecast); columns of both, or of neither, are a
        :class:`DataError` asking for the parameters below.
    id_column
        Column naming each row's item; ``None``: the whole frame is one series (no ``item_id``);
        not given: ``item_id`` or ``unique_id``.
    timestamp_column
        Column of each row's time; ``None``: ``timestamp`` or ``ds`` (or, with ``id_column``
        and ``target`` named, the first column named ``ds``/``date``/``datetime``/``timestamp``/``time``).
    target
        Numeric column to forecast; ``None``: ``target`` or ``y``.
    freq
        Pandas frequency alias of the grid, old or new spelling; inferred when ``None``.
    date_format
        ``strptime`` format of text timestamps (``'%d/%m/%Y'``); needed only when day/month
        order cannot be told (:mod:`~lagllama_gluonts.common.timestamps` has the rules).
    timezone
        ``'utc'`` (default): zoned timestamps converted to UTC, so a daylight-saving change
        keeps a regular grid; ``'local'``: their local wall time (daily or longer steps).
    resample
        Put readings at irregular times on this grid: each item's values within a step are
        averaged (mean); steps without a reading are missing (NaN).

    Grid steps without any row are filled as missing: a ``UserWarning`` says so when an item
    is mostly missing (``read_df(...).filled`` counts them per item).
    """
    series = read_df(df, id_column, timestamp_column, target, freq, date_format, timezone, resample)
    warn_mostly_missing(series)
    return series.entries


def read_df(
    df: pd.DataFrame,
    id_column: Optional[str] = GUESS,
    timestamp_column: Optional[str] = None,
    target: Optional[str] = None,
    freq: Optional[str] = None,
    date_format: Optional[str] = None,
    timezone: str = "utc",
    resample: Optional[str] = None,
    min_observed: int = 0,
) -> FrameSeries:
    """:func:`dataset_from_df`'s entries with each item's grid and id: what forecasting,
    backtesting and the command lines need (read once, used by all). ``min_observed``: a
    :class:`DataError` when no item has that many observed values, said before any per-item
    object is built (a million one-step items are refused at once)."""
    options = dict(date_format=date_format, timezone=timezone, resample=resample, min_observed=min_observed)
    return _read(df, id_column, timestamp_column, target, freq, **options)


def warn_mostly_missing(series: FrameSeries, share: float = 0.5) -> None:
    """A ``UserWarning`` naming the items whose grid is more than ``share`` filled steps."""
    if series.filled is None or not series.filled.any():
        return
    mostly = np.flatnonzero(series.filled > share * series.lengths())
    if len(mostly):
        named = ", ".join(repr(series.name(int(k))) for k in mostly[:3]) + (" ..." if len(mostly) > 3 else "")
        warnings.warn(
            f"{len(mostly)} item(s) mostly missing on the {series.freq!r} grid ({named}); "
            f"{int(series.filled.sum())} steps without a row were filled as missing in all: "
            "for readings at irregular times pass resample= FREQ",
            UserWarning,
            stacklevel=3,
        )


def resolve_columns(df: pd.DataFrame, id_column=GUESS, timestamp_column=None, target=None):
    """The item, time and target columns of ``df``: those given, the others guessed by
    :func:`~lagllama_gluonts.common.columns.guess_columns` (``None`` for the time or target
    column means "guess"; for the item column it means "one series")."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
    return guess_columns(
        df.columns,
        id_column,
        GUESS if timestamp_column is None else timestamp_column,
        GUESS if target is None else target,
    )


def _read(
    df,
    id_column,
    timestamp_column,
    target,
    freq,
    date_format=None,
    timezone="utc",
    resample=None,
    min_observed=0,
    placement=False,
):
    """The frame's :class:`FrameSeries`; with ``placement`` (not with ``resample``) also each
    row's index into the entries' targets laid end to end (where its other columns go)."""
    id_column, timestamp_column, target = resolve_columns(df, id_column, timestamp_column, target)
    _check_frame(df, id_column, timestamp_column, target)
    labels = df.index
    if id_column is None:
        codes, ids = np.zeros(len(df), dtype=np.int64), None
    else:
        codes, ids = pd.factorize(df[id_column], sort=False)
        codes = codes.astype(np.int64)
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            raise DataError(f"missing item id in column {id_column!r}, row {_row(labels, row)!r}", field="id_column")

    def who(code: int) -> str:
        return "the series" if ids is None else f"item {ids[code]!r}"

    times, shifts = _timestamps(df[timestamp_column], timestamp_column, codes, who, labels, date_format, timezone)
    values = _numbers(df[target], target, codes, who, labels)
    if resample is not None:
        freq = _alias(resample)
        codes, times, values = resample_rows(codes, times, values, freq)
    codes, times, values, same, order = _sorted(codes, times, values, labels, who)

    first_row = np.flatnonzero(np.r_[True, ~same])  # item k's rows: first_row[k] .. first_row[k + 1] - 1
    counts = np.diff(np.r_[first_row, len(times)])
    last_row = first_row + counts - 1
    _check_values(values, codes, times, first_row, who, min_observed)

    freq = _infer(times, same, first_row, counts, who) if freq is None else _alias(freq)
    period_freq = period_frequency(freq)  # a grid GluonTS cannot use as a start fails here
    position = _grid_positions(times, codes, first_row, counts, freq, who, shifts)

    lengths = position[last_row] + 1
    offsets = np.r_[0, np.cumsum(lengths)[:-1]]
    flat = np.full(int(lengths.sum()), np.nan, dtype=np.float32)
    flat[offsets[codes] + position] = values
    targets = np.split(flat, offsets[1:])

    with warnings.catch_warnings():  # one vectorised conversion, not a pd.Period per item
        warnings.filterwarnings("ignore", message=".*BDay freq is deprecated", category=FutureWarning)
        starts = list(pd.DatetimeIndex(times[first_row]).to_period(period_freq))
    if ids is None:
        entries = [{"start": starts[0], "target": targets[0]}]
    else:
        names = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        entries = [{"start": s, "target": t, "item_id": n} for s, t, n in zip(starts, targets, names)]
    series = FrameSeries(
        entries=entries,
        freq=freq,
        last=times[last_row],
        ids=ids,
        id_column=id_column,
        timestamp_column=timestamp_column,
        filled=lengths - counts,
    )
    if not placement:
        return series
    if resample is not None:
        raise ValueError("rows averaged by resample= have no single place")
    where = offsets[codes] + position
    if order is not None:
        where[order] = where.copy()
    return series, where


def _alias(freq) -> str:
    """A frequency given by the user as pandas' current alias (old spellings accepted quietly)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is deprecated", category=FutureWarning)
        return to_offset(freq).freqstr


def _check_frame(df, id_column, timestamp_column, target) -> None:
    """A DataFrame with rows and the named columns, else a :class:`DataError` naming the parameter."""
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
    wanted = {"id_column": id_column, "timestamp_column": timestamp_column, "target": target}
    missing = {name: value for name, value in wanted.items() if value is not None and value not in df}
    if missing:
        named = ", ".join(f"{value!r} ({name}=)" for name, value in missing.items())
        raise DataError(
            f"the DataFrame has no column {named}; its columns are: {', '.join(map(repr, map(str, df.columns)))}",
            field=next(iter(missing)),
        )
    if len(df) == 0:
        raise DataError("the DataFrame has no rows")


def _sorted(codes, times, values, labels, who):
    """The rows sorted by (item, time) unless already so (the usual case: no copy then), and
    which rows continue the item of the row before, and the sorting order (None: no copy);
    duplicate (item, time) rows are an error."""
    same = codes[1:] == codes[:-1]
    if not (np.all(codes[1:] >= codes[:-1]) and np.all(~same | (times[1:] > times[:-1]))):
        order = np.lexsort((times, codes))
        codes, times, values = codes[order], times[order], values[order]
        same = codes[1:] == codes[:-1]
    else:
        order = None
    duplicate = same & (times[1:] == times[:-1])
    if duplicate.any():
        where = np.flatnonzero(duplicate)
        i = int(where[0])
        rows = (i, i + 1) if order is None else (order[i], order[i + 1])
        items, per_item = np.unique(codes[where], return_counts=True)
        listed = ", ".join(f"{who(int(k))} ({n})" for k, n in zip(items[:5], per_item[:5]))
        more = f" and {len(items) - 5} more items" if len(items) > 5 else ""
        raise DataError(
            f"{who(int(codes[i]))}: duplicate timestamp {pd.Timestamp(times[i])} (rows {_row(labels, rows[0])!r} and "
            f"{_row(labels, rows[1])!r}); one row per item and time step is expected; in all {len(where)} "
            f"duplicate rows in {len(items)} item(s): {listed}{more} (readings stamped twice, e.g. at a "
            "daylight-saving change: average them per step with resample= FREQ, or read zoned times with "
            "timezone= utc)",
            field="timestamp_column",
        )
    return codes, times, values, same, order


def _row(labels: pd.Index, position) -> Any:
    """A row's label as errors show it (a plain ``5``, not ``np.int64(5)``)."""
    label = labels[int(position)]
    return label.item() if isinstance(label, np.generic) else label


def _timestamps(column: pd.Series, name: str, codes, who, labels, date_format=None, timezone="utc"):
    """The column as int64 nanoseconds (:func:`~.timestamps.parse_timestamps`' rules) and
    whether the UTC offset changed, or a DataError naming the row."""
    parsed = parse_timestamps(column, name, date_format, timezone)
    missing = parsed.ns == np.iinfo(np.int64).min  # NaT
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"{who(int(codes[row]))}: missing timestamp in column {name!r}, row {_row(labels, row)!r}",
            field="timestamp_column",
        )
    return parsed.ns, parsed.offset_changes


def _numbers(column: pd.Series, name: str, codes, who, labels) -> np.ndarray:
    """The column as float64 (blanks NaN), or a DataError naming the item and the row of text."""
    if pd.api.types.is_bool_dtype(column.dtype):
        raise DataError(f"column {name!r} holds booleans, not numbers", field="target")
    values, row = to_numbers(column)
    if row is not None:
        raise DataError(
            f"{who(int(codes[row]))}: column {name!r} has a non-numeric value {column.iloc[row]!r} "
            f"in row {_row(labels, row)!r}",
            field="target",
        )
    return values


def _check_values(values, codes, times, first_row, who, min_observed: int = 0) -> None:
    infinite = np.isinf(values)
    if infinite.any():
        i = int(np.flatnonzero(infinite)[0])
        raise DataError(
            f"{who(int(codes[i]))}: infinite target at {pd.Timestamp(times[i])} ({int(infinite.sum())} in all); "
            "mark missing values with NaN",
            field="target",
        )
    observed = np.add.reduceat((~np.isnan(values)).astype(np.int64), first_row)
    if (observed == 0).any():
        empty = np.flatnonzero(observed == 0)
        more = f" ({len(empty) - 1} other items too)" if len(empty) > 1 else ""
        raise DataError(f"{who(int(empty[0]))} has no observed target value (all NaN){more}", field="target")
    if observed.max() < min_observed:
        raise DataError(
            f"every item (of {len(observed)}) has fewer than {min_observed} observed values, the least a "
            f"forecast of this horizon needs (the most any item has: {observed.max()}); use a shorter horizon "
            "or longer series",
            field="target",
        )
    largest = np.nanmax(np.abs(values))
    if largest > MAX_MAGNITUDE:
        i = int(np.nanargmax(np.abs(values)))
        raise DataError(
            f"{who(int(codes[i]))}: target reaches {largest:.3g}, beyond what float32 models can hold "
            f"(|value| <= {MAX_MAGNITUDE:.1e}); rescale the data",
            field="target",
        )


def _some(items: Sequence[int], who, limit: int = 3) -> str:
    named = ", ".join(who(int(k)) for k in items[:limit])
    return named + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _look(items) -> str:
    return "looks" if len(items) == 1 else "look"


def _infer(times, same, first_row, counts, who) -> str:
    """The one frequency all items share, else a DataError naming items that disagree.

    Items are grouped by their smallest step; pandas infers the grid of the longest item of
    each group (largest groups first; the next longest when it cannot tell), so the cost does
    not grow with the number of items. A group no member of which tells is left to the grid
    check against the frequency the others agree on.
    """
    steps = np.where(same, np.diff(times), _NO_DIFF)
    smallest = np.minimum.reduceat(np.r_[steps, _NO_DIFF], first_row)
    informative = np.flatnonzero((smallest != _NO_DIFF) & (counts >= 3))
    if not len(informative):
        raise DataError("too few timestamps per item (fewer than 3) to infer the frequency; pass freq=", field="freq")
    groups = pd.Series(informative).groupby(smallest[informative], sort=False)
    found: Dict[str, np.ndarray] = {}
    failure = None
    for _, members in sorted(groups, key=lambda group: -len(group[1])):
        members = members.to_numpy()
        alias = None
        for item in members[np.argsort(-counts[members], kind="stable")[:_TRIES]]:
            start = first_row[item]
            try:
                alias = infer_frequency(pd.DatetimeIndex(times[start : start + counts[item]]), "freq=")
                break
            except DataError as error:
                failure = failure or DataError(f"{who(int(item))}: {error}", field="freq")
        if alias is None:  # no member tells: they are checked against the others' grid later
            continue
        if found and alias not in found:
            ((majority, seen),) = list(found.items())
            raise DataError(
                f"the items do not share one frequency: {_some(seen, who)} {_look(seen)} {majority!r} but "
                f"{_some(members, who)} {_look(members)} {alias!r}; pass freq= (missing steps then become NaN)",
                field="freq",
            )
        found[alias] = np.concatenate([found.get(alias, members[:0]), members])
    if not found:
        raise failure
    return next(iter(found))


def _off_grid(item: int, timestamp, freq: str, who, shifts: bool = False) -> DataError:
    """The advice names what fixes it: another step, a grid for irregular times, local time."""
    local = (
        "; the UTC offset changes (daylight saving): a daily or longer grid at local times keeps timezone= local"
        if shifts
        else ""
    )
    return DataError(
        f"{who(item)}: timestamp {pd.Timestamp(timestamp)} does not lie on the {freq!r} grid of the item "
        f"(starting at its first timestamp): if the data have another step, pass it with freq=; readings at "
        f"irregular times go on a grid with resample= FREQ (values averaged per step){local}",
        field="freq",
    )


def _grid_positions(times, codes, first_row, counts, freq: str, who, shifts: bool = False) -> np.ndarray:
    """Each row's step on its item's grid (0 at the item's first timestamp)."""
    offset = to_offset(freq)
    if isinstance(offset, pd.offsets.Tick):  # fixed steps: arithmetic
        step = offset.nanos
        position, remainder = np.divmod(times - times[first_row][codes], step)
        if (remainder != 0).any():
            i = int(np.flatnonzero(remainder)[0])
            raise _off_grid(int(codes[i]), times[i], freq, who, shifts)
        return position
    # calendar steps (month ends, business days ...): one grid of the unit offset through all
    # items, from the earliest timestamp; items off it (another time of day) are placed alone
    unit, n = offset.base, getattr(offset, "n", 1)
    grid = pd.date_range(pd.Timestamp(times.min()), pd.Timestamp(times.max()), freq=unit).as_unit("ns").asi8
    index = np.minimum(np.searchsorted(grid, times), len(grid) - 1)
    on_grid = grid[index] == times
    relative = index - index[first_row][codes]
    position, remainder = np.divmod(relative, n)
    ok = on_grid & (remainder == 0)
    if not ok.all():
        for item in np.unique(codes[~ok]):
            rows = slice(first_row[item], first_row[item] + counts[item])
            mine = pd.DatetimeIndex(times[rows])
            own = pd.date_range(mine[0], mine[-1], freq=offset)
            where = own.get_indexer(mine)
            if own.empty or own[0] != mine[0] or (where < 0).any():
                bad = mine[0] if own.empty or own[0] != mine[0] else mine[int(np.flatnonzero(where < 0)[0])]
                raise _off_grid(int(item), bad.value, freq, who, shifts)
            position[rows] = where
    return position


# --------------------------------------------------------------------------- forecasting


def predict_df(
    predictor,
    df: pd.DataFrame,
    id_column: Optional[str] = GUESS,
    timestamp_column: Optional[str] = None,
    target: Optional[str] = None,
    quantile_levels: Sequence[float] = QUANTILES,
    freq: Optional[str] = None,
    num_samples: Optional[int] = None,
    progress: Optional[bool] = None,
    date_format: Optional[str] = None,
    timezone: str = "utc",
    resample: Optional[str] = None,
    future_df: Optional[pd.DataFrame] = None,
    covariates: Optional[Sequence[str]] = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Forecasts of every item of a long DataFrame (read as :func:`dataset_from_df` reads it)
    past its last timestamp, as a long DataFrame.

    The input's columns, when not given, are ``item_id``/``timestamp``/``target``
    (Chronos, AutoGluon) or ``unique_id``/``ds``/``y`` (Nixtla), found by name as
    :func:`dataset_from_df` documents; a named column always wins, and a frame with columns
    of both conventions or of neither is a :class:`DataError` asking for ``id_column=``,
    ``timestamp_column=``, ``target=`` (``id_column=None``: the whole frame is one series).

    Columns: the item column (absent when ``id_column=None``), the timestamp column (the
    future steps on each item's own grid), both named as in the input (``unique_id``/``ds``
    for a Nixtla frame), ``mean``, ``median`` and ``q{level:g}`` for each of
    ``quantile_levels`` (``q0.1`` ...), in the data's units; ``prediction_length`` rows per
    item, items in the order of their first row.

    Forecasts are consumed one at a time from ``predictor.predict`` (a GluonTS predictor of
    either model, or any other): only their means and quantiles are kept, never all sample
    paths. ``num_samples`` is passed on to ``predict`` when given. ``progress`` None shows a
    progress bar on a terminal only; True or False forces it on or off. ``date_format``,
    ``timezone`` and ``resample`` read the timestamps as :func:`dataset_from_df` does.

    **Covariates** (Chronos-2's rule; :mod:`~lagllama_gluonts.common.frame_covariates`):
    ``covariates`` names them, by default every column of ``df`` other than the item, time and
    target ones (``covariates=[]``: none, the forecast without them). A covariate that
    ``future_df`` has too is known-future (``feat_dynamic_real``: its history from ``df``, the
    ``predictor.prediction_length`` steps after each item's last timestamp from ``future_df``,
    which has the same item and time columns and, for every item, a row for exactly each of
    those steps on its own grid, none of them blank); the others are past-only
    (``past_feat_dynamic_real``). Numeric and boolean columns become float32 rows, text and
    category columns integer codes (``feat_dynamic_cat``); gaps in the history (blank cells,
    steps without a row) are filled forward, then backward, per item. A predictor whose
    network takes covariates itself (a ``PyTorchPredictor`` whose ``input_names`` include
    ``feat_dynamic_real``/``past_feat_dynamic_real``, or a model built with them) gets the
    entries with those fields, their counts checked against the model's (numbers only:
    one-hot encode categories); any other is wrapped in
    :class:`~lagllama_gluonts.common.incontext.InContextCovariates` (``seed``: its
    coefficient draws), the in-context regression that needs no weights. Refused with a
    :class:`DataError` naming the item, the column and the problem, before any forecast: a
    covariate name ``df`` lacks, a ``future_df`` column that is no covariate, an item of
    ``future_df`` not in ``df``, missing or extra horizon rows, a blank known value over the
    horizon, a covariate without any value in an item's history, ``resample=`` with covariates.
    """
    levels = check_levels(quantile_levels)
    id_column, timestamp_column, target = resolve_columns(df, id_column, timestamp_column, target)
    if id_column is not None and id_column == timestamp_column:
        raise ValueError(f"id_column and timestamp_column are both {id_column!r}")
    known, past = covariate_columns(df, id_column, timestamp_column, target, covariates, future_df)
    if known or past or future_df is not None:
        series, predictor = _with_covariates(
            predictor, df, future_df, known, past, (id_column, timestamp_column, target, freq), seed, date_format,
            timezone, resample,
        )  # fmt: skip
    else:
        series = _read(df, id_column, timestamp_column, target, freq, date_format, timezone, resample)
    warn_mostly_missing(series)
    frames = list(predict_series(predictor, series, levels, num_samples=num_samples, progress=progress))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _with_covariates(predictor, df, future_df, known, past, columns, seed, date_format, timezone, resample):
    """The frame read with its covariate fields in the entries, and the predictor that takes
    them: its own network, else the in-context regression around it (all checked first)."""
    id_column, timestamp_column, target, freq = columns
    horizon = horizon_of(predictor, resample)
    counts = own_counts(predictor)
    if counts is not None:  # its network takes numbers, as many as it was built with
        refuse_categorical([c for c in known + past if is_categorical(df[c], c)])
        check_counts(counts, known, past)
    reading = dict(date_format=date_format, timezone=timezone, placement=True)
    series, where = _read(df, id_column, timestamp_column, target, freq, **reading)
    fields = covariate_fields(
        series, where, df, known, past, horizon, future_df, id_column, timestamp_column,
        date_format, timezone, categorical=counts is None,
    )  # fmt: skip
    for entry, more in zip(series.entries, fields):
        entry.update(more)
    return series, predictor if counts is not None or not (known or past) else in_context(predictor, seed)


def check_levels(quantile_levels: Sequence[float]) -> List[float]:
    levels = [float(q) for q in quantile_levels]
    for q in levels:
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantile levels lie strictly between 0 and 1, got {q!r}")
    return levels


def predict_series(
    predictor,
    series: FrameSeries,
    quantile_levels: Sequence[float] = QUANTILES,
    num_samples: Optional[int] = None,
    progress: Optional[bool] = None,
    chunk_items: int = 1000,
) -> Iterator[pd.DataFrame]:
    """:func:`predict_df`'s table in pieces of ``chunk_items`` items, each yielded as soon as
    its forecasts are in: a writer can store one piece while the next is forecast, so memory
    holds one piece of the table (and one batch of sample paths), whatever the number of items.
    """
    levels = check_levels(quantile_levels)
    kwargs = {} if num_samples is None else {"num_samples": num_samples}
    total = len(series.entries)
    forecasts = iter(predictor.predict(series.entries, **kwargs))
    count = 0
    with tqdm(
        total=total, desc="forecasting", unit="series", disable=None if progress is None else not progress
    ) as bar:
        while True:
            piece = _collect(forecasts, series, count, min(total, count + chunk_items), levels, bar)
            count += piece.items
            yield piece.frame(series, levels)
            if count >= total:
                break
    if next(forecasts, None) is not None:
        raise RuntimeError(f"the predictor returned more forecasts than the {total} series")


@dataclass
class _Piece:
    items: int
    codes: List[np.ndarray]
    stamps: List[np.ndarray]
    means: List[np.ndarray]
    medians: List[np.ndarray]
    quantiles: List[List[np.ndarray]]

    def frame(self, series: FrameSeries, levels: Sequence[float]) -> pd.DataFrame:
        def joined(parts, dtype):
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        columns: Dict[str, Any] = {}
        if series.id_column is not None:
            columns[series.id_column] = series.ids.take(joined(self.codes, np.int64))
        columns[series.timestamp_column] = pd.DatetimeIndex(joined(self.stamps, np.int64).view("datetime64[ns]"))
        columns["mean"] = joined(self.means, np.float64)
        columns["median"] = joined(self.medians, np.float64)
        for k, q in enumerate(levels):
            columns[f"q{q:g}"] = joined([per_item[k] for per_item in self.quantiles], np.float64)
        return pd.DataFrame(columns)


def _collect(forecasts, series: FrameSeries, first: int, stop: int, levels, bar) -> _Piece:
    """Items ``first`` .. ``stop - 1``'s forecasts: their means and quantiles only."""
    piece = _Piece(0, [], [], [], [], [])
    for item in range(first, stop):
        forecast = next(forecasts, None)
        if forecast is None:
            raise RuntimeError(f"the predictor returned {item} forecasts for {len(series.entries)} series")
        horizon = int(forecast.prediction_length)
        piece.stamps.append(future_timestamps(pd.Timestamp(series.last[item]), horizon, series.freq).asi8)
        piece.means.append(np.asarray(forecast.mean, dtype=np.float64).reshape(horizon))
        piece.medians.append(np.asarray(forecast.quantile(0.5), dtype=np.float64).reshape(horizon))
        piece.quantiles.append([np.asarray(forecast.quantile(q), dtype=np.float64).reshape(horizon) for q in levels])
        piece.codes.append(np.full(horizon, item, dtype=np.int64))
        piece.items += 1
        del forecast  # only the small arrays above outlive this step
        bar.update()
    return piece
