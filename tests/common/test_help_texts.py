"""Every command's ``--help`` of both programs: no file a user of the installed package lacks is
cited, and the defaults it states are true."""

import re

import pytest

from informer_gluonts.cli import build_parser as informer_parser
from informer_gluonts.cli import main as informer_main
from lagllama_gluonts.checkpoint import read_checkpoint
from lagllama_gluonts.cli import build_parser as lagllama_parser
from lagllama_gluonts.cli import main as lagllama_main
from lagllama_gluonts.defaults import SMALL_ARCHITECTURE

# the repository's folders (and the data beside it): not in the wheel
NOT_SHIPPED = ("benchmarks/", "../shared", "shared/datasets", "shared README", "tests/", ".ci/")
PROGRAMS = {"lagllama-gluonts": (lagllama_main, lagllama_parser), "informer-gluonts": (informer_main, informer_parser)}


def every_help():
    for program, (main, build) in PROGRAMS.items():
        yield program, main, []
        for command in build(program).handlers:  # each command and each of its other names
            yield program, main, [command]


def render(main, command, capsys) -> str:
    assert main([*command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())  # one line: argparse wraps where it likes


@pytest.mark.parametrize("program,main,command", every_help(), ids=lambda v: v if isinstance(v, str) else None)
def test_no_help_cites_a_file_that_is_not_shipped(program, main, command, capsys):
    text = render(main, command, capsys)
    assert text.startswith("usage:")
    cited = [m.group(0) for m in re.finditer(r"\S*(" + "|".join(map(re.escape, NOT_SHIPPED)) + r")\S*", text)]
    assert cited == [], f"{program} {' '.join(command)} --help cites {cited}"


@pytest.mark.parametrize("command", ["pretrain", "backtest"])
def test_size_defaults_state_the_small_size_and_the_bundled_checkpoints_own(command, capsys):
    text = render(lagllama_main, [command], capsys)
    bundled = read_checkpoint(None).model_kwargs  # the weights themselves, not the JSON record
    for name, default in SMALL_ARCHITECTURE.items():
        flag = "--" + name.replace("_", "-")
        shown = re.search(r"(?<!\[)" + re.escape(flag) + r" \S+ (.*?)(?= --|$)", text).group(1)  # not the usage
        assert f"default: {default};" in shown and f"the bundled checkpoint has {bundled[name]}" in shown, shown
