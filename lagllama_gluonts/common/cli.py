"""Argument builders both command lines use, so that they spell the same thing the same way
(``--csv``, ``--target``, ``--time-column``, ``--freq``, ``--sep``, ``--prediction-length``,
``--num-samples``, ``--seed``, ``--device``, ``--out`` ...), and the one way they end on a
user error: a single line ``PROG: error: ...`` on stderr and exit status 2.

Kept free of torch imports: ``--help`` and input errors answer at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

from .datasets import MIRRORED_DATASETS
from .validation import DataError

# --------------------------------------------------------------------------- argument types


def _number(convert, accept, requirement: str, doc: str):
    """An argparse type: ``convert`` the text, then ``accept`` it, else a message naming the input."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            what = "an integer" if convert is int else "a number"
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{requirement}, got {value:g}")
        return value

    parse.__doc__ = doc
    return parse


positive_int = _number(int, lambda v: v >= 1, "must be >= 1", "An integer >= 1 (sizes, counts, horizons).")
nonnegative_int = _number(int, lambda v: v >= 0, "must be >= 0", "An integer >= 0 (e.g. layers to freeze).")
positive_float = _number(float, lambda v: v > 0, "must be > 0", "A number > 0 (minutes).")
# 0 trains nothing (a dry run of the training loop); a negative rate climbs the loss
learning_rate = _number(float, lambda v: v >= 0, "a learning rate must be >= 0", "A learning rate >= 0.")
quantile = _number(float, lambda v: 0.0 < v < 1.0, "quantiles lie strictly between 0 and 1", "A level in (0, 1).")


def separator(text: str) -> str:
    aliases = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = aliases.get(text, text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"a separator is one character (or tab, comma, semicolon, pipe), got {text!r}")
    return value


def device(text: str) -> str:
    if text in ("auto", "cpu", "cuda", "mps") or (text.startswith("cuda:") and text[5:].isdigit()):
        return text
    raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}")


# --------------------------------------------------------------------------- argument groups


def add_dataset_argument(parser, required: bool = False, default: Optional[str] = None, note: str = "") -> None:
    parser.add_argument(
        "--dataset",
        choices=MIRRORED_DATASETS,
        default=default,
        required=required,
        help="GluonTS repository dataset, materialized offline from the mirror"
        + (" (default: %(default)s)" if default else "")
        + note,
    )


def add_table_arguments(parser, target_help: str = "the column to forecast", several: bool = False) -> None:
    """``--csv`` and how to read it: the shared table reader's options. ``several``: ``--target``
    takes one or more columns (a wide table: each column its own series)."""
    parser.add_argument(
        "--csv",
        type=Path,
        default=None,
        help="a table (CSV, separator sniffed; or .parquet with pyarrow) with a timestamp column",
    )
    if several:
        parser.add_argument(
            "--target",
            nargs="+",
            default=None,
            metavar="COLUMN",
            help=f"with --csv: {target_help}; several columns: a wide table, each column an independent series",
        )
    else:
        parser.add_argument("--target", default=None, help=f"with --csv: {target_help}")
    parser.add_argument(
        "--time-column",
        default=None,
        help="with --csv: timestamp column (default: one named ds/date/datetime/timestamp/time, else the first column)",
    )
    parser.add_argument(
        "--freq",
        default=None,
        help="with --csv: pandas frequency alias such as h, D, W, MS, ME, B (default: inferred "
        "from the timestamps; missing steps become missing values)",
    )
    parser.add_argument(
        "--sep", type=separator, default=None, help="with --csv: column separator, e.g. ';' or tab (default: sniffed)"
    )
    parser.add_argument(
        "--item-column",
        default=None,
        metavar="COL",
        help="long form: the column naming each series (one row per series and time step); forecasts every series",
    )


def add_forecast_output(parser) -> None:
    """``--output FILE``: where a table's forecasts go, CSV or Parquet by the suffix."""
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --csv: the forecast table, .csv or .parquet (default: OUT/forecast.csv)",
    )


def add_window_arguments(parser) -> None:
    """``--windows`` and ``--distance`` of a rolling-origin backtest on a table."""
    parser.add_argument(
        "--windows",
        type=positive_int,
        default=None,
        help="with --csv: rolling-origin windows per series (default: 1, the last horizon)",
    )
    parser.add_argument(
        "--distance",
        type=positive_int,
        default=None,
        help="with --csv: steps between window origins (default: the horizon: side by side)",
    )


def read_table_args(args: argparse.Namespace):
    """The ``--csv`` table of many series (long with ``--item-column``, else wide: one series per
    ``--target`` column) as a :class:`~lagllama_gluonts.common.tables.SeriesTable`, checked
    before any model is loaded."""
    from .tables import read_series_table

    targets = args.target if isinstance(args.target, (list, tuple)) else ([args.target] if args.target else [])
    return read_series_table(
        args.csv, targets, item_column=args.item_column, time_column=args.time_column, freq=args.freq, sep=args.sep
    )


