"""The command-line layer both models share: argument types and builders, so that both spell
the same thing the same way (``--csv``, ``--target``, ``--prediction-length``, ``--threads``,
``--nonnegative``, ``--out`` ...); one parser class; one user-error type, :class:`CLIError`,
reported as one line ``PROG: error: ...`` with exit status 2; one dispatch (a command's name,
or any of its aliases, to its function); and the program name as the user typed it
(``python -m lagllama_gluonts`` or ``lagllama-gluonts``).

The commands themselves live in :mod:`~lagllama_gluonts.common.commands`; this module is kept
free of torch imports: ``--help`` and input errors answer at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from .constants import QUANTILES
from .datasets import MIRROR_ENV_VAR, MIRRORED_DATASETS
from .errors import DataError, message_with_flags


class CLIError(DataError):
    """A problem with the user's input or options, reported as one line and exit status 2."""


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


# The forecast distributions' names on both command lines; the other spellings a user may know
# (the Python API's ``studentT``, GluonTS's class names) are accepted and mean the same.
DISTRIBUTIONS = ("student-t", "low-rank-normal")
_DISTRIBUTION_SPELLINGS = {
    "studentt": "student-t",
    "student_t": "student-t",
    "studenttoutput": "student-t",
    "lowranknormal": "low-rank-normal",
    "low_rank_normal": "low-rank-normal",
    "lowrankmultivariatenormal": "low-rank-normal",
    "lowrankmultivariatenormaloutput": "low-rank-normal",
}


def distribution(text: str) -> str:
    """argparse type of ``--distribution``: one of :data:`DISTRIBUTIONS`, any spelling."""
    if text in DISTRIBUTIONS:
        return text
    value = _DISTRIBUTION_SPELLINGS.get(text.lower().replace("-", "").replace(" ", ""))
    if value is None:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(DISTRIBUTIONS)}, got {text!r}")
    return value


# --------------------------------------------------------------------------- the parser and dispatch


def program_name(console_script: str, package: str) -> str:
    """How the user started the program: ``python -m PACKAGE`` or the console script's name."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)  # None for a console script
    return (
        f"python -m {package}" if spec is not None and spec.name in (package, f"{package}.__main__") else console_script
    )


class Parser(argparse.ArgumentParser):
    """A usage error is one line, ``PROG: error: COMMAND: ...`` with exit status 2, like every
    other user error (argparse's own prints the usage block first). ``handlers``: each command's
    name and alias to its function, filled by :func:`add_command`. Subparsers share the class."""

    root: Optional[str] = None  # the program name, on the subparsers too

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.handlers: Dict[str, Callable] = {}

    def error(self, message: str):
        root = self.root or self.prog
        command = self.prog[len(root) :].strip()
        self.exit(2, f"{root}: error: {command + ': ' if command else ''}{message}\n")


def command_parsers(parser: Parser):
    """The root parser's subcommand action (``dest="command"``), created once; the root help
    ends with where repository datasets come from (both programs read them the same way)."""
    parser.epilog = (parser.epilog + "\n" if parser.epilog else "") + DATASETS_HELP
    return parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def add_command(
    parser: Parser,
    commands,
    name: str,
    run: Callable,
    configure: Optional[Callable[[Parser], None]] = None,
    aliases: Sequence[str] = (),
    **kwargs,
) -> Parser:
    """A subcommand of ``parser`` that runs ``run(args)``, its options added by ``configure``.
    Each alias is a parser of its own with the same options, so that usage lines and errors
    name the command the user typed."""
    first = None
    for spelling in (name, *aliases):
        options = dict(kwargs, help=f"another name of {name}") if spelling != name and "help" in kwargs else kwargs
        sub = commands.add_parser(spelling, **options)
        sub.root = parser.prog
        sub.set_defaults(canonical_command=name)
        if configure is not None:
            configure(sub)
        parser.handlers[spelling] = run
        first = first or sub
    return first


# the data layer's parameters (a DataError's ``field``, quoted ``name=`` in its message) as flags
FLAGS = {
    "id_column": "--item-column",
    "item_column": "--item-column",
    "timestamp_column": "--time-column",
    "time_column": "--time-column",
    "freq": "--freq",
    "target": "--target",
    "sep": "--sep",
}


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
        message = message_with_flags(str(error), FLAGS).strip().splitlines()
        print(f"{prog}: error: {message[0] if message else type(error).__name__}", file=sys.stderr)
        for line in message[1:]:  # details (e.g. a checkpoint's differing shapes) go below the line
            print(f"  {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def main(build_parser: Callable[[str], Parser], prog: str, argv: Optional[List[str]], user_errors=()) -> int:
    """Both programs' entry point: parse (``--help`` and usage errors end here), quieten the
    libraries' warnings (the command line's choice, never the library's), then dispatch.
    ``user_errors``: more error types reported as one line, or a function returning them
    (imported only once the arguments are read: ``--help`` loads no model code)."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2, one line already printed)
        return done.code if isinstance(done.code, int) else 2
    quiet_libraries(everything=getattr(args, "quiet", False))
    user_errors = tuple(user_errors() if callable(user_errors) else user_errors)
    return run_command(prog, parser.handlers, args, user_errors=user_errors)


def say_wrote(*paths) -> None:
    """One line naming the files a command wrote (the reporting functions return them)."""
    names = [str(p) for p in paths]
    print("wrote " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]), flush=True)


