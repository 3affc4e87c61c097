"""Checkpoints named on the Hugging Face Hub (``lagllama_gluonts.hub``), all offline: a Hub cache
laid out as ``huggingface_hub`` lays it out, in a temporary folder, holding the released-format
fixture; ``HF_HUB_OFFLINE`` on, and any socket use recorded as a failure."""

import builtins
import socket

import numpy as np
import pandas as pd
import pytest
import torch
from gluonts.dataset.common import ListDataset

from lagllama_gluonts import CheckpointError, load_predictor, read_checkpoint
from lagllama_gluonts.cli import main
from lagllama_gluonts.defaults import BUNDLED_CHECKPOINT
from lagllama_gluonts.hub import (
    DEFAULT_FILENAME,
    RELEASED_REPO,
    HubError,
    HubExtraMissing,
    HubReference,
    parse_hub_reference,
    resolve_checkpoint,
)

from conftest import LAG_LLAMA_FIXTURES, LAGLLAMA_FAST_OPTIONS, corpus_tail

hub_constants = pytest.importorskip("huggingface_hub.constants")

RELEASED_FORMAT = LAG_LLAMA_FIXTURES / "released_arch.ckpt"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def _snapshot_file(cache, commit: str, filename: str):
    """``models--OWNER--NAME/snapshots/COMMIT/FILE``, a link to the fixture as the Hub's blobs are."""
    path = cache / f"models--{RELEASED_REPO.replace('/', '--')}" / "snapshots" / commit / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(RELEASED_FORMAT)
    return path


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    """An offline Hub cache holding the fixture as ``lag-llama.ckpt`` at ``main``, as
    ``tuned.ckpt`` at another commit (tag ``v1``), and nothing else."""
    home = tmp_path / "hf"
    cache = home / "hub"
    _snapshot_file(cache, COMMIT, DEFAULT_FILENAME)
    _snapshot_file(cache, OTHER_COMMIT, "tuned.ckpt")
    refs = cache / f"models--{RELEASED_REPO.replace('/', '--')}" / "refs"
    refs.mkdir()
    (refs / "main").write_text(COMMIT)
    (refs / "v1").write_text(OTHER_COMMIT)
    # huggingface_hub reads these variables when it is imported: set both the variables (for
    # anything importing it later) and the constants it reads at call time
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HOME", str(home))
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    contacts = []

    def no_network(*args, **kwargs):
        contacts.append(args)
        raise OSError("network use in a test")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    yield cache
    assert not contacts, f"the test reached for the network: {contacts}"


def _series():
    target = corpus_tail("SF_hospital_load", 120)["y"].to_numpy(dtype=np.float32)
    return ListDataset([{"start": pd.Period("2020-01-01 00:00", freq="h"), "target": target}], freq="h")


def _samples(checkpoint, seed: int = 7) -> np.ndarray:
    predictor = load_predictor(checkpoint, prediction_length=24, num_parallel_samples=8, device="cpu")
    torch.manual_seed(seed)
    return next(iter(predictor.predict(_series()))).samples


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("time-series-foundation-models/Lag-Llama", HubReference(RELEASED_REPO, None, DEFAULT_FILENAME)),
        ("org/name@v1", HubReference("org/name", "v1", DEFAULT_FILENAME)),
        ("org/name:sub/tuned.ckpt", HubReference("org/name", None, "sub/tuned.ckpt")),
        ("org/name@refs/pr/1:x.ckpt", HubReference("org/name", "refs/pr/1", "x.ckpt")),
        ("runs/tuned.ckpt", None),  # a missing file, not a repository named like one
        ("a/b/c", None),
        ("./org/name", None),
        ("model.ckpt", None),
        ("org--x/name", None),
    ],
)
def test_what_is_a_path_and_what_is_a_hub_reference(spec, expected):
    assert parse_hub_reference(spec) == expected


def test_an_existing_path_always_wins(tmp_path, monkeypatch):
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "name").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert parse_hub_reference("org/name") is None
    assert resolve_checkpoint("org/name") == tmp_path.joinpath("org", "name").relative_to(tmp_path)
    assert resolve_checkpoint(None) == BUNDLED_CHECKPOINT