def check_table_source(args: argparse.Namespace, table_only: Sequence[str]) -> None:
    """One of ``--dataset`` and ``--csv``; the ``table_only`` options (argparse dests) only with
    ``--csv``, and a table needs ``--target`` and ``--prediction-length``. Both CLIs' message."""
    if args.dataset is not None and args.csv is not None:
        raise DataError("give one of --dataset NAME or --csv FILE, not both")
    if args.csv is None:
        for option in table_only:
            if getattr(args, option, None) is not None:
                raise DataError(f"--{option.replace('_', '-')} works on a table: it needs --csv FILE")
        return
    if args.target is None:
        raise DataError("--csv needs --target COLUMN (the column, or columns, to forecast)")
    if args.prediction_length is None:
        raise DataError("--csv needs --prediction-length H (steps to forecast)")


def forecast_output(args: argparse.Namespace, out: Path) -> Path:
    """``--output`` (checked: .csv or .parquet), else ``OUT/forecast.csv``."""
    path = getattr(args, "output", None) or out / "forecast.csv"
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise DataError(f"--output {str(path)!r}: name a .csv or .parquet file")
    if path.is_dir():
        raise DataError(f"--output {str(path)!r} is a folder; name the file to write")
    return path


def add_prediction_length(parser, default: Optional[int] = None, what: str = "the dataset's") -> None:
    parser.add_argument(
        "--prediction-length", type=positive_int, default=default, help=f"horizon in steps (default: {what})"
    )


def add_sampling_arguments(parser, batch_size_default: int = 16) -> None:
    parser.add_argument(
        "--num-samples", type=positive_int, default=100, help="sample paths per series (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=batch_size_default,
        help="series per prediction batch (default: %(default)s)",
    )


def add_run_arguments(parser, out_help: str, max_series: bool = True) -> None:
    """``--seed``, ``--device``, ``--max-series``, ``--out``: every command that forecasts has them."""
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--device",
        type=device,
        default="auto",
        help="where the model runs: auto (CUDA when available), cpu, cuda, cuda:N (default: %(default)s)",
    )
    if max_series:
        parser.add_argument(
            "--max-series", type=positive_int, default=None, help="evaluate only the first N test series"
        )
    parser.add_argument("--out", type=Path, default=None, help=out_help)


def add_training_budget(
    parser,
    epochs: int = 10,
    batches_per_epoch: int = 50,
    lr: Optional[float] = 1e-3,
    lr_help: str = "learning rate (default: %(default)s)",
) -> None:
    parser.add_argument("--epochs", type=positive_int, default=epochs, help="max epochs (default: %(default)s)")
    parser.add_argument(
        "--max-steps",
        type=positive_int,
        default=None,
        help="stop after this many optimizer steps, whatever --epochs says",
    )
    parser.add_argument(
        "--batches-per-epoch",
        type=positive_int,
        default=batches_per_epoch,
        help="training batches per epoch (default: %(default)s)",
    )
    parser.add_argument(
        "--train-batch-size", type=positive_int, default=32, help="windows per training batch (default: %(default)s)"
    )
    parser.add_argument("--lr", type=learning_rate, default=lr, help=lr_help)
    parser.add_argument("--max-minutes", type=positive_float, default=None, help="wall-clock budget for training")


# --------------------------------------------------------------------------- checks and running


def dataset_and_horizon(args: argparse.Namespace):
    """``--dataset``'s repository dataset (offline), its frequency, and the horizon:
    ``--prediction-length`` or the dataset's own."""
    from .datasets import get_dataset

    dataset = get_dataset(args.dataset)
    return dataset, dataset.metadata.freq, args.prediction_length or dataset.metadata.prediction_length


def check_out_dir(path: Optional[Path], is_file: bool = False) -> Optional[Path]:
    """``--out`` must be a folder we can create (or, ``is_file``, a file in one): not an
    existing file, not under one."""
    if path is None:
        return None
    if is_file and path.is_dir():
        raise DataError(f"--out {str(path)!r} is a folder; name the file to write")
    for parent in ([] if is_file else [path]) + list(path.parents):
        if parent.exists() and not parent.is_dir():
            where = "is" if parent == path else f"lies under {str(parent)!r}, which is"
            raise DataError(f"--out {str(path)!r} {where} a file, not a folder")
    return path


def quiet_libraries() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "gluonts", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)


def run_command(
    prog: str, commands: Dict[str, Callable], args: argparse.Namespace, user_errors: Sequence[type] = ()
) -> int:
    """Run ``commands[args.command]``; a user error is one line on stderr and exit status 2."""
    from .datasets import MirrorFileMissing

    errors = (DataError, MirrorFileMissing, *user_errors)
    try:
        check_out_dir(getattr(args, "out", None), is_file=getattr(args, "out_is_file", False))
        return commands[args.command](args)
    except errors as error:
        message = str(error).strip().splitlines()
        print(f"{prog}: error: {message[0] if message else type(error).__name__}", file=sys.stderr)
        for line in message[1:]:  # details (e.g. a checkpoint's differing shapes) go below the line
            print(f"  {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
