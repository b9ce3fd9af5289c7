"""What the e2e scenarios drive: Zou's REST API as its admin, kitsync's processes, and AYON's state.

- ``ZouAdmin``: the writes a Kitsu user makes (routes as recorded in tests/fixtures/kitsu/).
- ``kitsync_farm``: the fake AYON on the real Postgres with a project paired to a Kitsu project,
  the receiver on the port Zou's plugin posts to, and ``kitsync worker`` (and optionally
  ``kitsync beat``) processes, all on one Redis key prefix.
- ``ayon_state`` / ``assert_converges``: AYON's tree as flat keys, compared with the expected one
  key by key; a failure names each key with its expected and actual value.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio

from kitsync.redis_keys import RedisKeys
from kitsync.worker.app import create_celery
from kitsync.worker.keyqueue import RedisKeyQueue
from kitsync.worker.runtime import redis_key_queue
from tests.fakes.ayon import add_users, create_app, create_project
from tests.fakes.serve import serve
from tests.integration.processes import served_receiver, worker_env, worker_settings
from tests.read_paths import current_read_path

BREAKDOWN = "breakdown|folder|folder"
State = dict[str, Any]
# What the tier took, by step: printed at the end of the run (conftest.py).
TIMINGS: dict[str, float] = {}


@dataclass(frozen=True)
class Zou:
    url: str
    email: str
    password: str
    receiver_port: int
    secret: str
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


class ZouAdmin:
    """Zou's REST API as its admin (no ``/api`` prefix: gunicorn without nginx)."""

    def __init__(self, zou: Zou) -> None:
        self._zou = zou
        self._client = httpx.AsyncClient(base_url=zou.url, timeout=30)

    async def __aenter__(self) -> ZouAdmin:
        answer = await self._client.post(
            "/auth/login", json={"email": self._zou.email, "password": self._zou.password}
        )
        answer.raise_for_status()
        self._client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self._client.request(method, path, json=body)
        if answer.status_code >= 400:
            raise AssertionError(f"Zou {method} {path} -> {answer.status_code}: {answer.text}")
        return answer.json() if answer.content else None

    async def named(self, path: str, field: str = "name") -> dict[str, str]:
        """``{name: id}`` of a global list (asset types, task types, task statuses...)."""
        return {row[field]: row["id"] for row in await self.call("GET", path)}

    async def person(self, first: str, last: str, email: str) -> str:
        """Id of the person with ``email``, created when missing."""
        for row in await self.call("GET", "/data/persons"):
            if row.get("email") == email:
                return str(row["id"])
        body = {"first_name": first, "last_name": last, "email": email, "role": "user"}
        return str((await self.call("POST", "/data/persons", body))["id"])

    async def project(self, name: str, persons: list[str]) -> str:
        """A new featurefilm project with the default asset types, task types and statuses."""
        project = await self.call(
            "POST", "/data/projects", {"name": name, "production_type": "featurefilm"}
        )
        pid = str(project["id"])
        await self.call("PUT", f"/data/projects/{pid}", {"fps": "24", "resolution": "1920x1080"})
        for type_id in (await self.named("/data/asset-types")).values():
            await self.call(
                "POST", f"/data/projects/{pid}/settings/asset-types", {"asset_type_id": type_id}
            )
        task_types = await self.call("GET", "/data/task-types")
        for priority, row in enumerate(task_types, 1):
            if row["for_entity"] in ("Asset", "Shot"):
                await self.call(
                    "POST",
                    f"/data/projects/{pid}/settings/task-types",
                    {"task_type_id": row["id"], "priority": priority},
                )
        for status_id in (await self.named("/data/task-status", "short_name")).values():
            await self.call(
                "POST", f"/data/projects/{pid}/settings/task-status", {"task_status_id": status_id}
            )
        for person_id in persons:
            await self.call("POST", f"/data/projects/{pid}/team", {"person_id": person_id})
        return pid


@dataclass
class Farm:
    """kitsync's processes and AYON's project for one scenario."""

    project: str
    pool: asyncpg.Pool
    queue: RedisKeyQueue
    logs: Path
    zou: Zou
    queue_url: str
    prefix: str
    ayon_url: str
    env: dict[str, str]

    async def polled(self) -> bool:
        """Whether the poller has run once (its cursor is set from then on)."""
        client = redis.asyncio.Redis.from_url(self.queue_url)
        try:
            return bool(await client.exists(RedisKeys(self.prefix).poll_last))
        finally:
            await client.aclose()

    async def idle(self) -> bool:
        stats = await self.queue.stats()
        return stats.queued == 0 and not stats.processing

    def log_tails(self) -> str:
        tails = [
            f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted(self.logs.glob("*.log"))
        ]
        return "\n".join([*tails, f"--- zou\n{self.zou.log_tail(2000)}"])


