"""The predictor both models' estimators build: GluonTS's ``PyTorchPredictor`` that refuses
sizes it would misread, at the ``predict`` call, before any data is read.

GluonTS's sample generator tests ``if num_samples:``, so ``num_samples=0`` silently means "the
model's default" and a negative count trips an ``assert`` after the network has run; a
``batch_size`` of 0 (set on the predictor, as the command lines do) makes its batcher yield
nothing, so ``predict`` returns no forecast and no error. Both are a ``ValueError`` here.
"""

from __future__ import annotations

from typing import Iterator, Optional

import numpy as np
from gluonts.dataset.common import Dataset
from gluonts.model.forecast import Forecast
from gluonts.torch.model.predictor import PyTorchPredictor


def check_count(name: str, value, none_ok: bool = True) -> None:
    """``value`` is an integer >= 1 (or None when ``none_ok``), else a ValueError naming ``name``."""
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        allowed = "a positive integer" + (" or None (the model's default)" if none_ok else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


class CheckedPredictor(PyTorchPredictor):
    """``PyTorchPredictor`` whose ``predict`` checks ``num_samples`` and ``batch_size`` first."""

    def predict(self, dataset: Dataset, num_samples: Optional[int] = None) -> Iterator[Forecast]:  # type: ignore
        # a plain function returning the generator: the checks run at the call, not at the first next()
        check_count("num_samples", num_samples)
        check_count("batch_size", self.batch_size, none_ok=False)
        return super().predict(dataset, num_samples=num_samples)
