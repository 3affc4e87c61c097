"""Strict JSON out: every JSON file (and JSON text) the package writes goes through here.

Python's :mod:`json` writes a NaN or an infinity as the bare tokens ``NaN`` and ``Infinity``,
which are not JSON: other readers (``jq``, JavaScript's ``JSON.parse``, most languages' parsers)
reject the whole file. A metric can be NaN (nothing to score, a constant series' scaled error),
so here every non-finite number becomes ``null``. Nothing else changes: what ``default=float``
accepted before (NumPy scalars, 0-d arrays) is still written, integers now as integers.
A file is written whole or not at all (:mod:`.atomic`). A leaf but for that leaf.
"""

from __future__ import annotations

import json
import math
import numbers
from pathlib import Path
from typing import Any, Optional, Union

from .atomic import atomic_path


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float (NumPy's float64 is one) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _number(value: Any) -> Union[int, float, None]:
    """What :mod:`json` cannot write itself: a NumPy integer as an int, any other number as a
    float (as ``default=float`` did), a non-finite one as None; anything else raises TypeError."""
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def dumps(value: Any, indent: Optional[int] = 2) -> str:
    """``value`` as strict JSON text: NaN and infinities written as ``null``."""
    # allow_nan=False: a non-finite number that slipped through is an error, never a bare NaN
    return json.dumps(_finite(value), indent=indent, default=_number, allow_nan=False)


def write_json(path: Union[str, Path], value: Any, indent: Optional[int] = 2) -> Path:
    """Write ``value`` to ``path`` as strict JSON (see :func:`dumps`), replacing the file only
    once the new one is complete; returns the path."""
    path = Path(path)
    text = dumps(value, indent=indent)  # a value that cannot be written fails before the file is touched
    with atomic_path(path) as temp:
        temp.write_text(text)
    return path
