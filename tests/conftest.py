"""Shared test configuration: where the read-only data and fixtures lie, and CPU threads."""

import os
from pathlib import Path

import pandas as pd
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI clones the repository beside ``shared/``; the session checkout lives there too.
SHARED = Path(os.environ.get("LAGLLAMA_GLUONTS_SHARED", REPO_ROOT.parent / "shared"))
LAG_LLAMA_FIXTURES = SHARED / "fixtures" / "lag_llama"
INFORMER_FIXTURES = SHARED / "fixtures" / "informer"
MIRROR = SHARED / "datasets" / "mirror"
CORPUS = SHARED / "datasets" / "corpus"
ETTH1 = MIRROR / "raw.githubusercontent.com" / "zhouhaoyi" / "ETDataset" / "main" / "ETT-small" / "ETTh1.csv"

# The package assumes no dataset mirror (without one it uses GluonTS's cache and download), and the
# tests must run offline: every test, and every command line a test starts (they inherit the
# environment), reads the repository datasets from the shared mirror, named the way a user would.
# Set for the whole session (every xdist worker imports this file); tests of the other ways to
# resolve a dataset unset it themselves (tests/common/test_datasets.py).
os.environ["LAGLLAMA_GLUONTS_MIRROR"] = str(MIRROR)

# The CI machine has two small shared cores: oversubscribed intra-op threads made some
# kernels (sparse sampled matmul, tiny matmuls) up to 20x slower, so tests use one.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set LAGLLAMA_GLUONTS_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def base_checkpoint(tmp_path_factory) -> Path:
    """The bundled checkpoint without its pretrained covariate pathway: its network alone, a
    checkpoint with no covariate weights at all (as the released one), for the tests of what such a
    checkpoint does with covariates (in-context regression, a projection starting at zero)."""
    from lagllama_gluonts.checkpoint import PATHWAY_PREFIX, Checkpoint, read_checkpoint

    bundled = read_checkpoint(None)
    path = tmp_path_factory.mktemp("base") / "lag-llama-medium-base.ckpt"
    kwargs = {k: v for k, v in bundled.model_kwargs.items() if k != "covariate_regression"}
    state = {k: v for k, v in bundled.state_dict.items() if not k.startswith(PATHWAY_PREFIX)}
    torch.save(Checkpoint(path, kwargs, state, bundled.extra).to_dict(), path)
    return path


# --------------------------------------------------------------------------- one's own tables
# The table commands of both CLIs read the same tables, built from real hourly corpus files.

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QUANTILE_COLUMNS = [f"q{q / 10:g}" for q in range(1, 10)]
HOURLY_ITEMS = ("SF_hospital_load", "SF_PV", "load_rte")  # BeijingPM25_0 stays held out
# command-line options that keep each CLI's table commands fast in tests
INFORMER_FAST_OPTIONS = [
    "--max-steps",
    "4",
    "--batches-per-epoch",
    "2",
    "--d-model",
    "16",
    "--n-heads",
    "2",
    "--d-ff",
    "32",
    "--num-samples",
    "20",
    "--quiet",
    "--threads",
    "1",
    "--context-length",
    "48",
    "--lags",
    "1,24",
    "--device",
    "cpu",
]
LAGLLAMA_FAST_OPTIONS = ["--num-samples", "8", "--context-length", "32", "--device", "cpu"]


def corpus_tail(name: str, steps: int = 200) -> pd.DataFrame:
    """The last ``steps`` rows (``ds``, ``y``) of a corpus file."""
    return pd.read_csv(CORPUS / f"{name}.csv", usecols=["ds", "y"]).iloc[-steps:]


@pytest.fixture
def meters_csv(tmp_path):
    """A long table: the hourly items in column ``meter``, rows in any order."""
    frame = pd.concat([corpus_tail(name).assign(meter=name) for name in HOURLY_ITEMS], ignore_index=True)
    path = tmp_path / "meters.csv"
    frame[["meter", "ds", "y"]].sample(frac=1, random_state=1).to_csv(path, index=False)
    return path


@pytest.fixture
def hospital_pv_csv(tmp_path):
    """A wide table: columns ``hospital`` and ``pv``, pv starting later."""
    frame = corpus_tail("SF_hospital_load").rename(columns={"y": "hospital"})
    frame = frame.merge(corpus_tail("SF_PV", 150).rename(columns={"y": "pv"}), on="ds", how="left")
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    return path
