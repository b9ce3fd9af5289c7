"""`python -m kitsync`: the kitsync command."""

from kitsync.cli import main

main()
