"""Which columns of a long table are the item ids, the timestamps and the target, when the
caller does not say: the one set of rules :func:`~lagllama_gluonts.common.dataframes.predict_df`,
:func:`~lagllama_gluonts.common.dataframes.dataset_from_df` and the command lines' table
reader (:func:`~lagllama_gluonts.common.files.guess_time_column`) share. Imports only the
error module.

Two conventions are recognised, by their exact column names:

* ``item_id`` / ``timestamp`` / ``target``: Chronos' and AutoGluon's;
* ``unique_id`` / ``ds`` / ``y``: Nixtla's (statsforecast, neuralforecast, mlforecast).

The rules (:func:`guess_columns`), for the roles the caller leaves to the guess:

1. A column named by the caller is used as given, whatever the conventions say.
2. When the item id or the target is guessed, the table must show exactly one convention
   among the guessed roles' names: columns of both (e.g. ``item_id`` and ``y``, or ``ds`` and
   ``timestamp``) are ambiguous, columns of neither cannot be guessed, and a convention that
   lacks the item id column or the target column is incomplete -- each a :class:`DataError`
   naming the columns found and the parameters to pass. Each guessed role then takes the
   convention's name; only a missing timestamp name falls back to rule 3.
3. The timestamp column alone (the item and target columns named, as on the command line):
   the first column named ``ds``, ``date``, ``datetime``, ``timestamp`` or ``time`` (in this
   order, any case). Without one, the command line takes the table's first column
   (``first_column=True``); the API asks for ``timestamp_column=``.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Sequence

from .errors import DataError

# Column names taken as the timestamps when the time column alone is guessed (rule 3).
TIME_COLUMN_NAMES = ("ds", "date", "datetime", "timestamp", "time")

ROLES = ("id_column", "timestamp_column", "target")
CONVENTIONS: Dict[str, Dict[str, str]] = {
    "Chronos/AutoGluon": {"id_column": "item_id", "timestamp_column": "timestamp", "target": "target"},
    "Nixtla": {"id_column": "unique_id", "timestamp_column": "ds", "target": "y"},
}


class _Guess:
    """The default of ``id_column=``: guess it (``None`` there already means one series)."""

    def __repr__(self) -> str:
        return "GUESS"

    def __reduce__(self):  # one instance, also across processes (Ray ships the arguments)
        return "GUESS"


GUESS = _Guess()


class Columns(NamedTuple):
    """The item column (None: the whole frame is one series), the time column and the target."""

    id_column: Optional[str]
    timestamp_column: Optional[str]
    target: Optional[str]


def guess_columns(
    columns: Sequence,
    id_column=GUESS,
    timestamp_column=GUESS,
    target=GUESS,
    *,
    first_column: bool = False,
) -> Columns:
    """The three columns of a table with ``columns``: each argument that is :data:`GUESS`
    guessed by the rules above, any other value (a name, or None: no such column, not asked)
    kept as given. ``first_column``: the command line's fallback to the first column for
    the timestamps."""
    names = [str(c) for c in columns]
    given = {"id_column": id_column, "timestamp_column": timestamp_column, "target": target}
    guessed = [role for role in ROLES if given[role] is GUESS]
    found = dict(given)
    if "id_column" in guessed or "target" in guessed:
        convention = _convention(names, guessed)
        for role in guessed:
            if CONVENTIONS[convention][role] in names:
                found[role] = CONVENTIONS[convention][role]
        missing = [role for role in ("id_column", "target") if found[role] is GUESS]
        if missing:
            raise _incomplete(names, convention, missing)
    if found["timestamp_column"] is GUESS:
        found["timestamp_column"] = _time_column(names, first_column)
    return Columns(**found)


def _convention(names: List[str], guessed: List[str]) -> str:
    """The one convention whose names, for the guessed roles, are among the columns."""
    seen = {
        convention: [names_[role] for role in guessed if names_[role] in names]
        for convention, names_ in CONVENTIONS.items()
    }
    shown = [convention for convention, hits in seen.items() if hits]
    params = _params(guessed)
    if len(shown) > 1:
        both = " and ".join(f"{', '.join(map(repr, seen[c]))} ({c})" for c in shown)
        raise DataError(
            f"cannot guess the columns: the DataFrame has columns of both conventions, {both}; say which with {params}",
            field=guessed[0],
        )
    if not shown:
        raise DataError(
            f"cannot guess the columns: the DataFrame's columns ({_listed(names)}) are neither "
            f"{_spelled('Chronos/AutoGluon')} nor {_spelled('Nixtla')}; name them with {params}",
            field=guessed[0],
        )
    return shown[0]


def _incomplete(names: List[str], convention: str, missing: List[str]) -> DataError:
    """The error for a table that shows a convention but lacks its item or target column
    (worded like a named column that is missing: "no column 'y' (target=)")."""
    lacking = ", ".join(f"{CONVENTIONS[convention][role]!r} ({role}=)" for role in missing)
    hint = "" if "id_column" not in missing else " (id_column=None: the whole frame is one series)"
    return DataError(
        f"the DataFrame has no column {lacking}, which {convention}'s {_spelled(convention)} has; its "
        f"columns are: {_listed(names)}; name the column with {_params(missing)}{hint}",
        field=missing[0],
    )


def _time_column(names: List[str], first_column: bool) -> str:
    """Rule 3: the first column named like ``ds``/``date`` ..., else the first column (CLI)."""
    if not names:
        raise DataError("the table has no columns")
    lowered = {name.lower(): name for name in names}  # the last of "Date"/"date" wins, as it always did
    for candidate in TIME_COLUMN_NAMES:
        if candidate in lowered:
            return lowered[candidate]
    if first_column:
        return names[0]
    raise DataError(
        f"cannot guess the timestamp column: none of the DataFrame's columns ({_listed(names)}) is named "
        f"{'/'.join(TIME_COLUMN_NAMES)}; name it with timestamp_column=",
        field="timestamp_column",
    )


def _spelled(convention: str) -> str:
    return "/".join(CONVENTIONS[convention][role] for role in ROLES)


def _listed(names: List[str]) -> str:
    return ", ".join(map(repr, names))


def _params(roles: Sequence[str]) -> str:
    return ", ".join(f"{role}=" for role in roles)
