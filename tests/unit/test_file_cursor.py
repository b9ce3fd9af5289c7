"""The poller's cursor in a file (single-process mode): kept across restarts, and an unreadable
one said out loud."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import pytest

from kitsync.worker.cursor import FileCursor


async def test_the_cursor_is_kept_in_its_file(tmp_path: Path) -> None:
    cursor = FileCursor(tmp_path / "poll-cursor")
    assert await cursor.get() is None
    await cursor.set(datetime(2026, 12, 6, 1, 2, 3))
    assert await FileCursor(tmp_path / "poll-cursor").get() == datetime(2026, 12, 6, 1, 2, 3)
    assert [path.name for path in tmp_path.iterdir()] == ["poll-cursor"]


async def test_an_unreadable_cursor_restarts_the_poller_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "poll-cursor").write_text("\x00\x00garbage")
    with caplog.at_level(logging.ERROR):
        assert await FileCursor(tmp_path / "poll-cursor").get() is None
    assert "not a time" in caplog.text and "full reconcile" in caplog.text
