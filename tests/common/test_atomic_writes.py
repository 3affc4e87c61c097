"""No write leaves a broken file (issue 23): every file and folder the package writes goes to a
temporary beside the target and is renamed in whole. A process killed mid-write or a full disk
leaves the previous good file, or none, never a partial one; where Python can clean up, no
temporary is left either."""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lagllama_gluonts import read_checkpoint, save_checkpoint
from lagllama_gluonts.common import cli
from lagllama_gluonts.common.adapter import serialize_predictor
from lagllama_gluonts.common.atomic import atomic_dir, atomic_path
from lagllama_gluonts.common.errors import DataError
from lagllama_gluonts.common.files import write_forecast_frames
from lagllama_gluonts.common.jsonio import write_json

from conftest import LAG_LLAMA_FIXTURES, LAGLLAMA_FAST_OPTIONS, REPO_ROOT

SMALL = LAG_LLAMA_FIXTURES / "small.ckpt"
POSIX = pytest.mark.skipif(os.name != "posix", reason="signals and resource limits are POSIX")


class _Model:
    """What save_checkpoint needs of a model: its weights (the small fixture's, a real checkpoint)."""

    def __init__(self, state_dict):
        self._state = state_dict

    def state_dict(self):
        return self._state


def _save_small(path: Path, run: int) -> Path:
    ckpt = read_checkpoint(SMALL)
    return save_checkpoint(path, _Model(ckpt.state_dict), ckpt.model_kwargs, extra={"training": {"run": run}})


