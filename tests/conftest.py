"""Shared test configuration: where the read-only data and fixtures lie, and CPU threads."""

import os
from pathlib import Path

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

# The CI machine has two small shared cores: oversubscribed intra-op threads made some
# kernels (sparse sampled matmul, tiny matmuls) up to 20x slower, so tests use one.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set LAGLLAMA_GLUONTS_SHARED")
    return SHARED
