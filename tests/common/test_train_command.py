"""Both models train through the one shared ``train`` command (Lag-Llama's ``finetune``, also
called ``train``; Informer's ``train``), and a ``--save`` path that cannot be written fails
before any training, as one line with exit status 2."""

import json
import os

import pytest

from informer_gluonts.cli import InformerAdapter
from informer_gluonts.cli import main as informer_main
from lagllama_gluonts.cli import LagLlamaAdapter
from lagllama_gluonts.cli import main as lagllama_main
from lagllama_gluonts.common import commands

from conftest import LAGLLAMA_FAST_OPTIONS

TABLE = ["--item-column", "meter", "--target", "y", "--prediction-length", "12"]


@pytest.mark.parametrize(
    "main, command, model",
    [
        (lagllama_main, "finetune", "Lag-Llama"),
        (lagllama_main, "train", "Lag-Llama"),
        (informer_main, "train", "Informer"),
    ],
)
def test_both_clis_train_through_the_shared_command(main, command, model, meters_csv, tmp_path, monkeypatch):
    calls = []

    def record(adapter, args):
        calls.append((adapter.name, args.command, args.canonical_command))
        return 0

    monkeypatch.setattr(commands, "train", record)
    assert main([command, "--csv", str(meters_csv), *TABLE, "--out", str(tmp_path / "o")]) == 0
    assert calls == [(model, command, "finetune" if model == "Lag-Llama" else "train")]


def a_file(folder):
    path = folder / "plain.txt"
    path.write_text("not a folder")
    return path


def a_full_folder(folder):
    path = folder / "full"
    path.mkdir()
    (path / "notes.txt").write_text("someone's files")
    return path


# (CLI, its adapter class, the bad --save, the message)
BAD_SAVES = [
    pytest.param(lagllama_main, LagLlamaAdapter, lambda d: d, "is a folder; name the file", id="lagllama-folder"),
    pytest.param(
        lagllama_main,
        LagLlamaAdapter,
        lambda d: a_file(d) / "tuned.ckpt",
        "which is a file, not a folder",
        id="lagllama-under-a-file",
    ),
    pytest.param(informer_main, InformerAdapter, a_file, "is a file; name a folder", id="informer-file"),
    pytest.param(
        informer_main, InformerAdapter, a_full_folder, "is a folder with other files in it", id="informer-full-folder"
    ),
    pytest.param(
        informer_main,
        InformerAdapter,
        lambda d: a_file(d) / "model",
        "which is a file, not a folder",
        id="informer-under-a-file",
    ),
]


@pytest.mark.parametrize("main, adapter, save, message", BAD_SAVES)
def test_a_bad_save_path_fails_before_training(main, adapter, save, message, meters_csv, tmp_path, capsys, monkeypatch):
    trained = []
    monkeypatch.setattr(adapter, "fit", lambda *args, **kwargs: trained.append(args))
    path = save(tmp_path)
    code = main(["train", "--csv", str(meters_csv), *TABLE, "--save", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and str(path) in err, err
    assert len(err.strip().splitlines()) == 1
    assert trained == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
@pytest.mark.parametrize("main, adapter", [(lagllama_main, LagLlamaAdapter), (informer_main, InformerAdapter)])
def test_an_unwritable_save_folder_fails_before_training(main, adapter, meters_csv, tmp_path, capsys, monkeypatch):
    trained = []
    monkeypatch.setattr(adapter, "fit", lambda *args, **kwargs: trained.append(args))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code = main(["train", "--csv", str(meters_csv), *TABLE, "--save", str(locked / "m"), "--out", str(tmp_path)])
    finally:
        locked.chmod(0o700)
    assert code == 2 and "is not writable" in capsys.readouterr().err and trained == []


def test_lagllama_train_is_finetune(meters_csv, tmp_path, capsys):
    """``train`` is ``finetune``'s other name: the same record, the checkpoint saved."""
    out, saved = tmp_path / "o", tmp_path / "models" / "tuned.ckpt"
    argv = ["train", "--csv", str(meters_csv), *TABLE, "--epochs", "1", "--batches-per-epoch", "1"]
    assert lagllama_main([*argv, "--save", str(saved), "--out", str(out), *LAGLLAMA_FAST_OPTIONS]) == 0
    record = json.loads((out / "metrics.json").read_text())
    assert record["finetune"]["train_series"] == 3 and record["series"] == 3 and record["skipped"] == 0
    assert record["saved"] == str(saved) and saved.is_file()
    assert "fine-tuning" in capsys.readouterr().out
