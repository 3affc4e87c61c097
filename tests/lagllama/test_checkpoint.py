"""Checkpoint safety: weights-only loading, refusal of foreign globals, clear mismatch errors."""

import pytest
import torch
from gluonts.core import serde

from lagllama_gluonts import CheckpointError, LagLlamaEstimator, load_predictor, read_checkpoint, save_checkpoint
from lagllama_gluonts.checkpoint import pickled_globals

from conftest import LAG_LLAMA_FIXTURES

SMALL = LAG_LLAMA_FIXTURES / "small.ckpt"


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _with_extra_object(tmp_path, obj, name="evil.ckpt"):
    # build a checkpoint of our own layout holding the hostile object next to real weights
    good = read_checkpoint(SMALL).to_dict()
    good["hyper_parameters"]["payload"] = obj
    path = tmp_path / name
    torch.save(good, path)
    return path


def test_malicious_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = _with_extra_object(tmp_path, _Payload(str(marker)))
    assert "builtins.open" in pickled_globals(path) or "io.open" in pickled_globals(path)
    with pytest.raises(CheckpointError, match="open"):
        read_checkpoint(path)
    assert not marker.exists()
    with pytest.raises(CheckpointError):
        load_predictor(path, prediction_length=4)
    assert not marker.exists()


def test_os_system_payload_named_in_error(tmp_path):
    class Exec:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {tmp_path / 'ran'}",))

    path = _with_extra_object(tmp_path, Exec())
    with pytest.raises(CheckpointError, match=r"system"):
        read_checkpoint(path)
    assert not (tmp_path / "ran").exists()


def test_corrupt_and_missing_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "nope.ckpt")
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a PyTorch zip checkpoint"):
        read_checkpoint(junk)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(SMALL.read_bytes()[:200_000])
    with pytest.raises(CheckpointError):
        read_checkpoint(truncated)


def test_architecture_mismatch_names_the_shapes():
    estimator = LagLlamaEstimator(
        prediction_length=24,
        context_length=32,
        n_layer=2,
        n_head=4,
        n_embd_per_head=16,
        scaling="robust",
        ckpt_path=str(SMALL),
    )
    with pytest.raises(CheckpointError) as err:
        estimator.create_lightning_module()
    message = str(err.value)
    assert "transformer.wte.weight" in message
    assert "(32, 92)" in message and "(64, 92)" in message


def test_fewer_layers_than_checkpoint_is_an_error_not_a_silent_drop():
    estimator = LagLlamaEstimator(prediction_length=24, n_layer=1, n_head=4, n_embd_per_head=8, ckpt_path=str(SMALL))
    with pytest.raises(CheckpointError, match="transformer.h.1"):
        estimator.create_lightning_module()


def test_own_checkpoint_round_trip_is_plain_data(tmp_path):
    estimator = LagLlamaEstimator.from_checkpoint(SMALL, prediction_length=8)
    module = estimator.create_lightning_module()
    path = save_checkpoint(tmp_path / "ours.ckpt", module.model, estimator.model_kwargs())
    # plain torch.load with weights_only and no allow-list works on our format
    raw = torch.load(path, weights_only=True)
    assert raw["hyper_parameters"]["model_kwargs"]["distr_output"]["class"].endswith("StudentTOutput")
    again = LagLlamaEstimator.from_checkpoint(path, prediction_length=8).create_lightning_module()
    for (k, a), (_, b) in zip(module.model.state_dict().items(), again.model.state_dict().items()):
        assert torch.equal(a, b), k


def test_checkpoint_distribution_must_be_gluonts(tmp_path):
    good = read_checkpoint(SMALL).to_dict()
    good["hyper_parameters"]["model_kwargs"]["distr_output"] = {
        "__kind__": "instance",
        "class": "os.system",
        "args": ["echo hi"],
        "kwargs": {},
    }
    path = tmp_path / "bad_distr.ckpt"
    torch.save(good, path)
    with pytest.raises(CheckpointError, match="os.system"):
        read_checkpoint(path)


# --------------------------------------------------------------------------- one read per call


@pytest.fixture
def reads(monkeypatch):
    """Every torch.load of a file and every scan of a checkpoint's pickle, by path."""
    import lagllama_gluonts.checkpoint as checkpoint_module

    seen = {"load": [], "scan": []}
    real_load, real_scan = torch.load, checkpoint_module.pickled_globals

    def load(f, *args, **kwargs):
        seen["load"].append(str(f))
        return real_load(f, *args, **kwargs)

    def scan(path):
        seen["scan"].append(str(path))
        return real_scan(path)

    monkeypatch.setattr(torch, "load", load)
    monkeypatch.setattr(checkpoint_module, "pickled_globals", scan)
    return seen


