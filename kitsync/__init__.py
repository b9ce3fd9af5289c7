"""kitsync: keeps AYON in step with Kitsu."""

__version__ = "0.1.0"
