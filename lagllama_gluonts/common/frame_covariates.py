"""Covariate columns of a long DataFrame as GluonTS fields, by Chronos-2's ``predict_df(df,
future_df=...)`` rule: what :func:`~lagllama_gluonts.common.dataframes.predict_df` does with the
columns beside the item, time and target ones.

* The covariates are ``covariates=`` (by default every other column of ``df``; ``[]``: none).
* One that ``future_df`` also has is **known-future**: GluonTS's ``feat_dynamic_real`` over the
  item's history and the ``prediction_length`` steps after its last timestamp, the latter read
  from ``future_df`` (the same item and time columns; for every item exactly those steps, on its
  own grid). The others are **past-only**: ``past_feat_dynamic_real``, over the history alone.
* Numeric columns (int, float, bool) become float32 rows; text and categories become integer
  codes, ``feat_dynamic_cat`` when known (past-only ones: one 0/1 row per level the item's
  history shows, in ``past_feat_dynamic_real``), for the in-context regression only
  (:class:`~lagllama_gluonts.common.incontext.InContextCovariates`, which one-hot encodes them).
* History gaps (blank cells, grid steps without a row) are filled forward, then backward, per
  item; the horizon's values must all be there.

Rows of each field follow the order of ``df``'s columns. Everything is checked before any
forecast: a :class:`DataError` names the item, the column and the problem. Imports only the
layers below :mod:`~lagllama_gluonts.common.dataframes` (the in-context wrapper lazily, when
a predictor needs it).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from .constants import MAX_MAGNITUDE
from .errors import DataError
from .files import to_numbers
from .frequency import future_timestamps, to_offset
from .timestamps import parse_timestamps

KNOWN, KNOWN_CAT, PAST = "feat_dynamic_real", "feat_dynamic_cat", "past_feat_dynamic_real"


# --------------------------------------------------------------------------- which columns


def covariate_columns(
    df: pd.DataFrame,
    id_column: Optional[str],
    timestamp_column: str,
    target: str,
    covariates: Optional[Sequence[str]] = None,
    future_df: Optional[pd.DataFrame] = None,
) -> Tuple[List[str], List[str]]:
    """``(known, past)``: the covariate columns that ``future_df`` has too, and the others, in
    ``df``'s column order; a :class:`DataError` for a name ``df`` lacks, a covariate that is the
    item, time or target column, or a ``future_df`` column that is no covariate."""
    roles = {id_column: "item", timestamp_column: "timestamp", target: "target"}
    if covariates is None:
        chosen = [c for c in df.columns if c not in roles]
    else:
        if isinstance(covariates, str):
            covariates = [covariates]
        chosen = list(dict.fromkeys(covariates))
        for name in chosen:
            if name in roles and name is not None:
                raise DataError(f"covariates=: {name!r} is the {roles[name]} column, not a covariate", "covariates")
            if name not in df.columns:
                raise DataError(
                    f"covariates=: the DataFrame has no column {name!r}; its columns are: "
                    f"{', '.join(map(repr, map(str, df.columns)))}",
                    field="covariates",
                )
        chosen = [c for c in df.columns if c in set(chosen)]  # df's order
    if future_df is None:
        return [], chosen
    if not isinstance(future_df, pd.DataFrame):
        raise DataError(f"future_df must be a pandas DataFrame, got {type(future_df).__name__}", "future_df")
    for name in future_df.columns:
        if name in (id_column, timestamp_column) or name in chosen:
            continue
        why = (
            "the target: future_df gives covariates only"
            if name == target
            else "not a column of df"
            if name not in df.columns
            else "left out by covariates="
        )
        raise DataError(
            f"future_df column {name!r} is not a covariate of df ({why}); its covariates are: "
            f"{', '.join(map(repr, chosen)) or 'none'}",
            field="future_df",
        )
    for name in (timestamp_column, id_column):
        if name is not None and name not in future_df.columns:
            raise DataError(
                f"future_df has no column {name!r}: it needs df's item and timestamp columns", field="future_df"
            )
    known = set(future_df.columns)
    return [c for c in chosen if c in known], [c for c in chosen if c not in known]


def is_categorical(column: pd.Series, name: str) -> bool:
    """Numbers and booleans: False; text, categories: True; dates and the like: a DataError."""
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)
    ):
        return False
    if (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return True
    raise DataError(
        f"covariate column {name!r} holds {dtype} values; covariates are numbers, booleans or categories "
        "(leave it out with covariates=[...])",
        field="covariates",
    )


# --------------------------------------------------------------------------- the predictor's side


def horizon_of(predictor, resample=None) -> int:
    """The predictor's ``prediction_length``, the horizon ``future_df`` covers; a DataError
    without one, or with ``resample`` (rows averaged per step have no single covariate value)."""
    if resample is not None:
        raise DataError(
            "resample= averages the target only; it cannot be used with covariate columns (covariates=[] leaves "
            "them out)",
            field="resample",
        )
    horizon = getattr(predictor, "prediction_length", None)
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise DataError(
            f"covariates need the predictor's forecast horizon: it has no positive prediction_length ({horizon!r})",
            field="future_df",
        )
    return int(horizon)


def own_counts(predictor) -> Optional[Tuple[Optional[int], Optional[int]]]:
    """``(known, past)`` covariate rows a predictor's network takes itself (a count None where it
    does not say), or None when it takes none (the in-context regression then wraps it).

    A GluonTS ``PyTorchPredictor`` takes them when its ``input_names`` include
    ``feat_dynamic_real`` or ``past_feat_dynamic_real``, or its network (``prediction_net`` or
    its ``model``) was built with ``num_feat_dynamic_real`` / ``num_past_feat_dynamic_real`` > 0
    (Informer folds known covariates into its time features)."""
    names = set(getattr(predictor, "input_names", None) or ())
    net = getattr(predictor, "prediction_net", None)
    counts = None
    for holder in (getattr(net, "model", None), net, predictor):
        known = getattr(holder, "num_feat_dynamic_real", None) if holder is not None else None
        if isinstance(known, (int, np.integer)) and not isinstance(known, bool):
            counts = (int(known), int(getattr(holder, "num_past_feat_dynamic_real", 0) or 0))
            break
    if names & {KNOWN, PAST} or (counts is not None and sum(counts) > 0):
        return counts if counts is not None else (None, None)
    return None


def check_counts(counts, known: List[str], past: List[str]) -> None:
    """The frame's covariates against what the network takes, else a DataError naming both."""
    for field, want, have, what in ((KNOWN, counts[0], known, "known-future"), (PAST, counts[1], past, "past-only")):
        if want is not None and want != len(have):
            where = "in future_df too" if what == "known-future" else "not in future_df"
            raise DataError(
                f"the predictor takes {want} {what} covariate(s) (num_{field}={want}); the frame has {len(have)} "
                f"({', '.join(map(repr, have)) or 'none'}: covariate columns {where}); pass covariates= and "
                "future_df= to match what the model was trained with",
                field="covariates",
            )


