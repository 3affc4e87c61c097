"""Offline GluonTS repository datasets: kept at this path for code written against it; the
implementation is :mod:`lagllama_gluonts.common.datasets`."""

from .common.datasets import *  # noqa: F401,F403
from .common.datasets import MIRRORED_DATASETS, MirrorFileMissing, get_dataset  # noqa: F401
