"""The bundled checkpoint's loss curve over all its pretraining runs: runs that continue one
another (``pretrain --init-from``) chained, each offset by where the one before it ended.

    python benchmarks/pretraining_loss.py RUN_DIR [RUN_DIR ...]   # first run first

Writes ``benchmarks/results/pretraining_loss.png`` (the README's model card shows it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import bench_common as bc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", type=Path, help="pretraining run directories, first run first")
    parser.add_argument("--out", type=Path, default=bc.RESULTS / "pretraining_loss.png")
    args = parser.parse_args(argv)

    from lagllama_gluonts.pretrain import chained_history, plot_loss_curve

    history, boundaries = chained_history(args.run_dirs)
    plot_loss_curve(history, args.out, boundaries=boundaries)
    for name, points in history.items():
        print(f"{name}: {len(points)} points, steps {points[0][0]}..{points[-1][0]}, last {points[-1][1]:.4f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
