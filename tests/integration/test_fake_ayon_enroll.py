"""The fake AYON's ``POST /api/enroll`` behaves as recorded from AYON 1.16
(tests/fixtures/ayon/events_stream/, README "Enroll"): the recorded requests, on a project of the
test's own, give the recorded statuses, bodies and job semantics."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import FIXTURES
from tests.fakes.ayon import HUMAN_KEY, SERVICE_KEY, create_app, create_project
from tests.fakes.serve import serve

pytestmark = pytest.mark.integration

STREAM = FIXTURES / "ayon" / "events_stream"


def _recorded(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((STREAM / f"{name}.json").read_text())
    return doc


def test_the_target_hash_is_the_recorded_one() -> None:
    from tests.fakes.ayon._enroll import target_hash

    answer = _recorded("enroll_first")["response"]["json"]
    assert target_hash("fxrec.sync.task", answer["dependsOn"]) == answer["hash"]
    raw = json.dumps(["fxrec.sync.task", answer["dependsOn"]], separators=(",", ":"))
    assert hashlib.sha256(raw.encode()).hexdigest() == answer["hash"]


class Bed:
    def __init__(self, client: httpx.AsyncClient, project: str, pool: asyncpg.Pool) -> None:
        self.client = client
        self.project = project
        self.pool = pool
        self.since = datetime.now(UTC).isoformat()
        self.target = f"{project}.sync.task"

    def body(self, name: str, **changes: Any) -> dict[str, Any]:
        """The recorded request body, aimed at this test's project, events and target topic."""
        body: dict[str, Any] = json.loads(json.dumps(_recorded(name)["request"]["json"]))
        if "filter" in body:
            body["filter"]["conditions"] = [
                {"key": "project", "value": self.project},
                {"key": "created_at", "operator": "gt", "value": self.since},
            ]
        if body.get("targetTopic", "").startswith("fxrec.sync.task"):
            body["targetTopic"] = self.target
        return body | changes

    async def enroll(self, name: str, key: str = SERVICE_KEY, **changes: Any) -> httpx.Response:
        headers = {"x-api-key": key, "x-sender-type": "kitsu"}
        return await self.client.post(
            "/api/enroll", json=self.body(name, **changes), headers=headers
        )

    async def task(self, folder: str, name: str) -> str:
        response = await self.client.post(
            f"/api/projects/{self.project}/tasks",
            json={"name": name, "taskType": "Generic", "folderId": folder},
            headers={"x-api-key": SERVICE_KEY},
        )
        assert response.status_code == 201, response.text
        task_id: str = response.json()["id"]
        return task_id

    async def person_sets_status(self, task_id: str, status: str) -> str:
        """alice (no sender headers) changes a status; the id of the event it wrote."""
        response = await self.client.patch(
            f"/api/projects/{self.project}/tasks/{task_id}",
            json={"status": status},
            headers={"x-api-key": HUMAN_KEY},
        )
        assert response.status_code == 204, response.text
        event_id = await self.pool.fetchval(
            "SELECT id FROM public.events WHERE topic = 'entity.task.status_changed' "
            "AND project_name = $1 ORDER BY creation_order DESC LIMIT 1",
            self.project,
        )
        return str(event_id.hex)

    async def patch(self, event_id: str, sender: str, **body: Any) -> None:
        response = await self.client.patch(
            f"/api/events/{event_id}",
            json=body,
            headers={"x-api-key": SERVICE_KEY, "x-sender": sender, "x-sender-type": "kitsu"},
        )
        assert response.status_code == 204, response.text


