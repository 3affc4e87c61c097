"""Pretraining: the mixture, validation windows, resuming, DDP with two CPU processes."""

import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch

from lagllama_gluonts import load_predictor
from lagllama_gluonts.common.evaluation import holdout_last_window
from lagllama_gluonts.pretrain import (
    LastWindowSampler,
    PretrainConfig,
    WeightedMixture,
    corpus_entries,
    parse_weights,
    pretrain,
)
from lagllama_gluonts.synthetic import gluonts_artificial, kernel_synth, persistent_processes

from conftest import CORPUS, REPO_ROOT, SHARED

TINY = dict(
    context_length=16,
    prediction_length=8,
    n_layer=1,
    n_head=2,
    n_embd_per_head=8,
    scaling_window=16,
    batch_size=8,
    steps_per_epoch=2,
    num_synthetic=6,
    corpus_dir=CORPUS,
    corpus_files=["retail_sales.csv"],
    weights={"corpus": 0.5, "persistent": 0.3, "kernel_synth": 0.2},
    max_validation_series=4,
    progress_bar=False,
)


def test_parse_weights_normalises_and_names_bad_items():
    assert parse_weights(["m4_hourly=3", "corpus=1"]) == {"m4_hourly": 0.75, "corpus": 0.25}
    assert abs(sum(parse_weights(None).values()) - 1) < 1e-9
    with pytest.raises(ValueError, match="exchange_rate=1"):
        parse_weights(["exchange_rate=1"])
    with pytest.raises(ValueError, match="not a number"):
        parse_weights(["corpus=lots"])
    with pytest.raises(ValueError, match="positive weight"):
        parse_weights(["corpus=0"])


def test_held_out_corpus_series_cannot_be_used_for_pretraining():
    with pytest.raises(ValueError, match="BeijingPM25_0.csv"):
        corpus_entries(CORPUS, ["retail_sales.csv", "BeijingPM25_0.csv"])
    names = {entry["item_id"] for entry in corpus_entries(CORPUS)}
    assert "BeijingPM25_0" not in names and "sunspots" in names


def test_mixture_follows_weights_and_gives_each_rank_its_own_stream():
    sources = {"a": [{"item_id": f"a{i}"} for i in range(3)], "b": [{"item_id": f"b{i}"} for i in range(5)]}
    mixture = WeightedMixture(sources, {"a": 0.8, "b": 0.2}, seed=1)

    def draw(n=4000):
        it = iter(mixture)
        return [next(it)["item_id"] for _ in range(n)]

    first = draw()
    share_a = sum(name.startswith("a") for name in first) / len(first)
    assert abs(share_a - 0.8) < 0.03
    assert set(Counter(first)) == {"a0", "a1", "a2", "b0", "b1", "b2", "b3", "b4"}
    assert draw() == first  # same seed, rank and position: the same stream
    mixture.rank = 1
    assert draw() != first
    mixture.rank, mixture.position = 0, 100  # a resumed run does not replay its windows
    assert draw() != first


def test_validation_window_is_cut_off_from_training():
    entries = [{"target": np.arange(50, dtype=np.float32)}, {"target": np.arange(10, dtype=np.float32)}]
    train, validation = holdout_last_window(entries, 8, min_train_length=17, keep_short=True)
    assert len(train[0]["target"]) == 42 and len(train[1]["target"]) == 10  # too short to give up 8
    assert len(validation) == 1
    sampler = LastWindowSampler(min_future=8)
    np.testing.assert_array_equal(sampler(validation[0]["target"]), [42])  # future = the cut-off tail


def test_synthetic_generators_are_deterministic_and_finite():
    for make in (kernel_synth, persistent_processes, gluonts_artificial):
        a, b = make(8, seed=3), make(8, seed=3)
        assert len(a) == 8
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x["target"], y["target"])
            assert np.isfinite(x["target"]).all() and len(x["target"]) >= 400
        assert len({e["start"].freqstr for e in a}) > 1  # spread over frequencies
    assert not np.allclose(kernel_synth(2, seed=0)[0]["target"], kernel_synth(2, seed=1)[0]["target"])


