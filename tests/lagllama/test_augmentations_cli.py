"""Frequency augmentations, the LightningModule's training step, and the Lag-Llama CLI."""

import json
import subprocess
import sys

import numpy as np
import torch

from lagllama_gluonts.augmentations import freq_mask, freq_mix
from lagllama_gluonts.cli import BUNDLED_CHECKPOINT, main
from lagllama_gluonts.common.tables import read_series_csv

from conftest import CORPUS, LAG_LLAMA_FIXTURES, REPO_ROOT


def windows(batch=8, past=40, future=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(past + future, dtype=torch.float32)
    x = torch.sin(t / 2)[None] * torch.rand(batch, 1, generator=g) * 5 + torch.randn(batch, past + future, generator=g)
    return x[:, :past], x[:, past:]


def test_freq_mask_keeps_lengths_and_rate_zero_is_identity():
    past, future = windows()
    p, f = freq_mask(past, future, rate=0.0)
    torch.testing.assert_close(p, past, atol=1e-5, rtol=0)
    torch.testing.assert_close(f, future, atol=1e-5, rtol=0)
    p, f = freq_mask(past, future, rate=0.5, generator=torch.Generator().manual_seed(1))
    assert p.shape == past.shape and f.shape == future.shape
    assert (p - past).abs().max() > 1e-2


def test_freq_mix_of_identical_windows_changes_nothing_and_keeps_dominant():
    past, future = windows(batch=1)
    same_p, same_f = past.repeat(4, 1), future.repeat(4, 1)
    p, f = freq_mix(same_p, same_f, rate=0.9, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(p, same_p, atol=1e-4, rtol=0)
    torch.testing.assert_close(f, same_f, atol=1e-4, rtol=0)

    past, future = windows(batch=6)
    p, f = freq_mix(past, future, rate=1.0, keep_dominant=3, generator=torch.Generator().manual_seed(3))
    before = torch.fft.rfft(torch.cat((past, future), 1), dim=1)
    after = torch.fft.rfft(torch.cat((p, f), 1), dim=1)
    top = before.abs().argsort(dim=1, descending=True)[:, :3]
    torch.testing.assert_close(after.gather(1, top), before.gather(1, top), atol=1e-3, rtol=1e-4)
    assert (after - before).abs().max() > 1e-2  # the rest did get mixed


def test_training_step_augments_and_returns_finite_loss():
    from lagllama_gluonts import LagLlamaEstimator

    estimator = LagLlamaEstimator.from_checkpoint(LAG_LLAMA_FIXTURES / "small.ckpt", prediction_length=24, aug_prob=1.0)
    module = estimator.create_lightning_module()
    e = torch.load(LAG_LLAMA_FIXTURES / "small.expected.pt", weights_only=True)
    batch = {k[len("train_") :]: v for k, v in e.items() if k.startswith("train_") and torch.is_tensor(v)}
    augmented = module.augment(dict(batch))
    assert not torch.equal(augmented["past_target"], batch["past_target"])
    loss = module.training_step(batch, 0)
    assert torch.isfinite(loss) and loss.requires_grad


def test_corpus_series_frequency_inferred():
    entry = read_series_csv(CORPUS / "retail_sales.csv")
    assert entry["start"].freqstr == "M"
    assert len(entry["target"]) == 293 and entry["target"][0] == 146376
    entry = read_series_csv(CORPUS / "elecdemand_dataset.csv")
    assert entry["start"].freqstr == "30min" and len(entry["target"]) == 17520


def test_cli_help_explains_itself():
    out = subprocess.run(
        [sys.executable, "-m", "lagllama_gluonts", "backtest", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=True,
    ).stdout
    for word in ("zero-shot", "--checkpoint", "--train", "--dataset", "--rescale-every-step"):
        assert word in out


def test_cli_backtest_zero_shot_writes_metrics_and_plot(tmp_path, capsys):
    code = main(
        [
            "backtest",
            "--dataset",
            "airpassengers",
            "--checkpoint",
            str(LAG_LLAMA_FIXTURES / "small.ckpt"),
            "--num-samples",
            "20",
            "--out",
            str(tmp_path),
            "--baseline",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "mean_wQuantileLoss" in printed and "SeasonalNaive" in printed
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert np.isfinite(record["metrics"]["Lag-Llama"]["mean_wQuantileLoss"])
    assert np.isfinite(record["metrics"]["SeasonalNaive"]["mean_wQuantileLoss"])
    png = tmp_path / "forecasts.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_checkpoint_is_one_clear_line(tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_text("garbage")
    assert main(["backtest", "--dataset", "airpassengers", "--checkpoint", str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lagllama-gluonts: error:") and "not a PyTorch zip checkpoint" in err


def test_bundled_checkpoint_is_plain_data_and_forecasts():
    from lagllama_gluonts import load_predictor
    from lagllama_gluonts.common.datasets import get_dataset

    raw = torch.load(BUNDLED_CHECKPOINT, weights_only=True)  # no allow-list needed for ours
    assert "training" in raw["hyper_parameters"]
    assert BUNDLED_CHECKPOINT.stat().st_size < 8 * 2**20
    predictor = load_predictor(BUNDLED_CHECKPOINT, prediction_length=12, num_parallel_samples=20)
    forecasts = list(predictor.predict(get_dataset("airpassengers").test))
    assert np.isfinite(forecasts[0].samples).all()


def test_from_scratch_sizes_default_to_the_small_architecture():
    from lagllama_gluonts.cli import build_parser
    from lagllama_gluonts.defaults import SMALL_ARCHITECTURE, SMALL_CONTEXT_LENGTH

    parser = build_parser()
    for argv in (["backtest", "--train", "--from-scratch"], ["pretrain"]):
        args = vars(parser.parse_args(argv))
        assert {k: args[k] for k in SMALL_ARCHITECTURE} == SMALL_ARCHITECTURE, argv
    assert parser.parse_args(["pretrain"]).context_length == SMALL_CONTEXT_LENGTH
    assert parser.parse_args(["pretrain"]).scaling_window == SMALL_CONTEXT_LENGTH


def test_usage_errors_are_one_line_too(capsys):
    assert main(["zero-shot", "--num-samples", "many"]) == 2
    err = capsys.readouterr().err
    assert err == "lagllama-gluonts: error: zero-shot: argument --num-samples: not an integer: 'many'\n"
    assert main(["no-such-command"]) == 2
    assert capsys.readouterr().err.startswith("lagllama-gluonts: error: argument COMMAND: invalid choice")
    assert main(["info", "--help"]) == 0 and "checkpoint" in capsys.readouterr().out
