"""The command line starts without the heavy libraries; its lazy command table stays true."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from kitsync.cli import main
from kitsync.cli._main import COMMANDS

HEAVY = ("celery", "kombu", "fastapi", "uvicorn", "httpx", "asyncpg", "redis", "pydantic")


def _loaded_by(module: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` importing ``module`` loads, in a fresh interpreter."""
    probe = f"import sys, {module}\nprint(' '.join(n for n in {names!r} if n in sys.modules))"
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()


def test_importing_the_command_line_imports_no_heavy_library() -> None:
    assert _loaded_by("kitsync.cli", HEAVY) == []


def test_status_needs_no_gateway_client_or_model() -> None:
    # `kitsync status` reads Redis; AYON only for the paired projects, imported then.
    gateways = ("celery", "httpx", "asyncpg", "kitsync.schemas", "kitsync.ayon", "kitsync.kitsu")
    assert _loaded_by("kitsync.cli.ops", gateways) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_summary_is_the_commands_own(name: str) -> None:
    command = main.get_command(click.Context(main), name)
    assert command is not None
    assert command.help is not None
    assert " ".join(command.help.split("\n\n")[0].split()) == COMMANDS[name][1]


def test_every_command_is_listed() -> None:
    context = click.Context(main)
    for name in COMMANDS:
        main.get_command(context, name)  # registers the commands of its module
    assert set(main.commands) == set(COMMANDS)
