"""Constants the command line needs to build its ``--help``: kept free of torch imports."""

from pathlib import Path

# The checkpoint shipped with the package (see the README); ``None`` in place of a path means it.
BUNDLED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "lag-llama-small.ckpt"

# Fine-tuning defaults, chosen on the held-out datasets: `benchmarks/zero_shot.py --finetune-study`
# writes the measurement to benchmarks/results/finetune_settings.md.
FINETUNE_LR = 1e-5
FINETUNE_MAX_EPOCHS = 10
FINETUNE_PATIENCE = 3
FINETUNE_BATCHES_PER_EPOCH = 25
FINETUNE_FREEZE_LAYERS = 0
