"""Scenario 9: project, asset-type, task-type, task-status and person changes reach AYON through
their events only (the receiver and the poller; no full reconcile at all, the first sync included).

Zou logs the shared records' changes (``asset-type:update``, ``task-type:update``,
``task-status:update``, ``person:update``) with no project, and ``PUT /data/projects/<id>``'s
``project:update`` with the project in its data only: AYON must end equal to a full sync of
Kitsu's final state all the same, the project's attributes and the anatomy's colours included.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from kitsync.kitsu import KitsuClient
from tests.fakes.ayon import add_users
from tests.fakes.kitsu import BOT_TOKEN
from tests.faults._bed import FaultBed

pytestmark = pytest.mark.faults


async def test_shared_records_and_the_project_change_through_events_only(
    bed: FaultBed, seed: int
) -> None:
    rng = random.Random(seed)
    for _ in range(2):
        await bed.start_worker(concurrency=2)
    await bed.start_beat()
    production = bed.new_production(shots=16, seed=seed)
    project = await bed.pair(production)
    answer = await bed.post(bed.events(production))  # its build, as the Zou plugin sends it
    assert answer.status_code == 202, answer.text
    await bed.converged(production, project)

    async with KitsuClient(bed.kitsu_url, bot_token=BOT_TOKEN) as kitsu:
        tasks = await kitsu.tasks(production.project_id)
        assets = await kitsu.assets(production.project_id)
        task_type = rng.choice(sorted({task.task_type_id for task in tasks}))
        status = rng.choice(sorted({task.task_status_id for task in tasks}))
        asset_type = rng.choice(sorted({asset.entity_type_id for asset in assets}))
        person = rng.choice(sorted({p for task in tasks for p in task.assignees or ()}))
    mark = len(bed.kitsu.events())
    suffix = f"{seed % 1000:03d}"
    bed.kitsu.update_project(production.project_id, fps="30", resolution="2048x858")
    bed.kitsu.update_shared("asset-type", asset_type, name=f"Kind {suffix}")
    bed.kitsu.update_shared("task-type", task_type, name=f"Work {suffix}", color="#123456")
    bed.kitsu.update_shared("task-status", status, name=f"State {suffix}", color="#654321")
    # A new e-mail of an assigned person: their tasks' assignees become its AYON user.
    email = f"moved.{suffix}@example.com"
    for dsn in (bed.pg_dsn, bed.reference_dsn):
        await add_users(dsn, {f"moved{suffix}": email})
    bed.kitsu.update_shared("person", person, email=email, first_name="Moved")
    changes = bed.kitsu.events()[mark:]
    assert {e["name"] for e in changes} == {
        "project:update",
        "asset-type:update",
        "task-type:update",
        "task-status:update",
        "person:update",
    }
    answer = await bed.post(changes)  # the poller reads them too: each is ingested once
    assert answer.status_code == 202, answer.text

    await bed.converged(production, project)
    row = await bed.pool.fetchrow("SELECT attrib FROM public.projects WHERE name = $1", project)
    assert row is not None
    attrib = _json(row["attrib"])
    assert (attrib["fps"], attrib["resolutionWidth"], attrib["resolutionHeight"]) == (
        30.0,
        2048,
        858,
    )
    items = await bed.pool.fetch(
        f"SELECT name, data FROM project_{project}.task_types "
        f"UNION ALL SELECT name, data FROM project_{project}.statuses"
    )
    colours = {row["name"]: _json(row["data"]).get("color") for row in items}
    assert colours[f"Work {suffix}"] == "#123456"
    assert colours[f"State {suffix}"] == "#654321"
    logs = "".join(path.read_text(errors="replace") for path in bed.logs.glob("*.log"))
    full_runs = re.findall(r"Task kitsync\.reconcile_project\[[^\]]+\] received", logs)
    assert not full_runs, "a full reconcile ran"


def _json(value: Any) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(value) if isinstance(value, str) else dict(value)
    return found