def test_load_predictor_reads_and_scans_the_file_once(reads):
    predictor = load_predictor(SMALL, prediction_length=4, num_parallel_samples=3)
    assert reads == {"load": [str(SMALL)], "scan": [str(SMALL)]}
    assert predictor.prediction_net.model.transformer.h[0].attn.n_head == 4


def test_from_checkpoint_takes_a_checkpoint_object_and_reads_nothing_more(reads):
    from lagllama_gluonts import Checkpoint

    ckpt = read_checkpoint(SMALL)
    assert isinstance(ckpt, Checkpoint) and reads["load"] == [str(SMALL)]
    estimator = LagLlamaEstimator.from_checkpoint(ckpt, prediction_length=4)
    first, second = estimator.create_lightning_module(), estimator.create_lightning_module()
    load_predictor(ckpt, prediction_length=4, num_parallel_samples=3)
    assert reads["load"] == [str(SMALL)]  # still the one read
    for key, value in ckpt.state_dict.items():
        assert torch.equal(first.model.state_dict()[key], value) and torch.equal(second.model.state_dict()[key], value)
    # a reference-style estimator (ckpt_path=) reads its file once however many modules it builds
    reads["load"].clear()
    reference_style = LagLlamaEstimator(
        prediction_length=4, n_layer=2, n_head=4, n_embd_per_head=8, ckpt_path=str(SMALL)
    )
    reference_style.create_lightning_module()
    reference_style.create_lightning_module()
    assert reads["load"] == [str(SMALL)]


def test_cli_info_reads_once_and_shows_one_based_lags(reads, capsys):
    from lagllama_gluonts.cli import main

    assert main(["info", str(SMALL)]) == 0
    assert reads["load"] == [str(SMALL)]
    out = capsys.readouterr().out
    assert "84 lags, 1 .. 1093 steps before the predicted position" in out and "n_layer: 2" in out


def test_checkpoint_object_round_trips_through_save(tmp_path):
    ckpt = read_checkpoint(SMALL)
    assert ckpt.context_length == 32 and ckpt.training == {}
    assert "model_kwargs" not in ckpt.extra and "loss" not in ckpt.extra
    torch.save(ckpt.to_dict(), tmp_path / "copy.ckpt")
    again = read_checkpoint(tmp_path / "copy.ckpt")

    def plain(kwargs):  # DistributionOutput has no __eq__: compare its serde encoding
        return {**kwargs, "distr_output": serde.encode(kwargs["distr_output"])}

    assert plain(again.model_kwargs) == plain(ckpt.model_kwargs)
    assert all(torch.equal(again.state_dict[k], v) for k, v in ckpt.state_dict.items())
    assert read_checkpoint(again) is again  # an object passes through


# --------------------------------------------------------------------------- unusable files


def test_a_folder_given_as_checkpoint_is_named(tmp_path):
    with pytest.raises(CheckpointError, match=f"{tmp_path}.* is a folder"):
        read_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="is a folder"):
        load_predictor(tmp_path, prediction_length=4)


@pytest.mark.parametrize("keep", [0.5, 0.9, -22, -1], ids=["half", "90%", "no-end-record", "last-byte"])
def test_a_truncated_checkpoint_is_named(tmp_path, keep):
    data = SMALL.read_bytes()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(data[: int(len(data) * keep)] if isinstance(keep, float) else data[:keep])
    with pytest.raises(CheckpointError, match=str(cut)):
        read_checkpoint(cut)


def test_a_corrupt_member_is_named(tmp_path):
    data = bytearray(SMALL.read_bytes())
    start = data.find(b"data.pkl") + 200  # inside the pickle's bytes: its CRC no longer matches
    data[start : start + 64] = bytes(64)
    bad = tmp_path / "crc.ckpt"
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=str(bad)):
        read_checkpoint(bad)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("n_embd_per_head", 7, "n_embd_per_head must be even"),
        ("n_head", 0, "'n_head'.* positive integer"),
        ("n_layer", -1, "'n_layer'.* positive integer"),
        ("lags_seq", [], "lags_seq"),
    ],
)
def test_a_checkpoint_with_sizes_no_model_can_have_is_named(tmp_path, field, value, message):
    raw = read_checkpoint(SMALL).to_dict()
    raw["hyper_parameters"]["model_kwargs"][field] = value
    path = tmp_path / "odd.ckpt"
    torch.save(raw, path)
    with pytest.raises(CheckpointError, match=f"{path}: .*{message}"):
        load_predictor(path, prediction_length=4)
