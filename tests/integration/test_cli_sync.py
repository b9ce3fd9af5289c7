"""`kitsync pair` and `kitsync sync` against the fakes and the real Postgres, through click.

CliRunner runs ``asyncio.run`` inside the command, so these tests are plain functions and set up
their async state with ``asyncio.run`` themselves.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from click.testing import CliRunner, Result

from kitsync.cli import main
from kitsync.core.plan import plan
from kitsync.core.production import production_specs
from kitsync.redis_keys import RedisKeys
from kitsync.worker.keyqueue import RedisKeyQueue
from kitsync.worker.keyqueue.backend import QueueStats
from kitsync.worker.names import QUEUES
from tests.conftest import PG_ADMIN_DSN
from tests.expected import FILM_TREE, FILM_TREE_AFTER, USERS
from tests.fakes.ayon import SERVICE_KEY, add_users, create_app, create_project
from tests.fakes.ayon.memory import MemoryAyon
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import free_port, serve
from tests.production_generator import generate_production
from tests.unit.kitsu_production import default_anatomy, recorded_production

pytestmark = pytest.mark.integration

FILM = "d6b4394f-66b7-4580-ae1a-5ce82c2f5f4d"
TV = "1332d020-28a7-4b76-80e7-a5caf625538c"
_COUNT = re.compile(r"^  (\S.*?)\s{2,}(\d+)$")


class Servers:
    """The fake AYON, and one fake Kitsu per recorded stage, served for the whole module."""

    def __init__(self, stack: ExitStack, pg_dsn: str) -> None:
        self.ayon_app = create_app(pg_dsn)
        self.ayon = stack.enter_context(serve(self.ayon_app))
        self.kitsu = {
            stage: stack.enter_context(serve(FakeKitsu.from_fixtures("all", stage).app))
            for stage in ("after_build", "after_mutations")
        }
        self.generated = generate_production(shots=40, sequences=4, seed=5, name="Generated")
        self.kitsu["generated"] = stack.enter_context(serve(self.generated.kitsu.app))

    def writes(self) -> list[tuple[str, str]]:
        """Requests that may write (not GETs, not GraphQL reads)."""
        return [(m, p) for m, p in self.ayon_app.state.requests if m != "GET" and p != "/graphql"]


@pytest.fixture(scope="module")
def servers(pg_dsn: str) -> Iterator[Servers]:
    with ExitStack() as stack:
        yield Servers(stack, pg_dsn)


def _sql(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


@pytest.fixture
def env(
    servers: Servers,
    pg_dsn: str,
    read_path: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> Iterator[dict[str, str]]:
    """The settings of each run; AYON_DB_DSN only when the test reads AYON through SQL."""
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    values = {
        "KITSU_URL": servers.kitsu["after_build"],
        "KITSU_BOT_TOKEN": BOT_TOKEN,
        "AYON_URL": servers.ayon,
        "AYON_API_KEY": SERVICE_KEY,
    }
    if read_path == "sql":
        values["AYON_DB_DSN"] = pg_dsn
    for var in ("KITSU_EMAIL", "KITSU_PASSWORD", "KITSYNC_REDIS_URL", "AYON_DB_DSN"):
        monkeypatch.delenv(var, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    # Every test pairs from scratch: earlier pairings of the recorded projects are retired.
    _retire_pairings(pg_dsn)
    asyncio.run(add_users(pg_dsn, USERS))
    yield values
    # Gone for good: the same test on the other read path pairs the same Kitsu projects again.
    paired = _sql(pg_dsn, "SELECT name FROM public.projects WHERE data ? 'kitsuProjectId'")
    with httpx.Client(base_url=servers.ayon, headers={"x-api-key": SERVICE_KEY}) as ayon:
        for row in paired:
            assert ayon.delete(f"/api/projects/{row['name']}").status_code == 204


def _retire_pairings(dsn: str) -> None:
    _sql(dsn, "UPDATE public.projects SET active = false WHERE data->>'kitsuProjectId' IS NOT NULL")


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _counts(result: Result) -> dict[str, int]:
    """The per-kind counts a report prints ("  create folder      31")."""
    counts = {}
    for line in result.stdout.splitlines():
        if line.endswith("could not be written:"):
            break
        match = _COUNT.match(line)
        if match:
            counts[match[1]] = int(match[2])
    return counts


def _tree(dsn: str, project: str) -> dict[str, tuple[str, str, bool]]:
    rows = _sql(
        dsn,
        f"""WITH RECURSIVE t AS (
              SELECT id, name::text AS path, folder_type, label, active
              FROM project_{project}.folders WHERE parent_id IS NULL
              UNION ALL
              SELECT f.id, t.path || '/' || f.name, f.folder_type, f.label, f.active
              FROM project_{project}.folders f JOIN t ON f.parent_id = t.id)
            SELECT path, folder_type, label, active FROM t""",
    )
    return {r["path"]: (r["folder_type"], r["label"] or "", r["active"]) for r in rows}


def _paired(dsn: str, kitsu_id: str) -> str:
    rows = _sql(
        dsn,
        "SELECT name FROM public.projects WHERE active AND data->>'kitsuProjectId' = $1",
        kitsu_id,
    )
    assert len(rows) == 1
    return str(rows[0]["name"])


def _sync_dry_then_real(servers: Servers, project: str) -> dict[str, int]:
    before = len(servers.writes())
    dry = _invoke("sync", project, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert len(servers.writes()) == before, "a dry run wrote to AYON"
    real = _invoke("sync", project)
    assert real.exit_code == 0, real.output
    assert _counts(dry) == _counts(real) != {}
    return _counts(real)


def _in_step(servers: Servers, project: str) -> None:
    before = len(servers.writes())
    again = _invoke("sync", project)
    assert again.exit_code == 0, again.output
    assert "in step, nothing written" in again.stdout and _counts(again) == {}
    assert servers.writes()[before:] == []


# ------------------------------------------------------------------------------- the flows


def test_pair_and_sync_film(
    servers: Servers, env: dict[str, str], pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    paired = _invoke("pair", "Fixture Film")
    assert paired.exit_code == 0, paired.output
    # The project's key is handed back (its attributes were written): no Redis, so it is said.
    assert "1 keys changed in Kitsu while this ran" in paired.stderr
    project = _paired(pg_dsn, FILM)
    assert project == "fixture_film"
    assert f"paired with created AYON project {project}" in paired.stdout
    assert "Writing to AYON" in paired.stderr
    # Each phase, then its count, time and rate: on stderr, never among the report's lines.
    for phase, unit in (
        ("Reading Kitsu and AYON", "entities"),
        ("Converging breakdown links", "links written"),
    ):
        assert re.search(
            rf"^{phase}\.\.\.\n  [\d,]+ {unit} in [\d.]+ s \([\d,]+/s\)$", paired.stderr, re.M
        )
    assert re.search(r"^  [\d,]+ operations in [\d.]+ s \([\d,]+/s\)$", paired.stderr, re.M)
    assert "/s)" not in paired.stdout
    assert _counts(paired)["create folder"] == len(FILM_TREE)
    assert _tree(pg_dsn, project) == FILM_TREE
    row = _sql(pg_dsn, "SELECT code, attrib FROM public.projects WHERE name = $1", project)[0]
    assert row["code"] == "fixture_film" and json.loads(row["attrib"])["fps"] == 24.0
    _in_step(servers, project)
    _in_step(servers, "Fixture Film")  # by Kitsu name too
    _in_step(servers, FILM)  # and by Kitsu id

    monkeypatch.setenv("KITSU_URL", servers.kitsu["after_mutations"])
    counts = _sync_dry_then_real(servers, project)
    assert counts["delete folder"] >= 1 and counts["deactivate folder"] >= 1
    assert _tree(pg_dsn, project) == FILM_TREE_AFTER
    _in_step(servers, project)


def test_pair_and_sync_tv(
    servers: Servers, env: dict[str, str], pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"show_{uuid.uuid4().hex[:6]}"
    paired = _invoke("pair", TV, "--ayon-project", name)
    assert paired.exit_code == 0, paired.output
    assert _paired(pg_dsn, TV) == name
    memory = MemoryAyon(default_anatomy())
    _apply_recorded(memory, "after_build")
    assert _tree(pg_dsn, name) == _memory_tree(memory)
    _in_step(servers, name)

    monkeypatch.setenv("KITSU_URL", servers.kitsu["after_mutations"])
    _sync_dry_then_real(servers, name)
    _apply_recorded(memory, "after_mutations")
    assert _tree(pg_dsn, name) == _memory_tree(memory)
    _in_step(servers, name)


def _apply_recorded(memory: MemoryAyon, stage: str) -> None:
    """The pure planner's view of the recorded tv show, applied to an in-memory AYON."""
    production = recorded_production("tv", stage)  # type: ignore[arg-type]
    specs = production_specs(production)
    snapshot = memory.snapshot()
    listed = {r.id for r in (*production.assets, *production.shots, *production.sequences)}
    listed |= {r.id for r in (*production.episodes, *production.asset_types)}
    memory.apply(
        plan(
            snapshot,
            specs.folders,
            specs.tasks,
            task_types=production.task_types,
            statuses=production.task_statuses,
            gone_folders=set(snapshot.folders) - {s.key for s in specs.folders} - listed,
            gone_tasks=set(snapshot.tasks) - {t.id for t in production.tasks},
        )
    )