def quiet_libraries(everything: bool = False) -> None:
    """Warning filters for a command-line run, installed by :func:`main` only: the libraries'
    deprecation and user warnings are noise to a command-line user; ``everything``
    (``--quiet``) silences every warning and Lightning's summaries."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "gluonts", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if everything:
        for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore")


def default_out(args: argparse.Namespace, model: str, name: str) -> Path:
    """``--out``, else ``out/MODEL/COMMAND/NAME`` (the command as typed, e.g. ``zero-shot``)."""
    return args.out or Path("out") / model / args.command / name


# --------------------------------------------------------------------------- argument groups


# where --dataset's repository datasets come from, in the root help (command_parsers)
DATASETS_HELP = (
    f"repository datasets (--dataset): from --mirror DIR or ${MIRROR_ENV_VAR} when given (the source\n"
    "files laid out DIR/HOST/PATH, no network), else GluonTS's cache (~/.gluonts/datasets) and download\n"
)


def add_mirror_argument(parser, note: str = "") -> None:
    """``--mirror DIR``: the repository datasets' source files, used instead of downloading them."""
    parser.add_argument(
        "--mirror",
        type=Path,
        default=None,
        metavar="DIR",
        help="a local mirror of the repository datasets' source files, laid out DIR/HOST/PATH, used instead of "
        f"the network (default: ${MIRROR_ENV_VAR}; without either, GluonTS's cache ~/.gluonts/datasets and, "
        "online, its download)" + note,
    )


def add_dataset_argument(parser, required: bool = False, default: Optional[str] = None, note: str = "") -> None:
    """``--dataset NAME`` and ``--mirror DIR``, where it may come from."""
    parser.add_argument(
        "--dataset",
        choices=MIRRORED_DATASETS,
        default=default,
        required=required,
        help="GluonTS repository dataset, from GluonTS's cache, --mirror or its download"
        + (" (default: %(default)s)" if default else "")
        + note,
    )
    add_mirror_argument(parser)


def add_table_arguments(parser, target_help: str = "the column to forecast", several: bool = True) -> None:
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
    add_timestamp_arguments(parser)


def add_timestamp_arguments(parser) -> None:
    """How ``--csv``'s timestamps and numbers are read: day/month order, time zones, a grid
    for irregular readings, the decimal mark (:mod:`~lagllama_gluonts.common.timestamps`)."""
    parser.add_argument(
        "--date-format",
        default=None,
        metavar="FORMAT",
        help="with --csv: strptime format of the timestamps, e.g. '%%d/%%m/%%Y' (needed when day/month "
        "order cannot be told from the dates)",
    )
    parser.add_argument(
        "--timezone",
        choices=("utc", "local"),
        default="utc",
        help="with --csv: timestamps with a UTC offset are read in UTC (default: a daylight-saving change keeps "
        "a regular grid) or at their local wall time (daily or longer steps at local midnight)",
    )
    parser.add_argument(
        "--resample",
        default=None,
        metavar="FREQ",
        help="with --csv: put readings at irregular times on this grid (a pandas alias such as 5min, h), "
        "averaging each series' values within a step (mean); steps without a reading are missing",
    )
    parser.add_argument(
        "--decimal", default=None, metavar="MARK", help="with --csv: the decimal mark, e.g. ',' for 1,5 (default: .)"
    )


