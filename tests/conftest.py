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

# Two cores: one intra-op thread per process keeps timings stable and avoids oversubscription.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set LAGLLAMA_GLUONTS_SHARED")
    return SHARED
