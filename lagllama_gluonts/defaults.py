"""Constants the command line needs to build its ``--help``: kept free of torch imports."""

from pathlib import Path

# The checkpoint shipped with the package (see the README); ``None`` in place of a path means it.
BUNDLED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "lag-llama-medium.ckpt"

# Fine-tuning defaults, chosen on the held-out datasets: `benchmarks/zero_shot.py --finetune-study`
# writes the measurement to benchmarks/results/finetune_settings.md.
FINETUNE_LR = 1e-5
FINETUNE_MAX_EPOCHS = 10
FINETUNE_PATIENCE = 3
FINETUNE_BATCHES_PER_EPOCH = 25
FINETUNE_FREEZE_LAYERS = 0

# The small architecture of the bundled checkpoint, also what the `backtest --from-scratch` and
# `pretrain` commands and the benchmarks train when no size is given. (`LagLlamaEstimator`'s
# own defaults stay the reference's, 1 layer x 4 heads x 32, so reference code runs unchanged.)
SMALL_ARCHITECTURE = {"n_layer": 4, "n_head": 4, "n_embd_per_head": 16}
SMALL_CONTEXT_LENGTH = 64
