"""The shared command-line pieces: both CLIs spell the same options the same way, and a
user error is one line and exit status 2."""

import argparse

import pytest

from informer_gluonts.cli import build_parser as informer_parser
from lagllama_gluonts.cli import build_parser as lagllama_parser
from lagllama_gluonts.common import cli
from lagllama_gluonts.common.validation import DataError


def options(parser: argparse.ArgumentParser, command: str) -> set:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return {flag for action in sub._actions for flag in action.option_strings}


SHARED_DATA = {
    "--csv",
    "--target",
    "--time-column",
    "--freq",
    "--sep",
    "--item-column",
    "--prediction-length",
    "--covariates",
    "--known-covariates",
    "--dataset",
}
SHARED_RUN = {"--num-samples", "--batch-size", "--nonnegative", "--seed", "--device", "--threads", "--out", "--quiet"}


def test_both_clis_spell_the_table_and_run_options_the_same():
    lagllama = options(lagllama_parser(), "zero-shot")
    informer = options(informer_parser(), "forecast")
    assert SHARED_DATA | SHARED_RUN | {"--output", "--quantiles"} <= lagllama
    assert SHARED_DATA | SHARED_RUN | {"--output", "--quantiles"} <= informer
    assert options(lagllama_parser(), "forecast") == lagllama  # zero-shot is forecast's other name


def test_both_spellings_of_the_head_count_and_the_distribution():
    assert lagllama_parser().parse_args(["backtest", "--n-heads", "8"]).n_head == 8
    assert informer_parser().parse_args(["backtest", "--n-head", "2"]).n_heads == 2
    for spelling in ("student-t", "studentT", "StudentTOutput"):
        assert informer_parser().parse_args(["forecast", "--distribution", spelling]).distribution == "student-t"


def test_usage_lines_name_the_program_as_it_was_started(monkeypatch):
    import sys
    import types

    assert cli.program_name("lagllama-gluonts", "lagllama_gluonts") == "lagllama-gluonts"  # under pytest
    module = types.ModuleType("__main__")
    module.__spec__ = types.SimpleNamespace(name="lagllama_gluonts.__main__")
    monkeypatch.setitem(sys.modules, "__main__", module)
    assert cli.program_name("lagllama-gluonts", "lagllama_gluonts") == "python -m lagllama_gluonts"
    assert lagllama_parser("python -m lagllama_gluonts").format_usage().startswith("usage: python -m lagllama_gluonts")


def test_both_backtests_and_training_commands_share_their_options():
    lagllama_bt, informer_bt = options(lagllama_parser(), "backtest"), options(informer_parser(), "backtest")
    common = {
        "--dataset",
        "--prediction-length",
        "--max-series",
        "--baseline",
        *SHARED_RUN,
        "--epochs",
        "--max-steps",
        "--batches-per-epoch",
        "--train-batch-size",
        "--lr",
        "--max-minutes",
        "--patience",
        "--windows",
        "--distance",
    }
    assert common <= lagllama_bt and common <= informer_bt
    training = {"--epochs", "--max-steps", "--lr", "--max-minutes", "--train-batch-size", "--patience"}
    assert training <= options(lagllama_parser(), "finetune")


@pytest.mark.parametrize(
    "kind, text, ok",
    [
        (cli.positive_int, "3", 3),
        (cli.positive_int, "0", None),
        (cli.positive_int, "x", None),
        (cli.nonnegative_int, "0", 0),
        (cli.nonnegative_int, "-1", None),
        (cli.learning_rate, "1e-5", 1e-5),
        (cli.learning_rate, "0", 0.0),
        (cli.learning_rate, "-1e-3", None),
        (cli.positive_float, "2.5", 2.5),
        (cli.positive_float, "0", None),
        (cli.quantile, "0.1", 0.1),
        (cli.quantile, "1", None),
        (cli.separator, "tab", "\t"),
        (cli.separator, ";", ";"),
        (cli.separator, ";;", None),
        (cli.device, "cuda:1", "cuda:1"),
        (cli.device, "gpu", None),
    ],
)
def test_argument_types(kind, text, ok):
    if ok is None:
        with pytest.raises(argparse.ArgumentTypeError):
            kind(text)
    else:
        assert kind(text) == ok


def test_out_must_not_be_or_lie_under_a_file(tmp_path):
    file = tmp_path / "a.txt"
    file.write_text("x")
    with pytest.raises(DataError, match="is a file"):
        cli.check_out_dir(file)
    with pytest.raises(DataError, match="lies under"):
        cli.check_out_dir(file / "sub")
    assert cli.check_out_dir(tmp_path / "new" / "dir") == tmp_path / "new" / "dir"
    assert cli.check_out_dir(file, is_file=True) == file  # a checkpoint to overwrite
    with pytest.raises(DataError, match="is a folder"):
        cli.check_out_dir(tmp_path, is_file=True)


def test_run_command_turns_user_errors_into_one_line_and_exit_2(capsys, tmp_path):
    def failing(args):
        raise DataError("series 3 (item_id='a'): 'target' is empty")

    args = argparse.Namespace(command="go", out=None)
    assert cli.run_command("prog", {"go": failing}, args) == 2
    assert capsys.readouterr().err == "prog: error: series 3 (item_id='a'): 'target' is empty\n"

    args = argparse.Namespace(command="go", out=tmp_path)
    assert cli.run_command("prog", {"go": lambda a: 0}, args) == 0


def test_run_command_lets_programming_errors_through():
    def broken(args):
        raise KeyError("a bug, not the user's input")

    with pytest.raises(KeyError):
        cli.run_command("prog", {"go": broken}, argparse.Namespace(command="go"))
