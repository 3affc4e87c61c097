"""Pretraining throughput: optimizer steps per second of Lag-Llama sizes, float32 vs bf16 autocast.

Training throughput is the compute budget of pretraining, so the bundled checkpoint's size,
batch size and precision are chosen on this table. Every row trains on the same stream of
windows (the pretraining pipeline itself: transformation, instance splitter, batching, the
augmentations and gradient clipping), after a warm-up, in one process, side by side.

    python benchmarks/pretrain_speed.py                # the committed table
    python benchmarks/pretrain_speed.py --steps 10     # a quick look
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import bench_common as bc

SIZES = {  # name: (n_layer, n_head, n_embd_per_head)
    "small 4x4x16 (previous bundle)": (4, 4, 16),
    "medium 6x6x16": (6, 6, 16),
    "large 8x8x16": (8, 8, 16),
    "released 8x9x16": (8, 9, 16),
}


def steps_per_second(size, batch_size: int, precision: str, steps: int, warmup: int, threads: int) -> float:
    import lightning.pytorch as pl
    import torch
    from gluonts.dataset.loader import as_stacked_batches

    from lagllama_gluonts.defaults import PRETRAINING
    from lagllama_gluonts.estimator import TRAINING_INPUT_NAMES
    from lagllama_gluonts.pretrain import PretrainConfig, _transform_once, build_estimator
    from lagllama_gluonts.synthetic import persistent_processes

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    n_layer, n_head, n_embd_per_head = size
    cfg = PretrainConfig(n_layer=n_layer, n_head=n_head, n_embd_per_head=n_embd_per_head, batch_size=batch_size)
    estimator = build_estimator(cfg)
    module = estimator.create_lightning_module()
    series = _transform_once(estimator, persistent_processes(64, seed=0))
    splitter = estimator._create_instance_splitter(module, "training")

    def loader(n):
        import itertools

        return as_stacked_batches(
            splitter.apply(itertools.cycle(series), is_train=True),
            batch_size=batch_size,
            output_type=torch.tensor,
            field_names=estimator._field_names(TRAINING_INPUT_NAMES),
            num_batches_per_epoch=n,
        )

    def fit(n):
        trainer = pl.Trainer(
            accelerator="cpu",
            max_steps=n,
            max_epochs=-1,
            precision=precision,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            gradient_clip_val=PRETRAINING.gradient_clip_val,
        )
        trainer.fit(module, train_dataloaders=loader(n))

    try:
        fit(warmup)
        started = time.perf_counter()
        fit(steps)
        return steps / (time.perf_counter() - started)
    finally:
        torch.set_num_threads(previous_threads)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1], help="torch CPU thread counts, a row each (default: 1)"
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--precisions", nargs="+", default=["32-true", "bf16-mixed"])
    parser.add_argument("--out", type=Path, default=bc.RESULTS / "pretrain_speed.md")
    args = parser.parse_args(argv)

    rows = []
    for name in args.sizes:
        for batch_size in args.batch_sizes:
            for threads in args.threads:
                rates = {
                    p: steps_per_second(SIZES[name], batch_size, p, args.steps, args.warmup, threads)
                    for p in args.precisions
                }
                base = rates[args.precisions[0]]
                cells = [name, batch_size, threads] + [f"{rates[p]:.2f}" for p in args.precisions]
                cells += [f"{rates[p] / base:.2f}x" for p in args.precisions[1:]]
                cells.append(f"{base * batch_size:.0f}")
                rows.append(cells)
                print(*cells, flush=True)
    header = ["size", "batch", "threads"] + [f"steps/s {p}" for p in args.precisions]
    header += [f"{p} / {args.precisions[0]}" for p in args.precisions[1:]] + [f"windows/s {args.precisions[0]}"]
    lines = [
        "# Lag-Llama pretraining throughput",
        "",
        f"Command: `{bc.command('benchmarks/pretrain_speed.py', argv)}`",
        f"Machine: {bc.machine(('torch', 'lightning', 'gluonts'))}; torch threads per row.",
        f"Run: {bc.utc_stamp()}. {args.steps} optimizer steps timed after {args.warmup} warm-up steps, the",
        "pretraining pipeline end to end (context 64 + the reference's lags of every frequency, horizon 16).",
        "",
        *bc.markdown_table(header, rows),
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
