"""The ``kitsync`` command line: ``main`` is the console script's entry point."""

from kitsync.cli._main import main

__all__ = ["main"]
