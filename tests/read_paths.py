"""The two ways kitsync reads AYON, for tests that run once each way: ``"sql"`` (AYON's
database, ``AYON_DB_DSN``) and ``"api"`` (GraphQL and REST with the service user's key).

The ``read_path`` fixture (``tests/conftest.py``) sets the path of its test; beds and process
environments built during the test follow :func:`current_read_path`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

ReadPath = Literal["sql", "api"]
READ_PATHS: tuple[ReadPath, ...] = ("sql", "api")
_current: list[ReadPath] = ["sql"]


@contextmanager
def reading_through(path: ReadPath) -> Iterator[None]:
    _current.append(path)
    try:
        yield
    finally:
        _current.pop()


def current_read_path() -> ReadPath:
    return _current[-1]
