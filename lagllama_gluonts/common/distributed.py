"""``predict_df`` beyond one machine: forecasting is pure per group of items, so the groups can
run anywhere. The engine is Ray Data (``pip install -e ".[distributed]"``): the table is split
into groups of items by a key column and each group is forecast by ``map_groups`` on a worker,
the way Spark's ``applyInPandas`` would do it, with a lighter install.

>>> import ray
>>> ray.init(num_cpus=2)            # local; on a cluster: ray.init(address="auto")  # doctest: +SKIP
>>> table = predict_df_ray(predictor, df, id_column="store", target="sales", seed=0)  # doctest: +SKIP

The columns are found as :func:`~lagllama_gluonts.common.dataframes.predict_df` finds them:
those named, the others guessed from ``item_id``/``timestamp``/``target`` or Nixtla's
``unique_id``/``ds``/``y``, once for the whole table before it is split (every group then
uses the same names). Groups need items: ``id_column=None`` (one series) is refused.

Reproducible: each group seeds torch and NumPy with ``seed + group`` before it forecasts,
so the result does not depend on where or in which order the groups run;
:func:`predict_df_grouped` runs the same groups one after another in this process and gives
the same table (the test compares them). Items are grouped by their position in first-row
order (item ``k`` in group ``k % groups``); rows come back in that order, like ``predict_df``.

Give ``freq=`` on a real table: each group otherwise infers the frequency of its own items,
and items that disagree across groups are then not caught.

Covariates go as in ``predict_df`` (``covariates=``, ``future_df=``): ``future_df`` is split by
the same groups, each group getting the future rows of its own items (a ``future_df`` item
that is not in ``df`` is refused first); the in-context regression of each group draws from
``seed + group``.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from .columns import GUESS
from .constants import QUANTILES
from .dataframes import predict_df, read_df, resolve_columns
from .errors import DataError

GROUP_COLUMN = "__group__"


def assign_groups(df: pd.DataFrame, id_column: str, groups: int) -> np.ndarray:
    """Each row's group: its item's position in first-row order, modulo ``groups``."""
    if id_column is None:
        raise DataError("forecasting in groups needs an item column: name it with id_column=", field="id_column")
    if id_column not in df:
        raise DataError(
            f"the DataFrame has no column {id_column!r} (id_column=); its columns are: "
            f"{', '.join(map(repr, map(str, df.columns)))}",
            field="id_column",
        )
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive integer, got {groups!r}")
    codes, _ = pd.factorize(df[id_column], sort=False)
    return (codes % groups).astype(np.int64)


def _seed(value: int) -> None:
    np.random.seed(value % 2**32)
    try:
        import torch
    except ImportError:  # a predictor without torch draws from NumPy only
        return
    torch.manual_seed(value)


def _forecast_group(frame: pd.DataFrame, predictor, seed: int, futures=None, **kwargs) -> pd.DataFrame:
    """One group's forecasts, seeded by the group: the same wherever it runs. ``futures``: the
    group's future rows by group (:func:`split_future`), None without ``future_df``."""
    group = int(frame[GROUP_COLUMN].iloc[0])
    _seed(seed + group)
    kwargs["seed"] = seed + group  # the in-context regression's draws, when there are covariates
    if futures is not None:
        kwargs["future_df"] = futures[group]
    table = predict_df(predictor, frame.drop(columns=GROUP_COLUMN), progress=False, **kwargs)
    table.insert(0, GROUP_COLUMN, group)
    return table


def split_future(future_df: Optional[pd.DataFrame], df: pd.DataFrame, id_column: str, groups: int):
    """``future_df``'s rows by the group of their item (:func:`assign_groups` of ``df``), one
    (maybe empty) frame per group; a DataError for an item ``df`` does not have."""
    if future_df is None:
        return None
    if not isinstance(future_df, pd.DataFrame) or id_column not in future_df:
        raise DataError(f"future_df must be a DataFrame with df's item column {id_column!r}", field="future_df")
    items = pd.Index(pd.unique(df[id_column]))
    position = items.get_indexer(future_df[id_column])
    if (position < 0).any():
        row = int(np.flatnonzero(position < 0)[0])
        raise DataError(
            f"future_df: item {future_df[id_column].iloc[row]!r} (row {future_df.index[row]!r}, column "
            f"{id_column!r}) is not an item of df",
            field="future_df",
        )
    group = position % groups
    return {g: future_df[group == g] for g in range(groups)}


