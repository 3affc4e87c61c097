"""Checkpoint safety: weights-only loading, refusal of foreign globals, clear mismatch errors."""


import pytest
import torch

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
    good = read_checkpoint(SMALL)
    good["hyper_parameters"]["model_kwargs"]["distr_output"] = None
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
    truncated.write_bytes(SMALL.read_bytes()[: 200_000])
    with pytest.raises(CheckpointError):
        read_checkpoint(truncated)


def test_architecture_mismatch_names_the_shapes():
    estimator = LagLlamaEstimator(
        prediction_length=24, context_length=32, n_layer=2, n_head=4, n_embd_per_head=16,
        scaling="robust", ckpt_path=str(SMALL),
    )
    with pytest.raises(CheckpointError) as err:
        estimator.create_lightning_module()
    message = str(err.value)
    assert "transformer.wte.weight" in message
    assert "(32, 92)" in message and "(64, 92)" in message


def test_fewer_layers_than_checkpoint_is_an_error_not_a_silent_drop():
    estimator = LagLlamaEstimator(
        prediction_length=24, n_layer=1, n_head=4, n_embd_per_head=8, ckpt_path=str(SMALL)
    )
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
    good = read_checkpoint(SMALL)
    good["hyper_parameters"]["model_kwargs"]["distr_output"] = {
        "__kind__": "instance", "class": "os.system", "args": ["echo hi"], "kwargs": {}
    }
    path = tmp_path / "bad_distr.ckpt"
    torch.save(good, path)
    with pytest.raises(CheckpointError, match="os.system"):
        read_checkpoint(path)