def _leftovers(folder: Path, name: str):
    """Hidden temporaries of ``name`` beside it."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


# ---- the helper ---------------------------------------------------------------------------------


def test_atomic_path_writes_the_content_with_the_usual_mode(tmp_path):
    target = tmp_path / "sub" / "a.csv"
    with atomic_path(target) as temp:
        assert temp.parent == target.parent and temp.suffix == ".csv" and temp != target
        temp.write_text("x,y\n1,2\n")
        assert not target.exists()  # nothing at the target until the block ends
    assert target.read_text() == "x,y\n1,2\n"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    assert _leftovers(target.parent, "a.csv") == []


@pytest.mark.parametrize("error", [RuntimeError("disk"), KeyboardInterrupt()], ids=["exception", "ctrl-c"])
def test_atomic_path_leaves_the_old_file_on_any_exception(tmp_path, error):
    target = tmp_path / "a.json"
    target.write_text("good")
    with pytest.raises(type(error)):
        with atomic_path(target) as temp:
            temp.write_text("half")
            raise error
    assert target.read_text() == "good"
    assert _leftovers(tmp_path, "a.json") == []


def test_atomic_path_creates_nothing_when_the_write_fails_or_is_withdrawn(tmp_path):
    target = tmp_path / "new.csv"
    with pytest.raises(ValueError):
        with atomic_path(target) as temp:
            temp.write_text("half")
            raise ValueError
    with atomic_path(target) as temp:
        temp.unlink()  # the writer had nothing to write
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_through_a_symbolic_link_keeps_the_link(tmp_path):
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("old")
    link.symlink_to(real)
    with atomic_path(link) as temp:
        temp.write_text("new")
    assert link.is_symlink() and real.read_text() == "new"


def test_atomic_path_onto_a_folder_fails_and_cleans_up(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError):
        with atomic_path(tmp_path / "d") as temp:
            temp.write_text("x")
    assert (tmp_path / "d").is_dir() and _leftovers(tmp_path, "d") == []


def test_atomic_dir_replaces_the_old_folder_only_when_complete(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as temp:
            (temp / "new.txt").write_text("half")
            raise RuntimeError
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    with atomic_dir(target) as temp:
        (temp / "new.txt").write_text("new")
        (temp / "sub").mkdir()
        (temp / "sub" / "w.bin").write_bytes(b"\0" * 10)
    assert sorted(p.name for p in target.iterdir()) == ["new.txt", "sub"]  # nothing of the old folder
    assert (target / "sub" / "w.bin").stat().st_size == 10
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # neither the temporary nor the old one


# ---- the write sites ----------------------------------------------------------------------------


def test_write_json_that_cannot_be_written_keeps_the_old_file(tmp_path):
    path = write_json(tmp_path / "metrics.json", {"a": float("nan")})
    assert json.loads(path.read_text()) == {"a": None}
    with pytest.raises(TypeError):
        write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": None} and _leftovers(tmp_path, "metrics.json") == []


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_forecast_stream_that_fails_part_way_keeps_the_previous_table(tmp_path, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    piece = pd.DataFrame({"item": ["a", "a"], "mean": [1.0, 2.0]})
    path, rows = write_forecast_frames(tmp_path / f"f{suffix}", iter([piece, piece]))
    assert rows == 4

    def failing():
        yield piece.assign(mean=np.nan)
        raise RuntimeError("the model failed on item b")

    with pytest.raises(RuntimeError):
        write_forecast_frames(path, failing())
    read = pd.read_csv if suffix == ".csv" else pd.read_parquet
    assert read(path)["mean"].tolist() == [1.0, 2.0, 1.0, 2.0]
    assert _leftovers(tmp_path, path.name) == []


def test_no_piece_writes_no_table(tmp_path):
    assert write_forecast_frames(tmp_path / "f.csv", iter([])) == (tmp_path / "f.csv", 0)
    assert list(tmp_path.iterdir()) == []


def test_a_predictor_that_fails_to_serialize_keeps_the_saved_one(tmp_path):
    class Predictor:
        def __init__(self, fail):
            self.fail = fail

        def serialize(self, path):
            (path / "type.txt").write_text("new")
            if self.fail:
                raise OSError(28, "No space left on device")
            (path / "weights.bin").write_bytes(b"w")

    saved = serialize_predictor(Predictor(False), tmp_path / "model")
    with pytest.raises(OSError):
        serialize_predictor(Predictor(True), saved)
    assert sorted(p.name for p in saved.iterdir()) == ["type.txt", "weights.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_save_checkpoint_that_fails_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = _save_small(tmp_path / "tuned.ckpt", run=1)

    def fail(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"PK\x03\x04 truncated")
        raise RuntimeError("file write failed")

    monkeypatch.setattr("lagllama_gluonts.checkpoint.torch.save", fail)
    with pytest.raises(RuntimeError):
        _save_small(path, run=2)
    assert read_checkpoint(path).extra["training"] == {"run": 1}
    assert _leftovers(tmp_path, "tuned.ckpt") == []


# ---- killed mid-write, and a full disk, in a child process --------------------------------------

# torch.save made slow in the child: half the bytes written, then a pause in which it is killed
_SLOW_SAVE = """
import io, sys, time, torch
real = torch.save
def slow_save(obj, f, *args, **kwargs):
    buffer = io.BytesIO()
    real(obj, buffer, *args, **kwargs)
    data = buffer.getvalue()
    with open(f, "wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        print("HALF", f, flush=True)
        time.sleep(120)
        handle.write(data[len(data) // 2 :])
torch.save = slow_save
"""

_SAVE_SMALL = """
import sys
from lagllama_gluonts import read_checkpoint, save_checkpoint
ckpt = read_checkpoint(sys.argv[1])
class Model:
    def state_dict(self):
        return ckpt.state_dict
"""

_RUN_CLI = """
from lagllama_gluonts.cli import main
sys.exit(main(sys.argv[1:]))
"""

_FULL_DISK = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit raises (EFBIG), as on a full disk
model = Model()
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))
try:
    save_checkpoint(sys.argv[2], model, ckpt.model_kwargs, extra={"training": {"run": 2}})
except Exception as error:
    print("FAILED", type(error).__name__, flush=True)
    sys.exit(3)
print("SAVED")
"""


def _child(code: str, *args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, env=env
    )


def _kill_when_half_written(proc: subprocess.Popen, target: Path, deadline: float = 240) -> Path:
    """Wait for the child to report its half-written temporary, check it, SIGKILL the child."""
    start = time.monotonic()
    for line in proc.stdout:
        if line.startswith("HALF "):
            temp = Path(line.split(" ", 1)[1].strip())
            break
        assert time.monotonic() - start < deadline
    else:
        pytest.fail(f"the child ended (status {proc.wait()}) before writing")
    assert temp.parent == target.parent and temp != target and temp.stat().st_size > 0
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    return temp


@POSIX
@pytest.mark.parametrize("previous", [True, False], ids=["over-a-good-checkpoint", "new-file"])
def test_a_save_checkpoint_killed_mid_write_leaves_the_previous_file_or_none(tmp_path, previous):
    target = tmp_path / "tuned.ckpt"
    if previous:
        _save_small(target, run=1)
        good = target.read_bytes()
    save = "save_checkpoint(sys.argv[2], Model(), ckpt.model_kwargs)\n"
    temp = _kill_when_half_written(_child(_SLOW_SAVE + _SAVE_SMALL + save, SMALL, target), target)
    if previous:
        assert target.read_bytes() == good and read_checkpoint(target).extra["training"] == {"run": 1}
    else:
        assert not target.exists()
    # SIGKILL leaves no chance to clean up: the half file stays, hidden and apart from the target
    assert _leftovers(tmp_path, "tuned.ckpt") == [temp.name] and temp.name.endswith(".tmp.ckpt")


@POSIX
def test_finetune_save_killed_mid_write_leaves_the_previous_checkpoint(tmp_path, meters_csv):
    target = tmp_path / "models" / "tuned.ckpt"
    _save_small(target, run=1)
    good = target.read_bytes()
    argv = ["finetune", "--csv", meters_csv, "--item-column", "meter", "--target", "y", "--prediction-length", "12"]
    argv += ["--epochs", "1", "--batches-per-epoch", "1", "--save", target, "--out", tmp_path / "o"]
    temp = _kill_when_half_written(_child(_SLOW_SAVE + _RUN_CLI, *argv, *LAGLLAMA_FAST_OPTIONS), target)
    assert target.read_bytes() == good and read_checkpoint(target).extra["training"] == {"run": 1}
    assert not temp.samefile(target)


@POSIX
@pytest.mark.parametrize("previous", [True, False], ids=["over-a-good-checkpoint", "new-file"])
def test_a_full_disk_leaves_the_previous_checkpoint_and_no_temporary(tmp_path, previous):
    target = tmp_path / "tuned.ckpt"
    if previous:
        _save_small(target, run=1)
        good = target.read_bytes()
    proc = _child(_SAVE_SMALL + _FULL_DISK, SMALL, target)
    out, _ = proc.communicate(timeout=240)
    assert proc.returncode == 3 and out.startswith("FAILED"), out  # the write failed, in Python
    if previous:
        assert target.read_bytes() == good and read_checkpoint(target).extra["training"] == {"run": 1}
    else:
        assert not target.exists()
    assert _leftovers(tmp_path, "tuned.ckpt") == []


# ---- output paths checked before any work -------------------------------------------------------


def test_output_places_are_checked(tmp_path, monkeypatch):
    a_file = tmp_path / "f"
    a_file.write_text("x")
    with pytest.raises(DataError, match="lies under .*which is a file"):
        cli.check_writable_place(a_file / "deep" / "m.ckpt", "--save")
    with pytest.raises(DataError, match="--output .* lies under"):
        cli.forecast_output(_args(output=a_file / "f.csv"), tmp_path)
    cli.check_writable_place(tmp_path / "new" / "deeper" / "m.ckpt", "--save")  # folders made on the way
    cli.check_save_path(a_file, folder=False)  # an existing file is replaced
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # as root the permission bits do not bind: stand in for a folder the user cannot write
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode))
    for check in (
        lambda: cli.check_save_path(locked / "m.ckpt", folder=False),
        lambda: cli.check_save_path(locked / "model", folder=True),
        lambda: cli.check_out_dir(locked / "out"),
        lambda: cli.check_out_dir(locked),
        lambda: cli.check_out_dir(locked / "m.ckpt", is_file=True),
        lambda: cli.forecast_output(_args(output=locked / "f.parquet"), tmp_path),
    ):
        with pytest.raises(DataError, match=f"{str(locked)!r} is not writable"):
            check()


def _args(**values):
    return argparse.Namespace(**values)