@pytest.fixture
async def bed(pg_dsn: str, pg_pool: asyncpg.Pool) -> AsyncIterator[Bed]:
    project = f"enroll_{uuid.uuid4().hex[:10]}"
    await create_project(pg_dsn, project)
    with serve(create_app(pg_dsn)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield Bed(client, project, pg_pool)


async def test_refusals_answer_as_recorded(bed: Bed) -> None:
    for name, key in (
        ("enroll_as_admin", HUMAN_KEY),
        ("enroll_target_wildcard", SERVICE_KEY),
        ("enroll_bad_source_topic", SERVICE_KEY),
    ):
        recorded = _recorded(name)["response"]
        response = await bed.client.post(
            "/api/enroll", json=_recorded(name)["request"]["json"], headers={"x-api-key": key}
        )
        assert (response.status_code, response.json()) == (recorded["status"], recorded["json"])
    missing = await bed.enroll("enroll_missing_target")
    assert missing.status_code == 400
    assert (
        missing.json()["errors"] == _recorded("enroll_missing_target")["response"]["json"]["errors"]
    )


async def test_jobs_are_handed_out_oldest_first_once_per_target_topic(bed: Bed) -> None:
    folder = (
        await bed.client.post(
            f"/api/projects/{bed.project}/folders",
            json={"name": "hero", "folderType": "Asset"},
            headers={"x-api-key": SERVICE_KEY},
        )
    ).json()["id"]
    tasks = [await bed.task(folder, name) for name in ("modeling", "rigging", "texture")]
    sources = [await bed.person_sets_status(task, "In progress") for task in tasks]
    # kitsync's own change (X-Sender-Type kitsu): never handed out with ignoreSenderTypes.
    await bed.client.patch(
        f"/api/projects/{bed.project}/tasks/{tasks[0]}",
        json={"status": "Approved"},
        headers={"x-api-key": SERVICE_KEY, "x-sender": "kitsync", "x-sender-type": "kitsu"},
    )
    a = await bed.enroll("enroll_first", ignoreSenderTypes=["kitsu"])
    assert a.status_code == 200
    job = a.json()
    assert set(job) == set(_recorded("enroll_first")["response"]["json"])
    assert job["dependsOn"] == sources[0] and job["status"] == "pending"
    again = await bed.enroll("enroll_again_same_sender_pending", ignoreSenderTypes=["kitsu"])
    assert again.json() == job  # the same sender gets its open job back
    await bed.patch(job["id"], "fxrec-worker-a", status="in_progress")
    again = await bed.enroll("enroll_again_same_sender_in_progress", ignoreSenderTypes=["kitsu"])
    assert again.json() == job | {"status": "in_progress"}

    b = await bed.enroll("enroll_other_sender_not_sequential", ignoreSenderTypes=["kitsu"])
    assert b.json()["dependsOn"] == sources[1]  # skips A's open job
    c = await bed.enroll("enroll_other_sender_sequential", ignoreSenderTypes=["kitsu"])
    assert c.status_code == 204 and c.content == b""  # sequential: waits for A
    await bed.patch(job["id"], "fxrec-worker-a", status="finished")
    c = await bed.enroll("enroll_sequential_after_first_finished", ignoreSenderTypes=["kitsu"])
    assert c.status_code == 204  # the next one is B's
    await bed.patch(b.json()["id"], "fxrec-worker-b", status="finished")
    c = await bed.enroll("enroll_sequential_after_all_finished", ignoreSenderTypes=["kitsu"])
    assert c.json()["dependsOn"] == sources[2]

    await bed.patch(c.json()["id"], "fxrec-worker-c", status="failed")
    retry = await bed.enroll("enroll_retry_failed", ignoreSenderTypes=["kitsu"])
    assert retry.json() == c.json()  # the same job, pending again
    row = await bed.pool.fetchrow(
        "SELECT retries, description, project_name FROM public.events WHERE id = $1",
        uuid.UUID(c.json()["id"]),
    )
    assert dict(row) == {
        "retries": 1,
        "description": "Restarting failed event",
        "project_name": None,
    }
    await bed.patch(c.json()["id"], "fxrec-worker-c", status="finished")

    done = await bed.enroll("enroll_nothing_pending", ignoreSenderTypes=["kitsu"])
    assert done.status_code == 204  # kitsync's own change never came out
    # Without ignoreSenderTypes, the service's change is a job; another target topic sees all.
    own = await bed.enroll("enroll_nothing_pending")
    assert own.status_code == 200
    other = await bed.enroll("enroll_first", targetTopic=f"{bed.project}.other")
    assert other.json()["dependsOn"] == sources[0]
