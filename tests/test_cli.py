"""Every command and subcommand answers --help."""

import argparse
import subprocess
import sys

import pytest

from sallyport.cli import build_parser


def all_commands(parser: argparse.ArgumentParser,
                 prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += all_commands(sub, (*prefix, name))
    return found


COMMANDS = all_commands(build_parser())


def test_the_expected_commands_exist() -> None:
    for command in [("hw", "list"), ("hw", "watch"), ("sim", "up"), ("sim", "plug"),
                    ("sim", "unplug"), ("sim", "status"), ("sim", "run"), ("sim", "fault"),
                    ("demo",)]:
        assert command in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "sallyport")
def test_help(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: sallyport")
    assert len(out.splitlines()) > 2


def test_console_script_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "sallyport", "--help"], capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0 and "sim" in result.stdout


def test_config_errors_are_one_line(tmp_path: object) -> None:
    result = subprocess.run([sys.executable, "-m", "sallyport", "hw", "list"],
                            capture_output=True, text=True, timeout=30, check=False,
                            env={"SALLYPORT_HW_POLL_INTERVALL": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr.startswith("sallyport: environment: unknown setting")
