"""Deprecated: the old home of the repository datasets, kept so that code importing it still
runs. Import :mod:`lagllama_gluonts.common.datasets` instead."""

import warnings

from .common.datasets import *  # noqa: F401,F403
from .common.datasets import MirrorFileMissing, get_dataset  # noqa: F401

warnings.warn(
    "lagllama_gluonts.datasets is deprecated; import lagllama_gluonts.common.datasets instead",
    DeprecationWarning,
    stacklevel=2,
)