def add_spelling(parser, flag: str, dest: str, type: Callable) -> None:
    """Another spelling of an option (``--n-head`` of ``--n-heads``): the same destination, left
    out of ``--help``; an error names the spelling the user typed."""
    parser.add_argument(flag, dest=dest, type=type, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def add_covariate_arguments(parser, in_context: bool = False) -> None:
    """``--covariates`` (past-only: only their history is read) and ``--known-covariates``
    (known over the horizon too: the rows after each series' last target value); with
    ``in_context`` (a model whose checkpoint may take known covariates itself, zero-shot)
    ``--in-context-covariates`` too."""
    parser.add_argument(
        "--covariates",
        "--past-covariates",
        dest="covariates",
        nargs="+",
        default=None,
        metavar="COL",
        help="with --csv: columns fed as past-only covariates (past_feat_dynamic_real; their future "
        "is unknown, only their history is used)",
    )
    parser.add_argument(
        "--known-covariates",
        nargs="+",
        default=None,
        metavar="COL",
        help="with --csv: columns known over the horizon too (feat_dynamic_real: calendars, planned prices); "
        "forecasting reads their values from the --prediction-length rows after the last target value "
        "(target left empty)",
    )
    if in_context:
        parser.add_argument(
            "--in-context-covariates",
            action="store_true",
            help="zero-shot: use the covariates by in-context regression even where the checkpoint's pretrained "
            "covariate pathway would take the known ones (it recovers a strong linear effect the history does "
            "not show better; backtest both)",
        )


def add_forecast_output(parser) -> None:
    """``--output FILE``: where a table's forecasts go, CSV or Parquet by the suffix;
    ``--quantiles``: which quantile columns it has; and ``--calibrate-windows`` (every command
    that forecasts past a table's end has it)."""
    add_calibration_argument(parser)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --csv: the forecast table, .csv or .parquet (default: OUT/forecast.csv)",
    )
    parser.add_argument(
        "--quantiles",
        type=quantile,
        nargs="+",
        default=list(QUANTILES),
        help="quantile columns to write (default: 0.1 ... 0.9)",
    )


def add_window_arguments(parser) -> None:
    """``--windows`` and ``--distance`` of a rolling-origin backtest on a table, and
    ``--calibrate-windows`` (every backtest command has it)."""
    add_calibration_argument(parser)
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


def add_calibration_argument(parser) -> None:
    """``--calibrate-windows N``: conformal calibration of the intervals (``common.calibration``)."""
    parser.add_argument(
        "--calibrate-windows",
        type=positive_int,
        default=None,
        metavar="N",
        help="calibrate the forecast's intervals on its errors in the N rolling windows before each forecast "
        "origin (split-conformal, per horizon step; pooled across series unless one has 20 windows); "
        "backtests score the calibrated model beside the raw one",
    )


def add_prediction_length(parser, default: Optional[int] = None, what: str = "the dataset's") -> None:
    parser.add_argument(
        "--prediction-length", type=positive_int, default=default, help=f"horizon in steps (default: {what})"
    )


def add_sampling_arguments(parser, batch_size_default: int = 16) -> None:
    """``--num-samples``, ``--batch-size`` and ``--nonnegative``: how forecasts are drawn."""
    parser.add_argument(
        "--num-samples", type=positive_int, default=100, help="sample paths per series (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=batch_size_default,
        help="series per prediction batch (default: %(default)s)",
    )
    parser.add_argument(
        "--nonnegative",
        action="store_true",
        help="sample paths clipped at 0, for counts, amounts and percentages (the estimators' "
        "nonnegative_pred_samples): no negative quantile",
    )