def _in_item_order(table: pd.DataFrame, df: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """The rows in the order predict_df gives: items by their first row, steps in time."""
    order = {item: k for k, item in enumerate(pd.unique(df[id_column]))}
    rank = table[id_column].map(order).to_numpy()
    rows = np.lexsort((np.arange(len(table)), rank))
    return table.iloc[rows].drop(columns=GROUP_COLUMN).reset_index(drop=True)


def predict_df_grouped(
    predictor,
    df: pd.DataFrame,
    id_column: Optional[str] = GUESS,
    timestamp_column: Optional[str] = None,
    target: Optional[str] = None,
    groups: int = 4,
    seed: int = 0,
    quantile_levels: Sequence[float] = QUANTILES,
    freq: Optional[str] = None,
    num_samples: Optional[int] = None,
    future_df: Optional[pd.DataFrame] = None,
    covariates: Optional[Sequence[str]] = None,
) -> pd.DataFrame:
    """:func:`predict_df_ray`'s table, computed here group after group (the reference)."""
    id_column, timestamp_column, target = resolve_columns(df, id_column, timestamp_column, target)
    if len(df) == 0:  # predict_df's answer, before any group or Ray task is made
        read_df(df, id_column, timestamp_column, target, freq)
    kwargs = dict(
        id_column=id_column,
        timestamp_column=timestamp_column,
        target=target,
        quantile_levels=quantile_levels,
        freq=freq,
        num_samples=num_samples,
        covariates=covariates,
    )
    keyed = df.assign(**{GROUP_COLUMN: assign_groups(df, id_column, groups)})
    futures = split_future(future_df, df, id_column, groups)
    pieces = [_forecast_group(frame, predictor, seed, futures, **kwargs) for _, frame in keyed.groupby(GROUP_COLUMN)]
    return _in_item_order(pd.concat(pieces, ignore_index=True), df, id_column)


def predict_df_ray(
    predictor,
    df: pd.DataFrame,
    id_column: Optional[str] = GUESS,
    timestamp_column: Optional[str] = None,
    target: Optional[str] = None,
    groups: int = 4,
    seed: int = 0,
    quantile_levels: Sequence[float] = QUANTILES,
    freq: Optional[str] = None,
    num_samples: Optional[int] = None,
    num_cpus: Optional[float] = 1,
    make_predictor: Optional[Callable[[], object]] = None,
    future_df: Optional[pd.DataFrame] = None,
    covariates: Optional[Sequence[str]] = None,
) -> pd.DataFrame:
    """Forecast every item of a long DataFrame with Ray Data, one task per group of items.

    ``predictor`` is shipped to the workers once (``ray.put``); ``make_predictor`` instead
    builds it on each worker (e.g. ``lambda: load_predictor(path, 24)`` for a checkpoint the
    workers can read). Uses the running Ray (``ray.init(...)`` first, e.g. ``address="auto"``
    on a cluster), else starts a local one. Returns :func:`predict_df`'s table. ``future_df`` and
    ``covariates``: as :func:`predict_df` takes them, ``future_df`` split by group.
    """
    try:
        import ray
    except ImportError:
        raise DataError('predict_df_ray needs Ray Data: pip install "ray[data]" (the distributed extra)') from None
    if predictor is None and make_predictor is None:
        raise ValueError("give a predictor or make_predictor")
    id_column, timestamp_column, target = resolve_columns(df, id_column, timestamp_column, target)
    if len(df) == 0:  # predict_df's answer, before any group or Ray task is made
        read_df(df, id_column, timestamp_column, target, freq)
    kwargs = dict(
        id_column=id_column,
        timestamp_column=timestamp_column,
        target=target,
        quantile_levels=list(quantile_levels),
        freq=freq,
        num_samples=num_samples,
        covariates=None if covariates is None else list(covariates),
    )
    keyed = df.assign(**{GROUP_COLUMN: assign_groups(df, id_column, groups)})
    futures = split_future(future_df, df, id_column, groups)
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    shipped = ray.put(predictor) if make_predictor is None else None
    shipped_futures = None if futures is None else ray.put(futures)

    def forecast(frame: pd.DataFrame) -> pd.DataFrame:
        model = make_predictor() if make_predictor is not None else ray.get(shipped)
        mine = None if shipped_futures is None else ray.get(shipped_futures)
        return _forecast_group(frame, model, seed, mine, **kwargs)

    dataset = ray.data.from_pandas(keyed)
    table = (
        dataset.groupby(GROUP_COLUMN, num_partitions=min(groups, keyed[GROUP_COLUMN].nunique()))
        .map_groups(forecast, batch_format="pandas", num_cpus=num_cpus)
        .to_pandas()
    )
    # Arrow's round trip may change the types (strings, time units): back to predict_df's
    table[id_column] = table[id_column].astype(df[id_column].dtype)
    table[timestamp_column] = table[timestamp_column].astype("datetime64[ns]")
    for column in table.columns.difference([id_column, timestamp_column, GROUP_COLUMN]):
        table[column] = table[column].astype(np.float64)
    return _in_item_order(table, df, id_column)
