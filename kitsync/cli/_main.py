"""The ``kitsync`` command group; the commands live in the modules beside it.

Each command's module is imported only when that command runs: they import Celery, FastAPI,
the HTTP clients and pydantic models, which would make ``kitsync --help`` or ``--version`` take
half a second. ``--help`` lists the commands from :data:`COMMANDS` without importing them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import click

from kitsync import __version__

if TYPE_CHECKING:
    from kitsync.logs import LogFormat

# name -> (module, the first paragraph of the command's help, which `kitsync --help` shortens);
# a test checks each against the command's own docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": (
        "kitsync.cli.check",
        "Check that Kitsu, AYON, AYON's database and Redis are reachable and usable.",
    ),
    "pair": ("kitsync.cli.sync", "Pair a Kitsu project with an AYON project, then sync it whole."),
    "sync": ("kitsync.cli.sync", "Reconcile a whole project: make its AYON project match Kitsu."),
    "status": (
        "kitsync.cli.ops",
        "Show queue depths, keys in flight, dead letters, poller lag, budgets, paired projects.",
    ),
    "dlq": (
        "kitsync.cli.ops",
        "Dead letters: keys whose reconcile failed for good, with the error.",
    ),
    "run": (
        "kitsync.cli.roles",
        "Everything in one process: receiver, poller, worker and beat, for a studio with one "
        "machine.",
    ),
    "worker": ("kitsync.cli.roles", "Run a Celery worker: reconciles keys taken from Redis."),
    "beat": (
        "kitsync.cli.roles",
        "Run the scheduler: the catch-up poller every KITSYNC_POLL_INTERVAL seconds and the "
        "recovery of lost tasks every minute. Run exactly one.",
    ),
    "receiver": (
        "kitsync.cli.roles",
        "Run the webhook receiver: takes events from the Zou plugin and queues them in Redis.",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are imported from :data:`COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            # Importing the module registers its commands on this group (``@main.command()``).
            importlib.import_module(COMMANDS[cmd_name][0])
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, summary) for name, (_, summary) in COMMANDS.items()]
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, _shorten(summary, limit)) for name, summary in sorted(rows)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _shorten(summary: str, limit: int) -> str:
    """As click shortens a command's help for a listing: the first sentence, cut to fit."""
    return click.Command("_", help=summary).get_short_help_str(limit)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kitsync")
@click.option(
    "--log-format",
    type=click.Choice(["plain", "json"]),
    default="plain",
    show_default=True,
    help="Log lines as plain text or one JSON object per line.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None,
    help="Overrides KITSYNC_LOG_LEVEL.",
)
@click.pass_context
def main(ctx: click.Context, log_format: LogFormat, log_level: str | None) -> None:
    """kitsync keeps AYON in step with Kitsu.

    Settings come from the environment or a .env file in the current folder
    (see .env.example and the README's configuration table).
    """
    ctx.ensure_object(dict)
    ctx.obj["log_format"] = log_format
    ctx.obj["log_level"] = log_level.upper() if log_level else None
