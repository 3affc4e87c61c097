"""The bottom of the shared layer: the one error type for data the models cannot use.

A :class:`DataError` names the API parameter a problem is about in its message (``freq=``,
``id_column=`` ...) and carries that parameter as :attr:`DataError.field`, so a front end
can phrase it in its own words: a command line calls :func:`message_with_flags` (or
:meth:`DataError.message_for`) with its flag for each field, and the message then quotes
``--freq`` where the library said ``freq=``. Nothing here imports the rest of the package.
"""

from __future__ import annotations

import re
from typing import Mapping, Optional


class DataError(ValueError):
    """A dataset, series or argument the models cannot use, with the reason in the message.

    ``field`` is the API parameter the problem is about (``"freq"``, ``"id_column"``,
    ``"target"`` ...), or None when it is about the data itself. The message quotes each
    parameter it names as ``name=``, the form :meth:`message_for` rewrites.
    """

    def __init__(self, message: str = "", field: Optional[str] = None) -> None:
        super().__init__(message)
        self.field = field

    @property
    def message(self) -> str:
        return str(self)

    def message_for(self, flags: Mapping[str, str]) -> str:
        """The message with each ``name=`` of ``flags`` replaced by its flag, e.g.
        ``{"freq": "--freq"}`` turns "pass freq=" into "pass --freq"."""
        return message_with_flags(str(self), flags)

    def for_flags(self, flags: Mapping[str, str]) -> "DataError":
        """The same error (same field and type) with its message in ``flags``' words."""
        error = DataError(self.message_for(flags), field=self.field)
        error.__cause__ = self.__cause__
        return error


def message_with_flags(message: str, flags: Mapping[str, str]) -> str:
    """``message`` with each API parameter ``name=`` in ``flags`` replaced by its flag.

    The one place a front end renders the data layer's errors in its own vocabulary:
    ``message_with_flags(str(error), {"id_column": "--item-column", "freq": "--freq"})``.
    A parameter is only replaced as a whole word (``target=`` is not part of ``targets=``) and
    not where a value follows it, as in code the message quotes (``freq='h'``).
    """
    for name, flag in flags.items():
        # not in code the message quotes, such as pd.Period(..., freq='h')
        message = re.sub(rf"(?<![\w.]){re.escape(name)}=(?![\w'\"(\[{{])", lambda _: flag, message)
    return message