def _memory_tree(memory: MemoryAyon) -> dict[str, tuple[str, str, bool]]:
    paths = memory.paths()
    return {paths[f.id]: (f.folder_type, f.label or "", f.active) for f in memory.folders.values()}


def test_generated_production_pairs_and_syncs(
    servers: Servers, env: dict[str, str], pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated = servers.generated
    monkeypatch.setenv("KITSU_URL", servers.kitsu["generated"])
    paired = _invoke("pair", "Generated", "-v")
    assert paired.exit_code == 0, paired.output
    counts = _counts(paired)
    assert counts["create folder"] == generated.folders
    assert counts["create task"] == generated.tasks
    assert counts["create link"] == generated.cast_links
    # -v lists every change it made, links included, as a dry run lists them.
    listed = [line.strip() for line in paired.stdout.splitlines() if line.startswith("    ")]
    assert "create folder sequences/sq0010/sh00010" in listed
    assert sum(line.startswith("create link ") for line in listed) == generated.cast_links
    assert sum(line.startswith("create task ") for line in listed) == generated.tasks
    _in_step(servers, "generated")


def test_a_refused_folder_is_listed_and_exits_1(
    servers: Servers, env: dict[str, str], pg_dsn: str
) -> None:
    name = f"poisoned_{uuid.uuid4().hex[:6]}"
    asyncio.run(create_project(pg_dsn, name))
    schema = f"project_{name}"
    # AYON refuses one folder: a label only one folder may have, taken by a hand-made one.
    _sql(pg_dsn, f"CREATE UNIQUE INDEX poison ON {schema}.folders (label) WHERE label = 'SH0020'")
    _sql(
        pg_dsn,
        f"""INSERT INTO {schema}.folders (id, name, label, folder_type, status)
            VALUES ($1, 'handmade', 'SH0020', 'Folder', 'Not ready')""",
        uuid.uuid4(),
    )
    result = _invoke("pair", "Fixture Film", "--ayon-project", name)
    assert result.exit_code == 1, result.output
    assert "FAILED create folder sequences/sq010/sh0020" in result.stdout
    assert "409" in result.stdout and "Traceback" not in result.output
    tree = _tree(pg_dsn, name)
    assert tree == {p: v for p, v in FILM_TREE.items() if p != "sequences/sq010/sh0020"} | {
        "handmade": ("Folder", "SH0020", True)
    }


# ------------------------------------------------------------------------------- refusals


def test_pairing_refusals(servers: Servers, env: dict[str, str], pg_dsn: str) -> None:
    name = f"film_{uuid.uuid4().hex[:6]}"
    first = _invoke("pair", "Fixture Film", "--ayon-project", name)
    assert first.exit_code == 0, first.output + first.stderr
    again = _invoke("pair", "Fixture Film", "--ayon-project", name)  # idempotent
    assert again.exit_code == 0 and "is paired with AYON project" in again.stdout

    elsewhere = _invoke("pair", "Fixture Film", "--ayon-project", f"other_{name}")
    assert elsewhere.exit_code == 1
    assert f"already paired with AYON project {name}" in elsewhere.stderr

    taken = _invoke("pair", "Fixture Show", "--ayon-project", name)
    assert taken.exit_code == 1
    assert f"AYON project {name} is paired with another Kitsu project" in taken.stderr

    bad = _invoke("pair", "Fixture Show", "--ayon-project", "no-dashes")
    assert bad.exit_code == 1 and "cannot be an AYON project name" in bad.stderr
    for result in (elsewhere, taken, bad):
        assert "Traceback" not in result.output and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "change", "code", "words"),
    [
        (("sync", "No Such Show"), {}, 1, "no Kitsu project named 'No Such Show'"),
        (("sync", str(uuid.UUID(int=7))), {}, 1, "no Kitsu project has the id"),
        (("sync", "Fixture Film"), {}, 1, "is not paired with an AYON project"),
        (("sync", "Fixture Film"), {"AYON_URL": "http://127.0.0.1:{port}"}, 1, "AYON (http"),
        (("sync", "Fixture Film"), {"KITSU_URL": "http://127.0.0.1:{port}"}, 1, "Kitsu (http"),
        (
            ("sync", "Fixture Film"),
            {"AYON_DB_DSN": "postgresql://postgres@127.0.0.1:{port}/x"},
            1,
            "cannot connect to AYON's database",
        ),
        (("sync", "Fixture Film"), {"AYON_DB_DSN": "{missing_db}"}, 1, "AYON's database"),
        (("sync", "Fixture Film"), {"AYON_API_KEY": "wrong-key-123"}, 1, "401"),
        (("sync", "Fixture Film"), {"KITSU_URL": "ftp://x"}, 2, "KITSU_URL"),
        (("pair", "Fixture Film"), {"AYON_URL": None}, 2, "AYON_URL: missing"),
        (("sync", "Fixture Film", "--dry-run"), {"KITSU_BOT_TOKEN": "nope"}, 1, "Kitsu (http"),
    ],
)
def test_user_errors(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    change: dict[str, str | None],
    code: int,
    words: str,
) -> None:
    missing_db = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/nope_{uuid.uuid4().hex[:6]}"
    for key, value in change.items():
        if value is None:
            monkeypatch.delenv(key)
        else:
            monkeypatch.setenv(key, value.format(port=free_port(), missing_db=missing_db))
    result = _invoke(*args)
    assert result.exit_code == code, result.output
    assert words in result.output
    assert "Traceback" not in result.output
    assert "wrong-key-123" not in result.output and BOT_TOKEN not in result.output


def test_with_redis_the_keys_a_run_hands_back_go_to_the_workers(
    env: dict[str, str], redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Here the project's own key (the first sync wrote its attributes): queued in the workers'
    key queue, with its task, as a worker's full reconcile does (without Redis it is said:
    see ``test_pair_and_sync_film``)."""
    monkeypatch.setenv("KITSYNC_REDIS_URL", redis_url)
    monkeypatch.setenv("KITSYNC_REDIS_PREFIX", redis_prefix)
    paired = _invoke("pair", "Fixture Film")
    assert paired.exit_code == 0, paired.output
    assert "1 keys changed meanwhile, queued for the workers" in paired.stderr

    async def stats() -> QueueStats:
        queue = RedisKeyQueue(redis_url, prefix=RedisKeys(redis_prefix).key_queue)
        try:
            return await queue.stats()
        finally:
            await queue.close()

    assert asyncio.run(stats()).queued == 1
    client = redis.Redis.from_url(redis_url)
    try:
        keys = RedisKeys(redis_prefix)
        assert sum(client.llen(keys.broker_queue(queue)) for queue in QUEUES) == 1
    finally:
        client.close()
