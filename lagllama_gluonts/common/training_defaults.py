"""What every model's defaults are made of: the shape of a model's training settings, the device
every entry point uses unless told, and the names a ``distr_output=`` string may take.

Each model fills these in its own ``defaults.py`` (``lagllama_gluonts.defaults``,
``informer_gluonts.defaults``), the one place its estimator, commands and benchmarks read.
Kept free of torch imports: the command lines build their ``--help`` from the defaults.
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional


@dataclass(frozen=True)
class TrainingDefaults:
    """One model's training settings for one kind of run (from scratch, fine-tuning, pretraining).

    ``optimizer`` and ``lr_schedule`` describe what the Lightning module does (they are read by
    documentation and reports, not switches); the rest are the arguments of the same names.
    """

    lr: float
    weight_decay: float
    batch_size: int
    num_batches_per_epoch: int
    max_epochs: int
    gradient_clip_val: Optional[float]
    precision: str
    early_stopping_patience: Optional[int]
    optimizer: str
    lr_schedule: str
    max_steps: Optional[int] = None

    def trainer_kwargs(self) -> Dict[str, Any]:
        """The ``lightning.pytorch.Trainer`` settings these defaults fix (the user's override them)."""
        settings: Dict[str, Any] = {
            "max_epochs": self.max_epochs,
            "gradient_clip_val": self.gradient_clip_val,
            "precision": self.precision,
        }
        if self.max_steps is not None:
            settings["max_steps"] = self.max_steps
        return settings


# The horizon when none is given (``load_predictor()``, Informer's ``forecast --csv``): a day of
# hourly data, what GluonTS's ett_small_1h and the Lag-Llama reference's demos forecast.
PREDICTION_LENGTH = 24

# The device every API entry point uses unless told: CUDA when available, else the CPU.
DEVICE = "auto"

# Names a ``distr_output=`` string may take, in both models, and the distribution each means: the
# reference's spellings (``studentT``, ``neg_bin``) and the command lines' (``student-t``). Each
# model accepts the ones it can train: Lag-Llama ``student-t``, ``negative-binomial`` and ``iqn``
# (one variable at a time), Informer ``student-t`` and ``low-rank-normal`` (variables jointly).
DISTRIBUTION_NAMES = {
    "studentT": "student-t",
    "student-t": "student-t",
    "neg_bin": "negative-binomial",
    "negative-binomial": "negative-binomial",
    "iqn": "iqn",
    "low-rank-normal": "low-rank-normal",
}