def refuse_categorical(columns: List[str]) -> None:
    if columns:
        raise DataError(
            f"covariate column {columns[0]!r} is categorical; a predictor that takes covariates itself needs "
            f"numbers: one-hot encode it (pd.get_dummies(df, columns=[{columns[0]!r}], dtype=float), in df and "
            "future_df alike) or leave it out with covariates=[...]",
            field="covariates",
        )


def in_context(predictor, seed: int = 0):
    """``predictor`` wrapped in the in-context regression (unchanged if it already is one)."""
    from .incontext import InContextCovariates

    if isinstance(predictor, InContextCovariates):
        return predictor
    return InContextCovariates(predictor, seed=seed)


# --------------------------------------------------------------------------- the values


def _plain(value):
    """A cell or row label as errors show it (``5``, not ``np.int64(5)``)."""
    return value.item() if isinstance(value, np.generic) else value


class _Items:
    """What errors need of the items: their names, grid and last timestamps."""

    def __init__(self, series, timestamp_column: str):
        self.series, self.timestamp_column = series, timestamp_column
        self.lengths = series.lengths()
        self.offsets = np.r_[0, np.cumsum(self.lengths)[:-1]].astype(np.int64)

    def who(self, item: int) -> str:
        return "the series" if self.series.ids is None else f"item {_plain(self.series.name(int(item)))!r}"


def horizon_grid(last: np.ndarray, horizon: int, freq: str) -> np.ndarray:
    """Each item's ``horizon`` next timestamps on its own grid, int64 ns, (items, horizon)."""
    offset = to_offset(freq)
    if isinstance(offset, pd.offsets.Tick):
        return last[:, None] + offset.nanos * np.arange(1, horizon + 1, dtype=np.int64)
    return np.stack([future_timestamps(pd.Timestamp(t), horizon, freq).asi8 for t in last]).reshape(len(last), horizon)