def _spawn(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "kitsync", *args],
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
        cwd=log.parent,  # beat writes its schedule file in the working folder
    )


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@asynccontextmanager
async def kitsync_farm(
    zou: Zou,
    kitsu_project: str,
    pg_dsn: str,
    redis_url: str,
    prefix: str,
    logs: Path,
    users: Mapping[str, str],
    *,
    receiver: bool = True,
    beat: bool = False,
    workers: int = 2,
) -> AsyncIterator[Farm]:
    project = f"kitsync_e2e_{uuid.uuid4().hex[:10]}"
    await create_project(pg_dsn, project, data={"kitsuProjectId": kitsu_project})
    ayon = create_app(pg_dsn)
    async with AsyncExitStack() as stack:
        ayon_url = stack.enter_context(serve(ayon))
        pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=4)
        stack.push_async_callback(pool.close)
        stack.push_async_callback(
            pool.execute, "UPDATE public.projects SET active = false WHERE name = $1", project
        )
        await add_users(pg_dsn, users)
        env = worker_env(
            kitsu_url=zou.url,
            kitsu_login={"KITSU_EMAIL": zou.email, "KITSU_PASSWORD": zou.password},
            ayon_url=ayon_url,
            pg_dsn=pg_dsn if current_read_path() == "sql" else None,
            redis_url=redis_url,
            prefix=prefix,
            webhook_secret=zou.secret,
        ) | {"KITSYNC_POLL_INTERVAL": "1"}
        processes = [
            _spawn(["worker", "-c", "2"], env, logs / f"worker-{i}.log") for i in range(workers)
        ]
        if beat:
            processes.append(_spawn(["beat"], env, logs / "beat.log"))
        stack.callback(_stop_all, processes)
        settings = worker_settings(env)
        queue = redis_key_queue(settings)
        stack.push_async_callback(queue.close)
        if receiver:
            stack.enter_context(
                served_receiver(
                    create_celery(settings), settings, zou.secret, port=zou.receiver_port
                )
            )
        yield Farm(project, pool, queue, logs, zou, redis_url, prefix, ayon_url, dict(env))


async def ayon_state(farm: Farm) -> State:
    """AYON's project as flat keys:

    - ``folder <path>``: (folder type, label, active)
    - ``frames <path>``: (frameStart, frameEnd, fps) of a Shot folder
    - ``task <path>/<task>``: (task type, status, assignees)
    - ``link <asset path> -> <container path>``: sorted occurrences of its breakdown links
    """
    s = f"project_{farm.project}"
    folders = await farm.pool.fetch(
        f"""WITH RECURSIVE t AS (
              SELECT id, name::text AS path, folder_type, label, active, attrib
              FROM {s}.folders WHERE parent_id IS NULL
              UNION ALL
              SELECT f.id, t.path || '/' || f.name, f.folder_type, f.label, f.active, f.attrib
              FROM {s}.folders f JOIN t ON f.parent_id = t.id)
            SELECT id, path, folder_type, label, active, attrib FROM t"""
    )
    paths = {row["id"]: row["path"] for row in folders}
    state: State = {}
    for row in folders:
        state[f"folder {row['path']}"] = (row["folder_type"], row["label"] or "", row["active"])
        if row["folder_type"] == "Shot":
            attrib = json.loads(row["attrib"])
            state[f"frames {row['path']}"] = (
                attrib.get("frameStart"),
                attrib.get("frameEnd"),
                attrib.get("fps"),
            )
    for row in await farm.pool.fetch(
        f"SELECT folder_id, name, task_type, status, assignees FROM {s}.tasks"
    ):
        state[f"task {paths[row['folder_id']]}/{row['name']}"] = (
            row["task_type"],
            row["status"],
            tuple(sorted(row["assignees"])),
        )
    links: dict[str, list[int]] = {}
    for row in await farm.pool.fetch(
        f"SELECT input_id, output_id, data FROM {s}.links WHERE link_type = $1", BREAKDOWN
    ):
        source = paths.get(row["input_id"], f"<missing {row['input_id']}>")
        target = paths.get(row["output_id"], f"<missing {row['output_id']}>")
        links.setdefault(f"link {source} -> {target}", []).append(
            json.loads(row["data"]).get("occurence")
        )
    state |= {key: tuple(sorted(values)) for key, values in links.items()}
    return state


def state_diff(expected: State, actual: State) -> list[str]:
    """One line per key whose AYON value is not the expected one."""
    return [
        f"{key}: expected {expected.get(key, '<absent>')!r}, "
        f"AYON has {actual.get(key, '<absent>')!r}"
        for key in sorted(expected.keys() | actual.keys())
        if expected.get(key, "<absent>") != actual.get(key, "<absent>")
    ]


async def wait_for(farm: Farm, check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 60
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{farm.log_tails()}")
        await asyncio.sleep(0.3)


async def assert_converges(farm: Farm, expected: State, seconds: float = 120.0) -> float:
    """Wait until AYON's state is ``expected`` and the key queue is idle; the seconds it took.
    On timeout, fail with every differing key (expected vs actual) and the processes' logs."""
    started = time.monotonic()
    deadline = started + seconds
    while True:
        actual = await ayon_state(farm)
        diff = state_diff(expected, actual)
        if not diff and await farm.idle():
            # Idle with the expected state: check once more that nothing is still moving.
            await asyncio.sleep(1.0)
            if not state_diff(expected, await ayon_state(farm)) and await farm.idle():
                return time.monotonic() - started
        if time.monotonic() > deadline:
            stats = await farm.queue.stats()
            raise AssertionError(
                f"AYON project {farm.project} did not reach the expected state in {seconds:.0f}s "
                f"({len(diff)} keys differ; queue {stats}):\n  "
                + "\n  ".join(diff)
                + "\n"
                + farm.log_tails()
            )
        await asyncio.sleep(0.5)