@pytest.mark.slow
def test_pretrain_resumes_with_step_counter_and_optimizer_state(tmp_path):
    out = tmp_path / "tiny.ckpt"
    assert pretrain(PretrainConfig(out=out, max_steps=4, **TINY)) == out
    first = torch.load(tmp_path / "tiny-run" / "last.ckpt", weights_only=True)
    assert first["global_step"] == 4
    adam_first = first["optimizer_states"][0]["state"]

    pretrain(PretrainConfig(out=out, max_steps=8, resume=True, **TINY))
    resumed = torch.load(tmp_path / "tiny-run" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 8
    # AdamW's moments continued: 8 updates counted, not a fresh optimizer's 4
    assert all(float(state["step"]) == 8 for state in resumed["optimizer_states"][0]["state"].values())
    assert set(resumed["optimizer_states"][0]["state"]) == set(adam_first)

    info = json.loads(out.with_suffix(".json").read_text())
    assert info["steps"] == 8 and np.isfinite(info["final_val_loss"]) and np.isfinite(info["final_train_loss"])
    assert set(info["sources"]) == {"corpus", "persistent", "kernel_synth"}
    assert (tmp_path / "tiny-run" / "loss.png").stat().st_size > 1000

    # the export loads weights-only through the public zero-shot path
    predictor = load_predictor(out, prediction_length=5, num_parallel_samples=4)
    entry = corpus_entries(CORPUS, ["retail_sales.csv"])[0]
    forecast = next(iter(predictor.predict([entry])))
    assert forecast.samples.shape == (4, 5) and np.isfinite(forecast.samples).all()


@pytest.mark.slow
def test_last_checkpoint_is_written_after_every_epoch_not_only_at_the_end(tmp_path):
    """``pretrain --help`` promises RUN_DIR/last.ckpt every epoch: an interrupted or killed run
    can resume from its last epoch (save_top_k=0 made Lightning write it only at the end)."""
    import lightning.pytorch as pl

    run_dir = tmp_path / "tiny-run"
    seen = {}

    class AtEpochStart(pl.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            last = run_dir / "last.ckpt"
            seen[trainer.current_epoch] = torch.load(last, weights_only=True)["global_step"] if last.exists() else None

    pretrain(PretrainConfig(out=tmp_path / "tiny.ckpt", max_steps=6, callbacks=[AtEpochStart()], **TINY))
    # steps_per_epoch=2: epoch 1 starts after 2 steps, epoch 2 after 4
    assert seen == {0: None, 1: 2, 2: 4}
    assert sorted(p.name for p in run_dir.glob("*.ckpt")) == ["last.ckpt"]  # overwritten, not versioned
    assert torch.load(run_dir / "last.ckpt", weights_only=True)["global_step"] == 6


def test_pretrain_defaults_are_the_small_architecture():
    from lagllama_gluonts.defaults import SMALL_ARCHITECTURE, SMALL_CONTEXT_LENGTH

    cfg = PretrainConfig()
    assert {k: getattr(cfg, k) for k in SMALL_ARCHITECTURE} == SMALL_ARCHITECTURE
    assert cfg.context_length == cfg.scaling_window == SMALL_CONTEXT_LENGTH


def test_resume_without_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="last.ckpt"):
        pretrain(PretrainConfig(out=tmp_path / "x.ckpt", resume=True, **TINY))


@pytest.mark.slow
def test_pretrain_runs_on_two_ddp_cpu_processes(tmp_path):
    out = tmp_path / "ddp.ckpt"
    command = [
        sys.executable,
        "-m",
        "lagllama_gluonts",
        "pretrain",
        "--out",
        str(out),
        "--devices",
        "2",
        "--strategy",
        "ddp",
        "--max-steps",
        "4",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "8",
        "--n-layer",
        "1",
        "--n-head",
        "2",
        "--n-embd-per-head",
        "8",
        "--context-length",
        "16",
        "--scaling-window",
        "16",
        "--prediction-length",
        "8",
        "--synthetic",
        "6",
        "--no-progress-bar",
        "--mixture",
        "persistent=1",
        "kernel_synth=1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LAGLLAMA_GLUONTS_SHARED": str(SHARED)}
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Starting with 2 processes" in result.stdout + result.stderr
    info = json.loads(out.with_suffix(".json").read_text())
    assert info["devices"] == 2 and info["steps"] == 4
    assert np.isfinite(info["final_val_loss"])


def test_resume_and_init_from_exclude_each_other(tmp_path):
    with pytest.raises(ValueError, match="exclude each other"):
        PretrainConfig(out=tmp_path / "x.ckpt", resume=True, init_from=tmp_path / "a.ckpt").check()
    with pytest.raises(FileNotFoundError, match="--init-from"):
        PretrainConfig(out=tmp_path / "x.ckpt", init_from=tmp_path / "missing.ckpt").check()


@pytest.mark.slow
def test_init_from_continues_from_the_weights_with_a_fresh_optimizer(tmp_path):
    from lagllama_gluonts.checkpoint import CheckpointError, read_checkpoint
    from lagllama_gluonts.pretrain import build_estimator, warm_start

    first = tmp_path / "first.ckpt"
    pretrain(PretrainConfig(out=first, max_steps=4, **TINY))

    # the warm-started network is the checkpoint's, tensor for tensor
    cfg = PretrainConfig(out=tmp_path / "second.ckpt", max_steps=2, init_from=first, seed=1, **TINY)
    model = build_estimator(cfg).create_lightning_module().model
    record = warm_start(model, first)
    saved = read_checkpoint(first).state_dict
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
    assert record["checkpoint"] == "first.ckpt" and record["training"]["steps"] == 4

    second = pretrain(cfg)
    state = torch.load(tmp_path / "second-run" / "last.ckpt", weights_only=True)
    assert state["global_step"] == 2  # a new run: its own counter and optimizer
    assert all(float(s["step"]) == 2 for s in state["optimizer_states"][0]["state"].values())
    info = json.loads(second.with_suffix(".json").read_text())
    assert info["steps"] == 2 and info["total_steps"] == 6 and info["init_from"]["training"]["steps"] == 4
    after = read_checkpoint(second).state_dict
    assert any(not torch.equal(after[k], v) for k, v in saved.items())  # and it trained

    # resumed, the run still records its parent
    pretrain(PretrainConfig(out=second, max_steps=4, resume=True, seed=1, **TINY))
    info = json.loads(second.with_suffix(".json").read_text())
    assert info["steps"] == 4 and info["total_steps"] == 8 and info["init_from"]["checkpoint"] == "first.ckpt"

    # another architecture is named, not loaded loosely
    wider = PretrainConfig(out=tmp_path / "w.ckpt", init_from=first, **{**TINY, "n_embd_per_head": 4})
    with pytest.raises(CheckpointError, match="does not match"):
        warm_start(build_estimator(wider).create_lightning_module().model, first)


def test_an_interrupted_or_terminated_run_saves_its_full_state(tmp_path):
    """Ctrl-C and SIGTERM (a scheduler's stop) write RUN_DIR/last.ckpt; other errors do not."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from lagllama_gluonts.pretrain import _mixture_callbacks

    save_on_interrupt = _mixture_callbacks(WeightedMixture({"a": [{}]}, {"a": 1.0}), tmp_path)[-1]

    class Trainer:
        global_step, saved = 7, []

        def save_checkpoint(self, path, weights_only):
            self.saved.append((path, weights_only))

    trainer = Trainer()
    for exception in (KeyboardInterrupt(), SIGTERMException(), ValueError("a bug")):
        save_on_interrupt.on_exception(trainer, None, exception)
    assert trainer.saved == [(tmp_path / "last.ckpt", False)] * 2


def test_ts_mixup_makes_convex_combinations_of_series_of_one_frequency():
    import pandas as pd

    from lagllama_gluonts.synthetic import ts_mixup

    t = np.arange(120)
    shapes = [2 + np.sin(2 * np.pi * t / 12 + k) + 0.01 * k * t for k in range(3)]
    # three monthly series of one level (mean |x| = 50), so that every mix's level is 50 too
    monthly = [{"start": pd.Period("1990-01", freq="M"), "target": 50 * x / np.mean(np.abs(x))} for x in shapes]
    quarterly = [{"start": pd.Period("1980Q1", freq="Q"), "target": np.full(40, 5.0)}]
    short = [{"start": pd.Period("1990-01", freq="M"), "target": np.ones(10)}]  # below min_length: never used
    zero = [{"start": pd.Period("1990-01", freq="M"), "target": np.zeros(50)}]  # no level to divide by
    entries = monthly + quarterly + short + zero
    mixed = ts_mixup(entries, 200, seed=0)
    assert len(mixed) == 200
    again = ts_mixup(entries, 200, seed=0)
    assert all(np.array_equal(a["target"], b["target"]) for a, b in zip(mixed, again))  # deterministic
    freqs = Counter(e["start"].freqstr for e in mixed)
    assert set(freqs) == {"M", "Q-DEC"} and freqs["M"] > freqs["Q-DEC"]  # drawn by how many series a frequency has

    inputs = np.stack([m["target"] for m in monthly])
    lo, hi = inputs.min(0) - 1e-3, inputs.max(0) + 1e-3
    blends = 0
    for entry in mixed:
        assert np.isfinite(entry["target"]).all()
        if entry["start"].freqstr == "Q-DEC":
            assert len(entry["target"]) == 40
            np.testing.assert_allclose(entry["target"], 5.0, rtol=1e-6)  # the only series: itself
            continue
        assert len(entry["target"]) == 120 and entry["start"] == pd.Period("1990-01", freq="M")
        assert np.all((lo <= entry["target"]) & (entry["target"] <= hi))  # pointwise within the inputs
        blends += not any(np.allclose(entry["target"], x, atol=1e-3) for x in inputs)
    assert blends > 50  # most are mixes of two or three, not copies
    assert ts_mixup(short + zero, 5, seed=0) == []


def test_packages_mixup_is_a_pretraining_source_outside_the_default_mixture():
    from lagllama_gluonts.pretrain import DEFAULT_WEIGHTS, SOURCES

    assert "packages_mixup" in SOURCES and "packages_mixup" not in DEFAULT_WEIGHTS
    assert parse_weights(["packages=1", "packages_mixup=1"]) == {"packages": 0.5, "packages_mixup": 0.5}


def test_continued_runs_chain_into_one_loss_curve(tmp_path):
    import pandas as pd

    from lagllama_gluonts.pretrain import chained_history, plot_loss_curve

    for run, rows in (
        ("first", [(99, 3.0, None), (99, None, 2.5), (199, 2.8, None), (199, None, 2.4)]),
        ("second", [(99, 2.7, None), (99, None, 2.3)]),
    ):
        logs = tmp_path / run / "logs" / "version_0"
        logs.mkdir(parents=True)
        pd.DataFrame(rows, columns=["step", "train_loss", "val_loss"]).assign(epoch=0).to_csv(logs / "metrics.csv")
    history, boundaries = chained_history([tmp_path / "first", tmp_path / "second"])
    assert history["val_loss"] == [(99, 2.5), (199, 2.4), (299, 2.3)]  # the second run starts after step 199
    assert [s for s, _ in history["train_loss"]] == [99, 199, 299] and boundaries == [200]
    assert plot_loss_curve(history, tmp_path / "loss.png", boundaries=[200]).stat().st_size > 1000
    with pytest.raises(FileNotFoundError, match="no loss history"):
        chained_history([tmp_path / "first", tmp_path / "missing"])
