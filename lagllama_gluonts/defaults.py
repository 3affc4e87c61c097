"""Lag-Llama's defaults, in one place: the estimator, ``from_checkpoint``, ``finetune``, ``pretrain``,
``load_predictor``, the command line and the benchmarks read them from here.

Kept free of torch imports: the command line builds its ``--help`` from these.
"""

import json
from pathlib import Path
from typing import Dict

from .common.training_defaults import DEVICE, DISTRIBUTION_NAMES, PREDICTION_LENGTH, TrainingDefaults  # noqa: F401 (re-exported)

# The checkpoint shipped with the package (see the README); ``None`` in place of a path means it.
BUNDLED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "lag-llama-medium.ckpt"


# Lag-Llama clips gradient norms at 1.0 and Informer at 10.0 (informer_gluonts/defaults.py) because
# each keeps the value its published numbers were measured with: `pretrain` trained the bundled
# checkpoint and the fine-tuning study ran at 1.0, Informer's benchmarks at GluonTS's 10.0. One value
# per model for every entry point: the Python API trains as the command line does.
GRADIENT_CLIP_VAL = 1.0
PRECISION = "32-true"
# AdamW at 1e-3 from scratch, the reference's rate (Informer: Adam at 1e-3, its reference's).
LR = 1e-3
WEIGHT_DECAY = 1e-8
BATCH_SIZE = 32
NUM_BATCHES_PER_EPOCH = 50
# GluonTS's estimators train for 100 epochs by default; the commands' ``--epochs`` is a quick
# budget for a backtest on one machine.
MAX_EPOCHS = 100
CLI_MAX_EPOCHS = 10

# Fine-tuning defaults (any run that starts from a checkpoint: ``finetune``, ``from_checkpoint``,
# ``backtest --train --checkpoint``), chosen on the held-out datasets: `benchmarks/zero_shot.py
# --finetune-study` writes the measurement to benchmarks/results/finetune_settings.md. A smaller
# rate and shorter epochs than from scratch, because larger steps undo the pretraining.
FINETUNE_LR = 1e-5
FINETUNE_MAX_EPOCHS = 10
FINETUNE_PATIENCE = 3
FINETUNE_BATCHES_PER_EPOCH = 25
FINETUNE_FREEZE_LAYERS = 0
# The covariate projection's own rate when fine-tuning with covariates: it starts at zero, so no
# pretraining can be undone, and at FINETUNE_LR its weights barely move (1.6e-4 vs the input's 0.058).
FINETUNE_COVARIATE_LR = 1e-3
# Fine-tuning's keep-if-better (``finetune``'s module docstring has the rule): validated on up to
# this many of the last horizons of each training series, cut off from training; a series gives
# up a window beyond its first only while its windows take at most this share of its length.
FINETUNE_VALIDATION_WINDOWS = 3
FINETUNE_VALIDATION_SHARE = 0.5
# the fine-tuned weights are kept only if their validation quantile loss is lower than the
# zero-shot's by more than this fraction of it, significantly at this level (a one-sided paired
# t-test over the windows), and their NLL is no higher
FINETUNE_KEEP_MARGIN = 0.02
FINETUNE_KEEP_LEVEL = 0.95
# the sample paths per validation window the quantile loss is scored with, and their seed
FINETUNE_SELECTION_SAMPLES = 100
FINETUNE_SELECTION_SEED = 0

# Pretraining (``pretrain``): larger batches, a step budget instead of epochs, cosine per epoch.
PRETRAIN_LR = 1e-3
PRETRAIN_BATCH_SIZE = 64
PRETRAIN_STEPS_PER_EPOCH = 100
PRETRAIN_MAX_STEPS = 4000
# the share of each frequency's series of m4_hourly and the package series that pretraining sets
# aside whole, to compare runs on (lagllama_gluonts/selection.py)
PRETRAIN_SELECTION_FRACTION = 0.05

TRAINING = TrainingDefaults(
    lr=LR,
    weight_decay=WEIGHT_DECAY,
    batch_size=BATCH_SIZE,
    num_batches_per_epoch=NUM_BATCHES_PER_EPOCH,
    max_epochs=MAX_EPOCHS,
    gradient_clip_val=GRADIENT_CLIP_VAL,
    precision=PRECISION,
    early_stopping_patience=None,  # only with validation data and when asked
    optimizer="AdamW",
    lr_schedule="cosine over the whole run, stepped every batch, down to lr / 100",
)
FINE_TUNING = TrainingDefaults(
    lr=FINETUNE_LR,
    weight_decay=WEIGHT_DECAY,
    batch_size=BATCH_SIZE,
    num_batches_per_epoch=FINETUNE_BATCHES_PER_EPOCH,
    max_epochs=FINETUNE_MAX_EPOCHS,
    gradient_clip_val=GRADIENT_CLIP_VAL,
    precision=PRECISION,
    early_stopping_patience=FINETUNE_PATIENCE,  # `finetune`'s, on its held-out last window
    optimizer="AdamW",
    lr_schedule="constant",
)
PRETRAINING = TrainingDefaults(
    lr=PRETRAIN_LR,
    weight_decay=WEIGHT_DECAY,
    batch_size=PRETRAIN_BATCH_SIZE,
    num_batches_per_epoch=PRETRAIN_STEPS_PER_EPOCH,
    max_epochs=-1,
    max_steps=PRETRAIN_MAX_STEPS,
    gradient_clip_val=GRADIENT_CLIP_VAL,
    precision=PRECISION,
    early_stopping_patience=None,
    optimizer="AdamW",
    lr_schedule="cosine per epoch over the step budget, down to lr / 10",
)

# The small architecture: what the `backtest --from-scratch` and `pretrain` commands and the
# benchmarks train when no size is given (the bundled checkpoint is larger: bundled_architecture()).
# (`LagLlamaEstimator`'s own defaults stay the reference's, 1 layer x 4 heads x 32, so reference
# code runs unchanged.)
SMALL_ARCHITECTURE = {"n_layer": 4, "n_head": 4, "n_embd_per_head": 16}
SMALL_CONTEXT_LENGTH = 64


def bundled_architecture() -> Dict[str, int]:
    """The bundled checkpoint's size (``n_layer``, ``n_head``, ``n_embd_per_head``), read from the
    JSON record beside it without torch (``--help`` quotes it); {} when that record is missing."""
    try:
        return dict(json.loads(BUNDLED_CHECKPOINT.with_suffix(".json").read_text())["architecture"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}