def future_slots(future_df, items: _Items, id_column, horizon: int, date_format=None, timezone="utc") -> np.ndarray:
    """Each ``future_df`` row's slot ``item * horizon + step``; a DataError for a row of an unknown
    item, a duplicate row, a timestamp outside the item's horizon, or a horizon step without a row."""
    series, column = items.series, items.timestamp_column
    labels = future_df.index
    if id_column is None:
        codes = np.zeros(len(future_df), dtype=np.int64)
    else:
        codes = pd.Index(series.ids).get_indexer(future_df[id_column])
        if (codes < 0).any():
            row = int(np.flatnonzero(codes < 0)[0])
            item, label = _plain(future_df[id_column].iloc[row]), _plain(labels[row])
            raise DataError(
                f"future_df: item {item!r} (row {label!r}, column {id_column!r}) is not an item of df",
                field="future_df",
            )
    parsed = parse_timestamps(future_df[column], column, date_format, timezone)
    if (parsed.ns == np.iinfo(np.int64).min).any():
        row = int(np.flatnonzero(parsed.ns == np.iinfo(np.int64).min)[0])
        raise DataError(f"future_df: {items.who(codes[row])}: missing timestamp in column {column!r}, row "
                        f"{_plain(labels[row])!r}", field="future_df")  # fmt: skip
    grid = horizon_grid(series.last, horizon, series.freq)
    expected = pd.MultiIndex.from_arrays([np.repeat(np.arange(len(grid)), horizon), grid.ravel()])
    given = pd.MultiIndex.from_arrays([codes, parsed.ns])
    twice = given.duplicated()
    if twice.any():
        row = int(np.flatnonzero(twice)[0])
        raise DataError(
            f"future_df: {items.who(codes[row])}: duplicate timestamp {pd.Timestamp(parsed.ns[row])} in column "
            f"{column!r} (row {_plain(labels[row])!r}); one row per item and forecast step is expected",
            field="future_df",
        )
    slots = expected.get_indexer(given)

    def span(item: int) -> str:
        first, end = pd.Timestamp(grid[item, 0]), pd.Timestamp(grid[item, -1])
        return (
            f"the {horizon} steps after its last timestamp {pd.Timestamp(series.last[item])} on the "
            f"{series.freq!r} grid: {first} .. {end} (prediction_length={horizon})"
        )

    if (slots < 0).any():
        row = int(np.flatnonzero(slots < 0)[0])
        item = int(codes[row])
        raise DataError(
            f"future_df: {items.who(item)}: timestamp {pd.Timestamp(parsed.ns[row])} (row {_plain(labels[row])!r}, "
            f"column {column!r}) is not in the forecast horizon; future_df holds exactly {span(item)}",
            field="future_df",
        )
    covered = np.zeros(len(grid) * horizon, dtype=bool)
    covered[slots] = True
    if not covered.all():
        missing = np.flatnonzero(~covered)
        item, step = divmod(int(missing[0]), horizon)
        count = int(np.count_nonzero(~covered[item * horizon : (item + 1) * horizon]))
        if count == horizon:
            problem = "has no rows"
        else:
            problem = f"has no row at {pd.Timestamp(grid[item, step])} ({count} of {horizon} steps missing)"
        others = len(np.unique(missing // horizon)) - 1
        more = f"; {others} other item(s) lack rows too" if others else ""
        raise DataError(
            f"future_df: {items.who(item)} {problem} (column {column!r}); it needs one row for each of "
            f"{span(item)}{more}",
            field="future_df",
        )
    return slots


def _numbers(column: pd.Series, name: str, codes: np.ndarray, items: _Items, labels, where: str) -> np.ndarray:
    values, row = to_numbers(column)
    if row is None:
        bad = np.abs(np.where(np.isnan(values), 0.0, values)) > MAX_MAGNITUDE  # infinite ones too
        row = int(np.flatnonzero(bad)[0]) if bad.any() else None
    if row is not None:
        value, label = _plain(column.iloc[row]), _plain(labels[row])
        raise DataError(
            f"{where}{items.who(codes[row])}: covariate column {name!r} has the value {value!r} in row {label!r}: "
            f"not a number, or beyond what float32 models can hold (|value| <= {MAX_MAGNITUDE:.1e})",
            field="covariates",
        )
    return values


def covariate_fields(
    series,
    where: np.ndarray,
    df: pd.DataFrame,
    known: List[str],
    past: List[str],
    horizon: int,
    future_df: Optional[pd.DataFrame] = None,
    id_column: Optional[str] = None,
    timestamp_column: str = "timestamp",
    date_format: Optional[str] = None,
    timezone: str = "utc",
    categorical: bool = True,
) -> List[Dict[str, Any]]:
    """Per entry of ``series`` (read from ``df``; ``where``: each row's index into the entries'
    concatenated targets) its covariate fields, checked; ``categorical`` False refuses text and
    category columns (a network takes numbers only)."""
    items = _Items(series, timestamp_column)
    count = len(series.entries)
    columns = known + past
    kinds = {c: is_categorical(df[c], c) for c in columns}
    if not categorical:
        refuse_categorical([c for c in columns if kinds[c]])
    slots = None if future_df is None else future_slots(future_df, items, id_column, horizon, date_format, timezone)
    df_codes = np.repeat(np.arange(count), items.lengths)[where]  # each df row's item
    history = np.full((int(items.lengths.sum()), len(columns)), np.nan)
    future = np.full((count * horizon, len(known)), np.nan)
    for j, name in enumerate(columns):
        extra = future_df[name] if name in known else None
        if kinds[name]:
            both = df[name] if extra is None else pd.concat([df[name], extra], ignore_index=True)
            codes = pd.factorize(both.astype(object), sort=False)[0].astype(np.float64)
            codes[codes < 0] = np.nan
            values, ahead = codes[: len(df)], codes[len(df) :]
        else:
            values = _numbers(df[name], name, df_codes, items, df.index, "")
            if extra is not None:
                ahead = _numbers(extra, name, slots // horizon, items, future_df.index, "future_df: ")
        history[where, j] = values
        if extra is not None:
            future[slots, j] = ahead
    item_of_step = np.repeat(np.arange(count), items.lengths)
    history = pd.DataFrame(history).groupby(item_of_step).ffill().groupby(item_of_step).bfill().to_numpy()
    empty = np.isnan(history)
    if empty.any():
        step, j = (int(i) for i in np.argwhere(empty)[0])
        raise DataError(
            f"{items.who(item_of_step[step])}: covariate column {columns[j]!r} has no value in the item's history "
            "(gaps are filled forward then backward, but there is nothing to fill from); give it values or leave "
            "it out with covariates=[...]",
            field="covariates",
        )
    blank = np.isnan(future)
    if blank.any():
        slot, j = (int(i) for i in np.argwhere(blank)[0])
        item, step = divmod(slot, horizon)
        when = pd.Timestamp(horizon_grid(series.last[item : item + 1], horizon, series.freq)[0, step])
        raise DataError(
            f"future_df: {items.who(item)}: known-future covariate column {known[j]!r} is missing (NaN) at {when}, "
            "in the forecast horizon; fill in the values the horizon will have",
            field="future_df",
        )
    return _per_entry(items, history, future, known, past, kinds, horizon)


def _per_entry(items: _Items, history, future, known, past, kinds, horizon) -> List[Dict[str, Any]]:
    text = [kinds[c] for c in known + past]
    out = []
    for item, (start, length) in enumerate(zip(items.offsets, items.lengths)):
        ahead = future[item * horizon : (item + 1) * horizon].T  # (known, h)
        out.append(series_fields(history[start : start + length].T, ahead, len(known), text))
    return out


def series_fields(history: np.ndarray, future: np.ndarray, num_known: int, text: Sequence[bool]) -> Dict[str, Any]:
    """One series' covariate fields from its covariate rows: ``history`` (K, T), the known-future
    ones first, then the past-only ones (gaps filled); ``future`` (num_known, h), the known ones
    over the horizon (h may be 0); ``text[k]``: row ``k`` holds a text column's codes. Known numbers
    go to ``feat_dynamic_real`` and known text to ``feat_dynamic_cat``, over T + h; past-only
    numbers to ``past_feat_dynamic_real``, past-only text there too as one 0/1 row per level the
    history shows (GluonTS has no past categorical field). The command line's tables
    (:meth:`~lagllama_gluonts.common.tables.SeriesTable.add_covariate_fields`) use it too."""
    known_num = [k for k in range(num_known) if not text[k]]
    known_cat = [k for k in range(num_known) if text[k]]
    past_num = [k for k in range(num_known, len(history)) if not text[k]]
    past_cat = [k for k in range(num_known, len(history)) if text[k]]
    fields: Dict[str, Any] = {}
    if known_num:
        fields[KNOWN] = np.concatenate((history[known_num], future[known_num]), axis=1).astype(np.float32)
    if known_cat:
        fields[KNOWN_CAT] = np.concatenate((history[known_cat], future[known_cat]), axis=1).astype(np.int64)
    rows = [history[past_num]] if past_num else []
    for k in past_cat:  # one 0/1 row per level the history shows
        levels = np.unique(history[k])
        rows.append((history[k][None] == levels[:, None]).astype(np.float64))
    if rows:
        fields[PAST] = np.concatenate(rows, axis=0).astype(np.float32)
    return fields