def test_the_released_repo_forecasts_as_the_same_file_given_as_a_path(hub_cache):
    ckpt = read_checkpoint(RELEASED_REPO)
    assert ckpt.path.parent.name == COMMIT and ckpt.path.name == DEFAULT_FILENAME
    hub = _samples(RELEASED_REPO)
    assert hub.shape == (8, 24) and np.isfinite(hub).all()
    np.testing.assert_array_equal(hub, _samples(RELEASED_FORMAT))


def test_revision_and_file_forms(hub_cache):
    at_commit = read_checkpoint(f"{RELEASED_REPO}@{COMMIT}")
    assert (
        at_commit.path
        == hub_cache / f"models--{RELEASED_REPO.replace('/', '--')}" / "snapshots" / COMMIT / DEFAULT_FILENAME
    )
    tagged = read_checkpoint(f"{RELEASED_REPO}@v1:tuned.ckpt")
    assert tagged.path.parent.name == OTHER_COMMIT and tagged.path.name == "tuned.ckpt"
    assert read_checkpoint(f"{RELEASED_REPO}@{OTHER_COMMIT}:tuned.ckpt").path == tagged.path
    # the file is only at v1: at main it is not cached, and offline that is the error
    with pytest.raises(HubError, match="HF_HUB_OFFLINE is set and it is not in the Hugging Face cache"):
        read_checkpoint(f"{RELEASED_REPO}:tuned.ckpt")


@pytest.mark.parametrize("spec", [f"{RELEASED_REPO}@v2", "someone/else", f"{RELEASED_REPO}:other.ckpt"])
def test_offline_without_a_cached_copy_is_one_line(hub_cache, spec):
    with pytest.raises(HubError) as error:
        load_predictor(spec, prediction_length=24)
    message = str(error.value)
    assert isinstance(error.value, CheckpointError) and "\n" not in message
    assert message.startswith(f"cannot get {parse_hub_reference(spec)} from the Hugging Face Hub: HF_HUB_OFFLINE")
    assert str(hub_cache) in message


def test_missing_extra_is_one_line_naming_it(hub_cache, monkeypatch):
    real_import = builtins.__import__

    def without_huggingface_hub(name, *args, **kwargs):
        if name == "huggingface_hub" or name.startswith("huggingface_hub."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_huggingface_hub)
    with pytest.raises(HubExtraMissing) as error:
        load_predictor(RELEASED_REPO, prediction_length=24)
    assert isinstance(error.value, ImportError) and isinstance(error.value, CheckpointError)
    assert "pip install 'lagllama-gluonts[hub]'" in str(error.value) and "\n" not in str(error.value)
    # local paths and the bundled checkpoint need no extra
    assert read_checkpoint(RELEASED_FORMAT).path == RELEASED_FORMAT


def test_cli_checkpoint_from_the_hub_cache(hub_cache, tmp_path, capsys):
    csv = tmp_path / "in.csv"
    corpus_tail("SF_hospital_load", 80).to_csv(csv, index=False)
    out = tmp_path / "o"
    argv = ["zero-shot", "--csv", str(csv), "--target", "y", "--prediction-length", "6", "--out", str(out)]
    assert main([*argv, *LAGLLAMA_FAST_OPTIONS, "--checkpoint", RELEASED_REPO]) == 0
    forecast = pd.read_csv(out / "forecast.csv")
    assert len(forecast) == 6 and np.isfinite(forecast["mean"]).all()
    capsys.readouterr()
    missing = f"{RELEASED_REPO}@v2"
    assert main([*argv, *LAGLLAMA_FAST_OPTIONS, "--checkpoint", missing]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "HF_HUB_OFFLINE is set" in err and missing in err


def test_load_predictor_without_a_checkpoint_is_the_bundled_one():
    predictor = load_predictor(prediction_length=24, num_parallel_samples=4, device="cpu")
    bundled = torch.load(BUNDLED_CHECKPOINT, weights_only=True)["state_dict"]
    loaded = predictor.prediction_net.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in bundled.items())
    assert load_predictor(RELEASED_FORMAT, 24).prediction_length == 24  # positional use still works
    assert load_predictor().prediction_length == 24  # nothing at all: the bundled checkpoint, a day of hours
