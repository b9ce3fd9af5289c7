"""Contract of the fake AYON's GraphQL: replay every request recorded from a real AYON 1.16
(``tests/fixtures/ayon/graphql/``) in recording order against one fake on a database of its own,
and compare each answer with the recorded one (status, content type, and the body's keys, JSON
types and values; timestamps by type only).

The recording server held other users and projects than the ones the recordings create; they
are set up first, as they were there. ``ownAttrib`` and ``usedTags`` lists come from sets in AYON,
so their order is arbitrary and they are compared as sets.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import get_introspection_query

from tests.conftest import FIXTURES
from tests.fakes.ayon import create_app, create_project
from tests.fakes.serve import serve
from tests.integration.test_fake_ayon_contract import contract_dsn, diff

pytestmark = pytest.mark.integration

RECORDED = FIXTURES / "ayon" / "graphql"
RECORDED_KEY = "<service-user-api-key>"
RECORDED_USER = "kitsync"
FIXTURE_DOCS = sorted(
    (
        json.loads(path.read_text())
        for path in RECORDED.glob("*.json")
        if path.name not in ("introspection.json",)
    ),
    key=lambda doc: doc["sequence"],
)
# Lists built from a Python set on the server: compared as sets.
SET_KEYS = frozenset({"ownAttrib", "own1", "own2", "usedTags"})
# What else the recording server held (users_all, projects_list show it).
OTHER_USERS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("aanders", {"email": "alice.anders@example.com", "fullName": "Alice Anders"}, {}),
    ("admin", {"fullName": "AYON admin"}, {"isAdmin": True}),
    ("bbaptiste", {"email": "bruno.baptiste@example.com", "fullName": "Bruno Baptiste"}, {}),
    ("ccastel", {"email": "chloe.castel@example.com", "fullName": "Chloe Castel"}, {}),
]
OTHER_PROJECTS = ["acc_film", "acc_scale_x1", "acc_scale_x3", "acc_show"]

__all__ = ["contract_dsn"]  # the database fixture, shared with the REST contract


def _comparable(value: Any) -> Any:
    """Set-like lists sorted; the server-generated ids of /operations results left out."""
    if isinstance(value, dict):
        return {
            key: sorted(item) if key in SET_KEYS and isinstance(item, list) else _comparable(item)
            for key, item in value.items()
            if not (key == "id" and "entityType" in value and "success" in value)
        }
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


@pytest.fixture(scope="module")
async def graphql_client(contract_dsn: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(contract_dsn, api_keys={RECORDED_KEY: RECORDED_USER})
    with serve(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            # The first request runs the app's lifespan (public tables, the service user).
            assert (await client.get("/api/info")).status_code == 200
            conn = await asyncpg.connect(contract_dsn)
            try:
                await conn.execute(
                    "UPDATE public.users SET attrib = $2::jsonb WHERE name = $1",
                    RECORDED_USER,
                    json.dumps({"fullName": "Kitsu sync service"}),
                )
                for name, attrib, data in OTHER_USERS:
                    await conn.execute(
                        "INSERT INTO public.users (name, attrib, data) "
                        "VALUES ($1, $2::jsonb, $3::jsonb)",
                        name,
                        json.dumps(attrib),
                        json.dumps(data),
                    )
            finally:
                await conn.close()
            for project in OTHER_PROJECTS:
                await create_project(contract_dsn, project)
            yield client


@pytest.mark.parametrize("doc", FIXTURE_DOCS, ids=[doc["name"] for doc in FIXTURE_DOCS])
async def test_recorded_graphql_call(
    graphql_client: httpx.AsyncClient, doc: dict[str, Any]
) -> None:
    request, recorded = doc["request"], doc["response"]
    headers = {k: v for k, v in request["headers"].items() if k.lower() != "content-type"}
    if headers.pop("authorization", None) is not None:  # the recorder's admin session
        headers["x-api-key"] = RECORDED_KEY
    body = request["json"]
    if isinstance(body, dict) and str(body.get("anatomy", "")).startswith("<"):
        body = {k: v for k, v in body.items() if k != "anatomy"}  # the default, left out
    if doc["name"] == "schema_introspection":
        body = {"query": get_introspection_query(descriptions=True)}
        expected = json.loads((RECORDED / "introspection.json").read_text())
    else:
        expected = recorded["json"]

    response = await graphql_client.request(
        request["method"], request["path"], json=body, headers=headers
    )

    problems = []
    if response.status_code != recorded["status"]:
        problems.append(f"status {response.status_code} != {recorded['status']}: {response.text}")
    content_type = response.headers.get("content-type", "").split(";")[0]
    if content_type != (recorded["content_type"] or "").split(";")[0]:
        problems.append(f"content type {content_type!r} != {recorded['content_type']!r}")
    if expected is None:
        if "text" in recorded:
            if response.text != recorded["text"]:
                problems.append(f"body {response.text!r} != {recorded['text']!r}")
        elif response.content != (b"" if recorded["empty_body"] else b"null"):
            problems.append(f"body {response.content!r}, recorded empty: {recorded['empty_body']}")
    else:
        problems += diff(_comparable(expected), _comparable(response.json()), "body")
    assert not problems, "\n".join([*problems[:40], f"answer: {response.text[:400]}"])
