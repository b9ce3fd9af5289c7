"""What the AYON -> Kitsu direction remembers per task key: the values both servers last agreed
on (the base of the conflict rule) and when and by whom AYON last changed the task; plus how
the last drain of AYON's events went (for ``kitsync status`` and the lag metric).

In Redis with a key queue on Redis, shared by every worker; in a SQLite file under
``KITSYNC_STATE_DIR`` in the single-process mode.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import redis.asyncio as aioredis

from kitsync.redis_keys import RedisKeys

# A base unused for this long is dropped: the task has not changed on either side since.
STATE_TTL = 90 * 24 * 3600


@dataclass(frozen=True, slots=True)
class TaskState:
    status: str | None = None  # Kitsu status id both sides last agreed on
    assignees: tuple[str, ...] | None = None  # Kitsu person ids, sorted
    ayon_changed_at: datetime | None = None  # the newest AYON event read for the task
    ayon_user: str | None = None  # who made that change in AYON


@dataclass(frozen=True, slots=True)
class DrainRecord:
    at: datetime
    jobs: int
    # Now minus the time of the oldest AYON event still waiting; 0 when the queue was emptied.
    lag_seconds: float


@dataclass(frozen=True, slots=True)
class Agreed:
    """Values both sides have now (None: that field is not recorded)."""

    status: str | None = None
    assignees: tuple[str, ...] | None = None


class SyncState(Protocol):
    async def get(self, key: str) -> TaskState: ...

    async def agree(self, values: Mapping[str, Agreed]) -> None:
        """Record, per task key, the values both sides now have (the bases)."""

    async def ayon_changed(self, key: str, at: datetime, user: str | None) -> None:
        """An AYON change of the task at ``at`` (kept if newer than the one known)."""

    async def drained(self, record: DrainRecord) -> None: ...

    async def last_drain(self) -> DrainRecord | None: ...


def describe_direction(fields: frozenset[str], record: DrainRecord | None, now: datetime) -> str:
    """One line for ``kitsync check`` / ``status``: on or off, and how far behind."""
    if not fields:
        return "off (KITSYNC_AYON_TO_KITSU is empty)"
    on = f"on for {', '.join(sorted(fields))}"
    if record is None:
        return f"{on}; no drain of AYON's events recorded yet"
    age = (now - record.at).total_seconds()
    behind = "caught up" if record.lag_seconds == 0 else f"{record.lag_seconds:.0f} s behind"
    return f"{on}; last drain {age:.0f} s ago took {record.jobs} events, {behind}"


def _stamp(at: datetime) -> str:
    # Fixed width, UTC: Redis compares these as strings.
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _decoded(raw: dict[bytes | str, bytes | str]) -> dict[str, str]:
    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    return {text(k): text(v) for k, v in raw.items()}


class RedisSyncState:
    """One hash per task key and one for the last drain (names: ``kitsync.redis_keys``)."""

    _NEWER = """
local current = redis.call('HGET', KEYS[1], 'ayon_at')
if (not current) or current < ARGV[1] then
    redis.call('HSET', KEYS[1], 'ayon_at', ARGV[1], 'ayon_user', ARGV[2])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
"""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._keys = RedisKeys(prefix)

    def _key(self, key: str) -> str:
        return self._keys.two_way_task(key)

    async def get(self, key: str) -> TaskState:
        raw = _decoded(await self._redis.hgetall(self._key(key)))
        return TaskState(
            status=raw.get("status"),
            assignees=tuple(json.loads(raw["assignees"])) if "assignees" in raw else None,
            ayon_changed_at=datetime.fromisoformat(raw["ayon_at"]) if "ayon_at" in raw else None,
            ayon_user=raw.get("ayon_user") or None,
        )

    async def agree(self, values: Mapping[str, Agreed]) -> None:
        # One round trip for a whole project (a full reconcile records every task's base).
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, agreed in values.items():
                fields: dict[str, str] = {}
                if agreed.status is not None:
                    fields["status"] = agreed.status
                if agreed.assignees is not None:
                    fields["assignees"] = json.dumps(sorted(agreed.assignees))
                if fields:
                    pipe.hset(self._key(key), mapping=fields)  # type: ignore[arg-type]
                    pipe.expire(self._key(key), STATE_TTL)
            await pipe.execute()

    async def ayon_changed(self, key: str, at: datetime, user: str | None) -> None:
        await self._redis.eval(self._NEWER, 1, self._key(key), _stamp(at), user or "", STATE_TTL)

    async def drained(self, record: DrainRecord) -> None:
        await self._redis.hset(
            self._keys.two_way_drain,
            mapping={"at": _stamp(record.at), "jobs": record.jobs, "lag": record.lag_seconds},
        )

    async def last_drain(self) -> DrainRecord | None:
        values = _decoded(await self._redis.hgetall(self._keys.two_way_drain))
        if "at" not in values:
            return None
        return DrainRecord(
            datetime.fromisoformat(values["at"]), int(values["jobs"]), float(values["lag"])
        )


class SqliteSyncState:
    """The same in a SQLite file, for the single-process mode (no Redis): the bases survive a
    restart, so a change made in AYON while kitsync was down is still told from Kitsu's."""

    def __init__(self, path: Path | str) -> None:
        self._db = sqlite3.connect(path)
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS tasks (key TEXT PRIMARY KEY, status TEXT, "
                "assignees TEXT, ayon_at TEXT, ayon_user TEXT)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS drain (one INTEGER PRIMARY KEY CHECK (one = 1), "
                "at TEXT, jobs INTEGER, lag REAL)"
            )

    def close(self) -> None:
        self._db.close()

    async def get(self, key: str) -> TaskState:
        row = self._db.execute(
            "SELECT status, assignees, ayon_at, ayon_user FROM tasks WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return TaskState()
        status, assignees, ayon_at, ayon_user = row
        return TaskState(
            status=status,
            assignees=tuple(json.loads(assignees)) if assignees is not None else None,
            ayon_changed_at=datetime.fromisoformat(ayon_at) if ayon_at else None,
            ayon_user=ayon_user,
        )

    async def agree(self, values: Mapping[str, Agreed]) -> None:
        rows = [
            (
                key,
                agreed.status,
                json.dumps(sorted(agreed.assignees)) if agreed.assignees is not None else None,
            )
            for key, agreed in values.items()
        ]
        with self._db:
            self._db.executemany(
                "INSERT INTO tasks (key, status, assignees) VALUES (?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET status = coalesce(excluded.status, status), "
                "assignees = coalesce(excluded.assignees, assignees)",
                rows,
            )

    async def ayon_changed(self, key: str, at: datetime, user: str | None) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO tasks (key, ayon_at, ayon_user) VALUES (?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET ayon_at = excluded.ayon_at, ayon_user = excluded.ayon_user "
                "WHERE ayon_at IS NULL OR ayon_at < excluded.ayon_at",
                (key, _stamp(at), user),
            )

    async def drained(self, record: DrainRecord) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO drain (one, at, jobs, lag) VALUES (1, ?, ?, ?)",
                (_stamp(record.at), record.jobs, record.lag_seconds),
            )

    async def last_drain(self) -> DrainRecord | None:
        row = self._db.execute("SELECT at, jobs, lag FROM drain").fetchone()
        return DrainRecord(datetime.fromisoformat(row[0]), row[1], row[2]) if row else None
