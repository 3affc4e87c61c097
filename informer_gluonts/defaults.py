"""Informer's defaults, in one place: ``InformerEstimator``, its Lightning module, the command line
and the benchmarks read them from here. Kept free of torch imports (the command line's ``--help``)."""

from lagllama_gluonts.common.training_defaults import DEVICE, DISTRIBUTION_NAMES, PREDICTION_LENGTH, TrainingDefaults  # noqa: F401

# Informer clips gradient norms at 10.0, GluonTS's torch estimators' value, with which its
# benchmarks were measured; Lag-Llama keeps 1.0 (lagllama_gluonts/defaults.py), its own measured one.
GRADIENT_CLIP_VAL = 10.0
PRECISION = "32-true"
# Adam at 1e-3 (the official Informer's 1e-4 was tuned for its 512-wide model; the smaller default
# width here trains at GluonTS's 1e-3, as Lag-Llama from scratch does).
LR = 1e-3
WEIGHT_DECAY = 1e-8
BATCH_SIZE = 32
NUM_BATCHES_PER_EPOCH = 50
# GluonTS's estimators train for 100 epochs by default; the commands' ``--epochs`` is a quick budget.
MAX_EPOCHS = 100
CLI_MAX_EPOCHS = 10
# Epochs without improvement before ``ReduceLROnPlateau`` halves the learning rate (``lr_patience``,
# once ``patience``); early stopping (``early_stopping_patience``) is off unless asked for.
LR_PATIENCE = 10
LR_FACTOR = 0.5

TRAINING = TrainingDefaults(
    lr=LR,
    weight_decay=WEIGHT_DECAY,
    batch_size=BATCH_SIZE,
    num_batches_per_epoch=NUM_BATCHES_PER_EPOCH,
    max_epochs=MAX_EPOCHS,
    gradient_clip_val=GRADIENT_CLIP_VAL,
    precision=PRECISION,
    early_stopping_patience=None,
    optimizer="Adam",
    lr_schedule=f"ReduceLROnPlateau: x{LR_FACTOR} after {LR_PATIENCE} epochs without a lower loss",
)

# Of the shared ``distr_output`` names, the ones Informer trains.
INFORMER_DISTRIBUTIONS = ("student-t", "low-rank-normal")