def add_run_arguments(parser, out_help: str, max_series: bool = True) -> None:
    """``--seed``, ``--device``, ``--threads``, ``--max-series``, ``--out``: every command that
    forecasts has them."""
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--device",
        type=device,
        default="auto",
        help="where the model runs: auto (CUDA when available), cpu, cuda, cuda:N (default: %(default)s)",
    )
    add_threads(parser)
    if max_series:
        parser.add_argument(
            "--max-series", type=positive_int, default=None, help="evaluate only the first N test series"
        )
    parser.add_argument("--out", type=Path, default=None, help=out_help)


def add_threads(parser) -> None:
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch CPU threads (default: torch's choice; on a small busy machine 1 is often fastest)",
    )


def add_training_budget(
    parser,
    epochs: int,
    batches_per_epoch: Optional[int],
    lr: Optional[float],
    batch_size: int,
    lr_help: str = "learning rate (default: %(default)s)",
    batches_help: str = "training batches per epoch (default: %(default)s)",
) -> None:
    """The training budget's options; the defaults are each model's (its ``defaults`` module)."""
    parser.add_argument("--epochs", type=positive_int, default=epochs, help="max epochs (default: %(default)s)")
    parser.add_argument(
        "--max-steps",
        type=positive_int,
        default=None,
        help="stop after this many optimizer steps, whatever --epochs says",
    )
    parser.add_argument("--batches-per-epoch", type=positive_int, default=batches_per_epoch, help=batches_help)
    parser.add_argument(
        "--train-batch-size",
        type=positive_int,
        default=batch_size,
        help="windows per training batch (default: %(default)s)",
    )
    parser.add_argument("--lr", type=learning_rate, default=lr, help=lr_help)
    parser.add_argument("--max-minutes", type=positive_float, default=None, help="wall-clock budget for training")


def add_patience(parser, default: Optional[int], validation: str) -> None:
    """``--patience``: early stopping on a validation loss, on every command that trains."""
    parser.add_argument(
        "--patience",
        type=positive_int,
        default=default,
        help=f"early stopping: stop after this many epochs without a lower validation loss ({validation}) "
        + ("(default: %(default)s)" if default else "(default: no early stopping)"),
    )


# --------------------------------------------------------------------------- checks


def table_targets(args: argparse.Namespace) -> List[str]:
    """``--target``'s columns as a list (once each)."""
    target = args.target
    return list(dict.fromkeys(target if isinstance(target, (list, tuple)) else ([target] if target else [])))


def read_table_args(args: argparse.Namespace, covariates: Sequence[str] = (), min_observed: int = 0):
    """The ``--csv`` table of many series (long with ``--item-column``, else wide: one series per
    ``--target`` column) as a :class:`~lagllama_gluonts.common.tables.SeriesTable`, with the
    ``covariates`` columns when given, checked before any model is loaded (``min_observed``:
    refused at once when no series has that many values). Prints the steps filled as missing."""
    from .tables import read_series_table

    table = read_series_table(
        args.csv,
        table_targets(args),
        item_column=args.item_column,
        time_column=args.time_column,
        freq=args.freq,
        sep=args.sep,
        covariates=list(covariates),
        date_format=getattr(args, "date_format", None),
        timezone=getattr(args, "timezone", "utc"),
        resample=getattr(args, "resample", None),
        decimal=getattr(args, "decimal", None),
        min_observed=min_observed,
    )
    say_filled(table.series)
    return table


def say_filled(series) -> None:
    """The count of grid steps without a row (filled as missing), and the series mostly missing."""
    filled = series.filled
    if filled is None or not filled.any():
        return
    lengths = series.lengths()
    print(f"filled {int(filled.sum())} of {int(lengths.sum())} steps as missing (no row on the {series.freq!r} grid)")
    mostly = (filled > lengths / 2).nonzero()[0]  # numpy arrays, without importing numpy here
    if len(mostly):
        names = ", ".join(repr(series.name(int(k))) for k in mostly[:3]) + (" ..." if len(mostly) > 3 else "")
        print(f"warning: {len(mostly)} series mostly missing ({names}); irregular readings: try --resample FREQ")


