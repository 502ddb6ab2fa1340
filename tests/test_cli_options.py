"""An option that several commands have means the same on each: same help, default, type, metavar (cli/options.py).

The commands' click parameters are walked, so a command that declares a shared option by hand again, with its
own wording or default, fails here. The few real differences are listed below with their reason; they are the
parameters of the bundles in ``jaccli.cli.options``.
"""
from __future__ import annotations

import re
from collections import defaultdict

import click
import pytest

from jaccli.checks.tolerances import DEFAULT_TOLERANCES
from jaccli.cli import cli
from jaccli.io.formats import HEADER_STYLES, INPUT_FORMATS, OUTPUT_EXTENSIONS, OUTPUT_FORMATS, PARAM_EXTENSIONS, SEVERAL_FORMATS
from jaccli.plan import reduce, reduced_store
from jaccli.plan.reduce_kinds import REDUCE_KINDS

# option -> the attributes that may differ between commands, and why
DELIBERATE = {
    "--order": ({"name", "type", "default", "help", "callback"},
                "batch-jacobian takes several orders (0,1,2 or 0-2), symbolic one"),
    "--rtol": ({"help"}, "batch-jacobian's tolerances serve --expect only, not --verify"),
    "--atol": ({"help"}, "batch-jacobian's tolerances serve --expect only, not --verify"),
    "--columns": ({"help", "metavar"}, "batch-jacobian picks CSV columns; symbolic names them instead of an INPUT"),
}


def _traits(option: click.Option) -> dict[str, object]:
    return {"opts": (tuple(option.opts), tuple(option.secondary_opts)), "name": option.name, "help": option.help,
            "default": option.default, "show_default": option.show_default, "type": repr(option.type),
            "metavar": option.metavar, "multiple": option.multiple, "is_flag": option.is_flag,
            "required": option.required, "callback": option.callback is not None}


def _shared() -> dict[str, dict[str, click.Option]]:
    """Long option name -> {command name: its option}, for the options on two or more commands."""
    found: dict[str, dict[str, click.Option]] = defaultdict(dict)
    for name, command in cli.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                long_name = max(param.opts, key=len)
                found[long_name][name] = param
    return {long_name: on for long_name, on in found.items() if len(on) > 1}


SHARED = _shared()


def test_the_shared_options_are_the_ones_expected():
    # A new shared option is welcome: declare it once in cli/options.py and add it here.
    assert sorted(SHARED) == ["--atol", "--columns", "--define", "--input-format", "--order", "--param", "--rtol",
                              "--wrt"]


@pytest.mark.parametrize("option", sorted(SHARED))
def test_a_shared_option_is_the_same_on_every_command(option):
    may_differ, _ = DELIBERATE.get(option, (set(), ""))
    commands = sorted(SHARED[option])
    first = _traits(SHARED[option][commands[0]])
    for command in commands[1:]:
        other = _traits(SHARED[option][command])
        differ = {key for key in first if first[key] != other[key]}
        assert differ <= may_differ, f"{option} on {commands[0]} and {command} differs in {sorted(differ)}"


@pytest.mark.parametrize("option", sorted(DELIBERATE))
def test_a_deliberate_difference_is_real(option):
    # Once the two declarations agree, the entry above is stale: drop it so that drift is caught again.
    may_differ, _ = DELIBERATE[option]
    first, *others = (_traits(o) for o in SHARED[option].values())
    assert all({key for key in first if first[key] != other[key]} for other in others)
    assert all({key for key in first if first[key] != other[key]} <= may_differ for other in others)


@pytest.mark.parametrize("option, column", [("--rtol", 0), ("--atol", 1)])
def test_tolerance_help_shows_the_defaults_compare_uses(option, column):
    for command, declared in SHARED[option].items():
        shown = dict(re.findall(r"(float\d+): ([0-9.e+-]+)", declared.help or ""))
        assert {dtype: float(v) for dtype, v in shown.items()} == \
            {dtype: pair[column] for dtype, pair in DEFAULT_TOLERANCES.items()}, command


def test_format_choices_come_from_the_one_list():
    def choices(command: str, long_name: str) -> list[str]:
        option = next(p for p in cli.commands[command].params if long_name in p.opts)
        assert isinstance(option.type, click.Choice)
        return list(option.type.choices)

    for command in SHARED["--input-format"]:
        assert choices(command, "--input-format") == list(INPUT_FORMATS)
    assert choices("batch-jacobian", "--format") == list(OUTPUT_FORMATS)
    assert choices("compare", "--format-a") == choices("compare", "--format-b") == ["auto", *OUTPUT_FORMATS]
    assert choices("batch-jacobian", "--reduce") == list(REDUCE_KINDS)
    assert choices("batch-jacobian", "--header") == list(HEADER_STYLES)
    assert reduce.REDUCE_KINDS is reduced_store.REDUCE_KINDS is REDUCE_KINDS  # planning, and the plan cache's check


def _help(command: str, long_name: str) -> str:
    return next(p for p in cli.commands[command].params if long_name in p.opts).help or ""


def test_format_lists_in_the_help_come_from_the_one_list():
    """The lists the help spells out in prose: the -o extensions, the -P formats, the formats of several orders,
    the --reduce kinds (each in the order of its one definition)."""
    assert "(.json .csv .npy .npz .txt)" in _help("batch-jacobian", "--format")
    assert " ".join(OUTPUT_EXTENSIONS) == ".json .csv .npy .npz .txt"
    for command in SHARED["--param"]:
        assert f"({'/'.join(PARAM_EXTENSIONS)}," in _help(command, "--param")
    assert "(.npy/.json/.csv/.tsv," in _help("batch-jacobian", "--param")  # tsv: -P reads it too
    assert "-f text/json/npz)" in _help("batch-jacobian", "--order") and SEVERAL_FORMATS == ("text", "json", "npz")
    assert re.findall(r"(\w+)(?: \(.*?\))?(?:, |\.)", _help("batch-jacobian", "--reduce").split(": ")[1]) == \
        list(REDUCE_KINDS)


def _number_options() -> list[tuple[str, str]]:
    """(command, long option name) for every option that takes a number (click's int or float types)."""
    return [(name, max(param.opts, key=len)) for name, command in sorted(cli.commands.items())
            for param in command.params if isinstance(param, click.Option)
            and isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType))]


def test_every_number_option_is_checked_below():
    assert _number_options() == [
        ("batch-jacobian", "--parallel-iterations"), ("batch-jacobian", "--threads"),
        ("batch-jacobian", "--precision"), ("batch-jacobian", "--rtol"), ("batch-jacobian", "--atol"),
        ("batch-jacobian", "--verify-rows"), ("compare", "--rtol"), ("compare", "--atol"), ("symbolic", "--order"),
        ("symbolic", "--max-lines")]


@pytest.mark.parametrize("command, option", _number_options())
def test_number_options_take_ascii_digits_only(command, option):
    """``int('١')`` is 1 and ``float('1_0')`` 10.0; jaccli reads ASCII digits only (textkit), in click's words."""
    param = next(p for p in cli.commands[command].params if option in p.opts)
    kind = "integer range" if isinstance(param.type, click.types.IntParamType) else "float"
    for text in ("١", "2٣", "1_0", "abc", "0x1"):
        with pytest.raises(click.BadParameter, match=re.escape(f"{text!r} is not a valid {kind}.")):
            param.type.convert(text, param, None)
    assert param.type.convert(" 3 ", param, None) == 3 and param.type.convert(3, param, None) == 3
