"""The bundled checkpoint through load_predictor(None, ...), the zero-shot and finetune commands
(dataset and CSV), rope-scaling options, and fine-tuning's validation split and frozen layers."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest
import torch

from lagllama_gluonts.cli import main, rope_scaling_arg
from lagllama_gluonts.defaults import BUNDLED_CHECKPOINT

from conftest import LAG_LLAMA_FIXTURES, PNG_MAGIC, SHARED

RETAIL = SHARED / "datasets" / "corpus" / "retail_sales.csv"


def test_load_predictor_none_is_the_bundled_checkpoint_weights_only():
    from lagllama_gluonts import load_predictor
    from lagllama_gluonts.common.datasets import get_dataset

    raw = torch.load(BUNDLED_CHECKPOINT, weights_only=True)
    predictor = load_predictor(None, prediction_length=12, num_parallel_samples=10)
    loaded = predictor.prediction_net.state_dict()
    for key, value in raw["state_dict"].items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)
    forecast = next(iter(predictor.predict(get_dataset("airpassengers").test)))
    assert forecast.samples.shape == (10, 12)
    assert np.isfinite(forecast.samples).all()


def test_rope_scaling_option_and_its_resolution():
    from lagllama_gluonts.predictor import resolve_rope_scaling

    assert rope_scaling_arg("auto") is None
    assert rope_scaling_arg("none") == {"type": "linear", "factor": 1.0}
    assert rope_scaling_arg("linear") == {"type": "linear"}
    assert rope_scaling_arg("linear:2.5") == {"type": "linear", "factor": 2.5}
    assert rope_scaling_arg("dynamic:2") == {"type": "dynamic", "factor": 2.0}
    for bad in ("cubic", "linear:x", "linear:0.5", "none:2"):
        with pytest.raises(argparse.ArgumentTypeError):
            rope_scaling_arg(bad)
    stored = {"context_length": 64, "rope_scaling": None}
    assert resolve_rope_scaling(None, stored, 64, 24) is None  # trained context: untouched
    assert resolve_rope_scaling(None, stored, 256, 24) == {"type": "linear", "factor": 280 / 64}
    assert resolve_rope_scaling({"type": "linear", "factor": 1.0}, stored, 256, 24)["factor"] == 1.0


def test_zero_shot_cli_on_a_dataset_prints_both_models_and_writes_metrics_and_plot(tmp_path, capsys):
    code = main(
        [
            "zero-shot",
            "--dataset",
            "airpassengers",
            "--num-samples",
            "20",
            "--context-length",
            "32",
            "--rope-scaling",
            "none",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Lag-Llama zero-shot" in printed and "SeasonalNaive" in printed and "mean_wQuantileLoss" in printed
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["checkpoint"] == str(BUNDLED_CHECKPOINT)
    for model in ("Lag-Llama zero-shot", "SeasonalNaive"):
        assert np.isfinite(record["metrics"][model]["mean_wQuantileLoss"])
    # the same split for both: SeasonalNaive on airpassengers' test window is a fixed number
    assert record["metrics"]["SeasonalNaive"]["MASE"] == pytest.approx(1.5709, abs=1e-3)
    assert (tmp_path / "forecasts.png").read_bytes()[:8] == PNG_MAGIC


def test_zero_shot_csv_writes_quantiles_in_the_series_units(tmp_path, capsys):
    code = main(
        [
            "zero-shot",
            "--csv",
            str(RETAIL),
            "--target",
            "y",
            "--prediction-length",
            "6",
            "--num-samples",
            "30",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    table = pd.read_csv(tmp_path / "forecast.csv", parse_dates=["timestamp"])
    quantiles = [f"q{q / 10:g}" for q in range(1, 10)]
    assert list(table.columns) == ["timestamp", "mean", "median", *quantiles]
    # monthly (month start) steps right after the last row, 2016-05-01
    assert list(table["timestamp"]) == list(pd.date_range("2016-06-01", periods=6, freq="MS"))
    values = table[quantiles].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()
    np.testing.assert_allclose(table["median"], table["q0.5"])
    last = pd.read_csv(RETAIL)["y"].iloc[-1]
    assert (table["median"].between(0.7 * last, 1.3 * last)).all()  # the series' units, not scaled
    assert (tmp_path / "forecast.png").read_bytes()[:8] == PNG_MAGIC
    assert "forecast.csv" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text, options, message",
    [
        ("ds,y\n2020-01-01,1\n2020-01-02,2\n", ["--target", "sales"], "no target column 'sales'"),
        (
            "ds,y\n" + "".join(f"2020-01-{d:02d},{d}\n" for d in range(1, 21)),
            ["--target", "y", "--freq", "fortnightly"],
            "unknown frequency",
        ),
        ("ds,y\n2020-01-01,\n2020-01-02,\n2020-01-03,\n", ["--target", "y"], "has no values"),
        ("ds,y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n", ["--target", "y"], "at least 8 are needed"),
        ("ds,y\n2020-01-01,1\n", [], "needs --target"),
        ("when,y\nmonday,1\ntuesday,2\n", ["--target", "y"], "cannot parse the timestamps"),
    ],
)
def test_zero_shot_csv_bad_input_is_one_line_and_exit_2(tmp_path, capsys, text, options, message):
    csv = tmp_path / "in.csv"
    csv.write_text(text)
    code = main(["zero-shot", "--csv", str(csv), "--prediction-length", "3", "--out", str(tmp_path / "o"), *options])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("lagllama-gluonts: error:") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "forecast.csv").exists()


def test_zero_shot_needs_exactly_one_source(tmp_path, capsys):
    assert main(["zero-shot", "--out", str(tmp_path)]) == 2
    assert "--dataset NAME or --csv FILE" in capsys.readouterr().err


def test_freeze_layers_keeps_the_first_blocks_exactly():
    from lagllama_gluonts import LagLlamaEstimator
    from lagllama_gluonts.finetune import FreezeLayers

    module = LagLlamaEstimator.from_checkpoint(
        LAG_LLAMA_FIXTURES / "small.ckpt", prediction_length=24, lr=1e-2, aug_prob=0.0
    ).create_lightning_module()
    before = {k: v.clone() for k, v in module.model.state_dict().items()}
    FreezeLayers(1).setup(None, module, "fit")
    optimizer = module.configure_optimizers()
    e = torch.load(LAG_LLAMA_FIXTURES / "small.expected.pt", weights_only=True)
    batch = {k[len("train_") :]: v for k, v in e.items() if k.startswith("train_") and torch.is_tensor(v)}
    module._mean_loss(batch).backward()
    optimizer.step()
    after = module.model.state_dict()
    frozen = [k for k in before if k.startswith(("transformer.wte.", "transformer.h.0."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    trained = [k for k in before if k not in frozen]
    assert all(not torch.equal(before[k], after[k]) for k in trained if k.endswith("weight"))
    with pytest.raises(ValueError, match="cannot freeze"):
        FreezeLayers(99).setup(None, module, "fit")


def count_loads(monkeypatch) -> list:
    """The files torch.load reads from now on."""
    loaded, real = [], torch.load

    def load(f, *args, **kwargs):
        loaded.append(str(f))
        return real(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", load)
    return loaded


def test_finetune_keeps_the_checkpoint_when_no_epoch_beats_it(monkeypatch):
    from lagllama_gluonts.common.datasets import get_dataset
    from lagllama_gluonts.finetune import finetune

    loaded = count_loads(monkeypatch)
    # lr 0 cannot lower the validation loss: the checkpoint's own weights must come back
    result = finetune(
        get_dataset("airpassengers").train,
        12,
        lr=0.0,
        max_epochs=1,
        num_batches_per_epoch=2,
        progress=False,
        num_parallel_samples=10,
    )
    # one read, though three modules were built from it (start, training, the one kept)
    assert loaded == [str(BUNDLED_CHECKPOINT)]
    assert result.record["kept"].startswith("checkpoint")
    assert result.record["best_val_loss"] == pytest.approx(result.record["start_val_loss"], rel=1e-5)
    raw = torch.load(BUNDLED_CHECKPOINT, weights_only=True)["state_dict"]
    state = result.predictor.prediction_net.state_dict()
    assert all(torch.equal(state[k], v) for k, v in raw.items())


def test_finetune_cli_runs_and_writes_all_three_models(tmp_path, capsys, monkeypatch):
    saved = tmp_path / "tuned.ckpt"
    loaded = count_loads(monkeypatch)
    code = main(
        [
            "finetune",
            "--dataset",
            "airpassengers",
            "--epochs",
            "1",
            "--batches-per-epoch",
            "2",
            "--lr",
            "1e-4",
            "--num-samples",
            "10",
            "--out",
            str(tmp_path),
            "--save",
            str(saved),
        ]
    )
    assert code == 0
    assert loaded == [str(BUNDLED_CHECKPOINT)]  # fine-tuning and the zero-shot row share one read
    printed = capsys.readouterr().out
    assert "validation loss" in printed and "fine-tuned" in printed
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["finetune"]["epochs_run"] == 1 and record["finetune"]["lr"] == 1e-4
    for model in ("fine-tuned", "zero-shot", "SeasonalNaive"):
        assert np.isfinite(record["metrics"][model]["mean_wQuantileLoss"])
    assert torch.load(saved, weights_only=True)["hyper_parameters"]["training"]["dataset"] == "airpassengers"
    assert (tmp_path / "forecasts.png").read_bytes()[:8] == PNG_MAGIC
