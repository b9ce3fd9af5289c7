"""``kitsync check``."""

from __future__ import annotations

import asyncio
import sys

import click

from kitsync.cli._common import EXIT_FAILED, settings_or_exit
from kitsync.cli._main import main


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Check that Kitsu, AYON, AYON's database and Redis are reachable and usable.

    Prints one line per dependency, and exits 1 if any check fails.

    \b
    Example:
      $ kitsync check
      ok    Kitsu          https://kitsu.example.com/api: logged in, 12 projects visible
      FAIL  AYON           https://ayon.example.com: the API key was refused (AYON_API_KEY)
    """
    from kitsync.check import run_checks

    settings = settings_or_exit(ctx)
    results = asyncio.run(run_checks(settings))
    width = max(len(result.name) for result in results)
    for result in results:
        verdict = click.style("ok  ", fg="green") if result.ok else click.style("FAIL", fg="red")
        click.echo(f"{verdict}  {result.name:<{width}}  {result.detail}")
    if not all(result.ok for result in results):
        sys.exit(EXIT_FAILED)
