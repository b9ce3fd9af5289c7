"""The fakes' seeded failure rates and AYON's body-matching rejections (fault-tier tools)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.fakes.ayon import (
    SERVICE_KEY,
    clear_faults,
    create_app,
    create_project,
    inject_failure_rate,
    inject_rejection,
)
from tests.fakes.kitsu import BOT_TOKEN, FakeKitsu
from tests.fakes.serve import serve

pytestmark = pytest.mark.integration


async def _kitsu_statuses(seed: int, count: int) -> list[int]:
    fake = FakeKitsu.empty()
    fake.failure_rate(0.5, statuses=(500, 502), seed=seed)
    transport = httpx.ASGITransport(app=fake.app)
    headers = {"Authorization": f"Bearer {BOT_TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://kitsu") as client:
        statuses = [
            (await client.get("/data/projects", headers=headers)).status_code for _ in range(count)
        ]
        fake.failure_rate(0)
        assert (await client.get("/data/projects", headers=headers)).status_code == 200
    return statuses


async def test_kitsu_failure_rate_is_seeded_and_ends() -> None:
    first = await _kitsu_statuses(seed=7, count=40)
    assert first == await _kitsu_statuses(seed=7, count=40)
    assert first != await _kitsu_statuses(seed=8, count=40)
    assert set(first) == {200, 500, 502}


def test_kitsu_failure_rate_timeouts_stall_then_answer() -> None:
    fake = FakeKitsu.empty()
    drawn = fake.failure_rate(1.0, timeout_share=1.0, stall=0.5, seed=1)
    with serve(fake.app) as base_url, pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{base_url}/", timeout=0.1)
    assert drawn == {"ok": 0, "status": 0, "timeout": 1}


async def test_ayon_failure_rate_statuses_timeouts_and_rejections(pg_dsn: str) -> None:
    project = f"fake_{uuid.uuid4().hex[:10]}"
    await create_project(pg_dsn, project)
    app = create_app(pg_dsn)
    headers = {"x-api-key": SERVICE_KEY}
    with serve(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=1.0) as client:

            async def create(name: str) -> int | str:
                body = {"name": name, "folderType": "Folder"}
                try:
                    answer = await client.post(f"/api/projects/{project}/folders", json=body)
                except httpx.ReadTimeout:
                    return "timeout"
                return answer.status_code

            async def names() -> set[str]:
                listing = await client.get(f"/api/projects/{project}/folders", timeout=5)
                return {folder["name"] for folder in listing.json()["folders"]}

            drawn = inject_failure_rate(
                app, 0.5, statuses=(503,), timeout_share=0.5, stall=1.5, seed=3, method="POST"
            )
            outcomes = [await create(f"f{i}") for i in range(24)]
            clear_faults(app)
            assert set(outcomes) == {201, 503, "timeout"}
            assert drawn == {
                "ok": outcomes.count(201),
                "status": outcomes.count(503),
                "timeout": outcomes.count("timeout"),
            }
            await asyncio.sleep(2.0)  # the stalled writes finish after the client gave up
            written = {f"f{i}" for i, outcome in enumerate(outcomes) if outcome != 503}
            assert await names() == written

            def too_wide(method: str, path: str, body: Any) -> bool:
                return isinstance(body, dict) and body.get("name") == "poison"

            inject_rejection(app, too_wide, status=400, detail="no poison here")
            refused = await client.post(
                f"/api/projects/{project}/folders", json={"name": "poison", "folderType": "Folder"}
            )
            assert (refused.status_code, refused.json()) == (
                400,
                {"code": 400, "detail": "no poison here"},
            )
            assert await create("fine") == 201
            unauthenticated = await client.post(
                f"/api/projects/{project}/folders",
                json={"name": "poison", "folderType": "Folder"},
                headers={"x-api-key": "wrong"},
            )
            assert unauthenticated.status_code == 401  # validation comes after authentication
            clear_faults(app)
            assert await create("poison") == 201