def check_table_source(args: argparse.Namespace, table_only: Sequence[str], needs_target: bool = True) -> None:
    """One of ``--dataset`` and ``--csv``; the ``table_only`` options (argparse dests) only with
    ``--csv``, and a table needs ``--target`` (unless ``needs_target`` is false: a model that
    then forecasts every numeric column) and ``--prediction-length``."""
    if args.dataset is not None and args.csv is not None:
        raise CLIError("give one of --dataset NAME or --csv FILE, not both")
    if args.csv is None:
        for option in table_only:
            if getattr(args, option, None) is not None:
                raise CLIError(f"--{option.replace('_', '-')} works on a table: it needs --csv FILE")
        return
    if args.target is None and needs_target:
        raise CLIError("--csv needs --target COLUMN (the column, or columns, to forecast)")
    if args.prediction_length is None:
        raise CLIError("--csv needs --prediction-length H (steps to forecast)")


def forecast_output(args: argparse.Namespace, out: Path) -> Path:
    """``--output`` (checked: .csv or .parquet), else ``OUT/forecast.csv``."""
    path = getattr(args, "output", None) or out / "forecast.csv"
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise CLIError(f"--output {str(path)!r}: name a .csv or .parquet file")
    if path.is_dir():
        raise CLIError(f"--output {str(path)!r} is a folder; name the file to write")
    if getattr(args, "output", None):  # OUT/forecast.csv lies in --out, checked before every command
        check_writable_place(path, "--output")
    return path


def dataset_and_horizon(args: argparse.Namespace):
    """``--dataset``'s repository dataset (``--mirror``, else ``$LAGLLAMA_GLUONTS_MIRROR``, else
    GluonTS's cache and download), its frequency, and the horizon: ``--prediction-length`` or
    the dataset's own."""
    from . import datasets

    dataset = datasets.get_dataset(args.dataset, mirror=getattr(args, "mirror", None))
    return dataset, dataset.metadata.freq, args.prediction_length or dataset.metadata.prediction_length


def check_out_dir(path: Optional[Path], is_file: bool = False) -> Optional[Path]:
    """``--out`` must be a folder we can create (or, ``is_file``, a file in one): not an
    existing file, not under one."""
    if path is None:
        return None
    if is_file and path.is_dir():
        raise CLIError(f"--out {str(path)!r} is a folder; name the file to write")
    for parent in ([] if is_file else [path]) + list(path.parents):
        if parent.exists() and not parent.is_dir():
            where = "is" if parent == path else f"lies under {str(parent)!r}, which is"
            raise CLIError(f"--out {str(path)!r} {where} a file, not a folder")
    check_writable_place(path, "--out", into=not is_file)
    return path


def check_writable_place(path: Path, flag: str, into: bool = False) -> None:
    """The one check of where a command will write, before any work: ``path`` (a file or a
    folder, existing or not; ``into``: a folder written into, else one file or folder written
    beside itself and renamed in) lies under no regular file, and the nearest folder that
    exists where the writes go can be written to: tried with a file that vanishes when closed,
    as the permission bits do not tell (root ignores them, a read-only mount does not)."""
    shown = repr(str(path))
    start = path if into else path.parent
    folder = next(parent for parent in [start, *start.parents] if parent.exists() or parent == parent.parent)
    if not folder.is_dir():
        raise CLIError(f"{flag} {shown} lies under {str(folder)!r}, which is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CLIError(f"{flag} {shown}: {str(folder)!r} is not writable")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CLIError(f"{flag} {shown}: {str(folder)!r} is not writable ({error.strerror or error})") from None


def check_save_path(path: Optional[Path], folder: bool, marker: Optional[str] = None, flag: str = "--save") -> None:
    """Where a trained model will be written, checked before any training (a bad path must not
    cost a training run): a ``folder`` that is not an existing file and, when it exists and is
    not empty, holds ``marker`` (a model saved before, replaced); or a file that is not an
    existing folder. Either way not under a file, and its nearest existing folder writable."""
    if path is None:
        return
    shown = repr(str(path))
    if folder and path.is_file():
        raise CLIError(f"{flag} {shown} is a file; name a folder to write the model into")
    if not folder and path.is_dir():
        raise CLIError(f"{flag} {shown} is a folder; name the file to write")
    if folder and path.is_dir() and any(path.iterdir()) and not (marker and (path / marker).is_file()):
        raise CLIError(f"{flag} {shown} is a folder with other files in it; name a new or empty folder")
    # the file or folder is written beside itself and renamed in (atomic.py): its folder must be writable
    check_writable_place(path, flag)
