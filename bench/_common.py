"""What the benchmarks share: a Postgres database of their own, AYON state snapshots, profiles.

The benchmarks run from the repository root (``.venv/bin/python bench/<name>.py``) and reuse the
test fakes, so the root goes on ``sys.path`` here.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import re
import resource
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
_SAFE = re.compile(r"^[a-zA-Z0-9_]+$")


@asynccontextmanager
async def bench_database(admin_dsn: str = ADMIN_DSN) -> AsyncIterator[str]:
    """A new database ``kitsync_bench_<hex>`` (its DSN), dropped on exit."""
    name = f"kitsync_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield urlsplit(admin_dsn)._replace(path=f"/{name}").geturl()
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@dataclass(frozen=True)
class AyonTree:
    """An AYON project's content, by path (ids differ between projects written differently)."""

    folders: dict[str, tuple[str, str, str]]  # path -> (folder type, label, attrib as JSON)
    tasks: dict[str, tuple[str, str, tuple[str, ...]]]  # path/name -> (type, status, assignees)
    # (input path, output path, link type) -> how many (one link per cast occurrence)
    links: dict[tuple[str, str, str], int]

    def differences(self, other: AyonTree) -> list[str]:
        """What differs, one line per part (empty when the trees match)."""
        found = []
        for part in ("folders", "tasks"):
            mine, theirs = getattr(self, part), getattr(other, part)
            if mine != theirs:
                keys = set(mine) ^ set(theirs)
                changed = [k for k in set(mine) & set(theirs) if mine[k] != theirs[k]]
                found.append(
                    f"{part}: {len(keys)} paths in one only, {len(changed)} differ "
                    f"(e.g. {sorted(keys or changed)[:2]})"
                )
        if self.links != other.links:
            differ = {
                k for k in {*self.links, *other.links} if self.links.get(k) != other.links.get(k)
            }
            found.append(f"links: {len(differ)} triples differ in count")
        return found


async def ayon_tree(pool: asyncpg.Pool, project: str) -> AyonTree:
    if not _SAFE.match(project):
        raise ValueError(f"unsafe project name {project!r}")
    schema = f"project_{project}"
    paths = f"""WITH RECURSIVE t AS (
                  SELECT id, name::text AS path FROM {schema}.folders WHERE parent_id IS NULL
                  UNION ALL
                  SELECT f.id, t.path || '/' || f.name FROM {schema}.folders f
                  JOIN t ON f.parent_id = t.id)"""
    folders = await pool.fetch(
        f"""{paths} SELECT t.path, f.folder_type, coalesce(f.label, '') AS label,
                   f.attrib::text AS attrib
            FROM t JOIN {schema}.folders f ON f.id = t.id"""
    )
    tasks = await pool.fetch(
        f"""{paths} SELECT t.path || '/' || k.name AS path, k.task_type, k.status, k.assignees
            FROM {schema}.tasks k JOIN t ON t.id = k.folder_id"""
    )
    links = await pool.fetch(
        f"""{paths} SELECT i.path AS input, o.path AS output, l.link_type
            FROM {schema}.links l JOIN t i ON i.id = l.input_id JOIN t o ON o.id = l.output_id"""
    )
    return AyonTree(
        folders={
            r["path"]: (r["folder_type"], r["label"], _canonical(r["attrib"])) for r in folders
        },
        tasks={r["path"]: (r["task_type"], r["status"], tuple(r["assignees"])) for r in tasks},
        links=dict(Counter((r["input"], r["output"], r["link_type"]) for r in links)),
    )


def _canonical(document: str) -> str:
    return json.dumps(json.loads(document), sort_keys=True)


def peak_rss_mib() -> float:
    """The process's peak resident set so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def profiled() -> Iterator[cProfile.Profile]:
    """cProfile on the calling thread only: the fakes' server threads stay out of it."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        yield profile
    finally:
        profile.disable()


def hot_spots(
    profile: cProfile.Profile, *, package: str = "/kitsync/", top: int = 10
) -> list[dict[str, Any]]:
    """The ``top`` functions of ``package`` by cumulative time (and their own time)."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = []
    for (file, line, function), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if package in file:
            where = f"{file.split(package, 1)[1]}:{line} {function}"
            rows.append(
                {"function": where, "calls": calls, "cumulative_s": cumulative, "own_s": own}
            )
    rows.sort(key=lambda row: row["cumulative_s"], reverse=True)
    return rows[:top]


def own_time_spots(profile: cProfile.Profile, *, top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` functions of any code by own (internal) time."""
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = [
        {"function": f"{Path(file).name}:{line} {function}", "calls": calls, "own_s": own}
        for (file, line, function), (_, calls, own, _, _) in stats.stats.items()  # type: ignore[attr-defined]
    ]
    rows.sort(key=lambda row: row["own_s"], reverse=True)
    return rows[:top]


def production_options(parser: argparse.ArgumentParser) -> None:
    """The generated production's size and seed (the issue's default production)."""
    parser.add_argument("--shots", type=int, default=2000)
    parser.add_argument("--sequences", type=int, default=20)
    parser.add_argument("--assets", type=int, default=500)
    parser.add_argument("--seed", type=int, default=8)


def run_and_report(
    args: argparse.Namespace,
    bench: Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
    show: Callable[[dict[str, Any]], None],
) -> None:
    """Run ``bench(args)``, print its table and write its JSON result to ``args.output``."""
    args.argv = sys.argv[1:]
    result = asyncio.run(bench(args))
    show(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w") as out:
        json.dump(result, out, indent=2)
    print(f"\nwrote {args.output}")
