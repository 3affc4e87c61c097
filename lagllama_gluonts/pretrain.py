"""Pretraining a Lag-Llama on many series at once, the way the bundled checkpoint was made.

Only data the shared README allows for pretraining is used by default: the train part of
``m4_hourly`` and every corpus series but ``BeijingPM25_0.csv`` (held out for zero-shot
evaluation, like ``exchange_rate``, ``ett_small_1h``, ``m4_weekly`` and ``airpassengers``).
"""

import json
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from .checkpoint import save_checkpoint
from .corpus import read_corpus
from .datasets import DEFAULT_MIRROR, get_dataset
from .estimator import LagLlamaEstimator

HELD_OUT_CORPUS = ("BeijingPM25_0.csv",)
PRETRAINING_REPOSITORY_DATASETS = ("m4_hourly",)


def default_corpus_dir() -> Path:
    return DEFAULT_MIRROR.parent / "corpus"


def pretraining_entries(
    repository_datasets: Sequence[str] = PRETRAINING_REPOSITORY_DATASETS,
    corpus_dir: Optional[Path] = None,
    exclude: Sequence[str] = HELD_OUT_CORPUS,
) -> List[Dict]:
    """Training series of the allowed repository datasets plus the allowed corpus files."""
    entries: List[Dict] = []
    for name in repository_datasets:
        for entry in get_dataset(name).train:
            entries.append({"start": entry["start"], "target": entry["target"], "item_id": f"{name}/{entry.get('item_id')}"})
    corpus_dir = Path(corpus_dir or default_corpus_dir())
    files = sorted(p for p in corpus_dir.glob("*.csv") if p.name not in exclude)
    entries.extend(read_corpus(files))
    return entries


SYNTHETIC_FREQUENCIES = ("B", "D", "W", "h", "M", "30min")


def synthetic_entries(num_series: int = 200, seed: int = 0, min_length: int = 1500, max_length: int = 4000) -> List[Dict]:
    """Synthetic series of the kinds the real pretraining data lacks: random walks (with and
    without drift), persistent AR(1) processes, and seasonal series with trends and noise.

    Real pretraining data here is mostly mean-reverting (load, solar, prices); without
    persistence in the mixture a model learns to pull every forecast towards the window's
    median, which is wrong for random-walk-like series such as exchange rates.
    """
    rng = np.random.default_rng(seed)
    entries = []
    for i in range(num_series):
        n = int(rng.integers(min_length, max_length))
        t = np.arange(n)
        kind = i % 4
        if kind == 0:  # random walk, small drift, varying volatility
            x = np.cumsum(rng.normal(rng.normal(0, 0.02), rng.uniform(0.2, 2.0), n))
        elif kind == 1:  # persistent AR(1)
            phi, x = rng.uniform(0.8, 0.999), np.zeros(n)
            noise = rng.normal(0, 1, n)
            for k in range(1, n):
                x[k] = phi * x[k - 1] + noise[k]
        elif kind == 2:  # seasonal + trend + noise
            period = rng.choice([7, 12, 24, 48, 52, 168])
            x = (rng.uniform(1, 5) * np.sin(2 * np.pi * t / period + rng.uniform(0, 6))
                 + rng.normal(0, 0.01) * t + rng.normal(0, rng.uniform(0.1, 1.0), n))
        else:  # random walk with seasonality
            period = rng.choice([5, 7, 12, 24])
            x = np.cumsum(rng.normal(0, 0.5, n)) + rng.uniform(0.5, 3) * np.sin(2 * np.pi * t / period)
        level = rng.choice([0.0, 1.0, 10.0, 100.0, 1000.0])
        x = level + x * max(level, 1.0) * rng.uniform(0.001, 0.05) if level else x
        freq = SYNTHETIC_FREQUENCIES[i % len(SYNTHETIC_FREQUENCIES)]
        entries.append({
            "start": pd.Period("2000-01-03", freq=freq),
            "target": x.astype(np.float32),
            "item_id": f"synthetic/{i}",
        })
    return entries


def pretrain(
    out: Path,
    context_length: int = 64,
    prediction_length: int = 16,
    n_layer: int = 4,
    n_head: int = 4,
    n_embd_per_head: int = 16,
    batch_size: int = 64,
    num_batches_per_epoch: int = 100,
    max_epochs: int = 20,
    lr: float = 1e-3,
    seed: int = 0,
    repository_datasets: Sequence[str] = PRETRAINING_REPOSITORY_DATASETS,
    corpus_dir: Optional[Path] = None,
    max_time_minutes: Optional[float] = None,
    num_synthetic: int = 200,
) -> Path:
    """Train from scratch on the pretraining mixture and write a checkpoint of plain data."""
    import lightning.pytorch as pl

    pl.seed_everything(seed, workers=True)
    entries = pretraining_entries(repository_datasets, corpus_dir) + synthetic_entries(num_synthetic, seed)
    trainer_kwargs = {"max_epochs": max_epochs, "gradient_clip_val": 1.0}
    if max_time_minutes:
        trainer_kwargs["max_time"] = {"minutes": max_time_minutes}
    estimator = LagLlamaEstimator(
        prediction_length=prediction_length,
        context_length=context_length,
        n_layer=n_layer,
        n_head=n_head,
        n_embd_per_head=n_embd_per_head,
        scaling="robust",
        time_feat=True,
        batch_size=batch_size,
        num_batches_per_epoch=num_batches_per_epoch,
        lr=lr,
        aug_prob=0.5,
        use_cosine_annealing_lr=True,
        cosine_annealing_lr_args={"T_max": max_epochs, "eta_min": lr / 10},
        trainer_kwargs=trainer_kwargs,
    )
    started = time.time()
    output = estimator.train_model(entries, cache_data=True)
    minutes = (time.time() - started) / 60
    metrics = {k: float(v) for k, v in output.trainer.callback_metrics.items()}
    info = {
        "trained_on": list(repository_datasets)
        + sorted({e["item_id"] for e in entries if "/" not in str(e["item_id"])})
        + [f"{num_synthetic} synthetic series"],
        "num_series": len(entries),
        "epochs": output.trainer.current_epoch,
        "steps": output.trainer.global_step,
        "batch_size": batch_size,
        "train_minutes": round(minutes, 1),
        "final_metrics": metrics,
        "torch_threads": torch.get_num_threads(),
    }
    path = save_checkpoint(Path(out), output.trained_net.model, estimator.model_kwargs(), extra={"training": info})
    Path(out).with_suffix(".json").write_text(json.dumps(info, indent=2))
    return path
