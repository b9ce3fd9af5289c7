"""The API reader's reads and errors, over an httpx mock transport that answers as AYON 1.16 does
(shapes from ``tests/fixtures/ayon/graphql``): every connection paged to its end with an
explicit page size, any error anywhere fails the whole read, transient ones are tried again."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kitsync.ayon import (
    ApiReader,
    AyonAuthError,
    AyonNotFound,
    AyonQueryError,
    AyonUnavailable,
    GraphQL,
    IncompleteRead,
)
from kitsync.core.ids import ayon_id
from tests.conftest import FIXTURES

GRAPHQL = FIXTURES / "ayon" / "graphql"
KEY = "secret-service-key"
Answer = Callable[[dict[str, Any]], httpx.Response]


def _recorded(name: str) -> httpx.Response:
    doc = json.loads((GRAPHQL / f"{name}.json").read_text())
    return httpx.Response(doc["response"]["status"], json=doc["response"]["json"])


def _folder(index: int) -> dict[str, Any]:
    return {
        "node": {
            "id": f"{index:032x}",
            "name": f"f{index}",
            "label": None,
            "status": "Not ready",
            "tags": [],
            "active": True,
            "data": json.dumps({"kitsuId": f"k{index}"}),
            "ownAttrib": ["fps"] if index % 2 else [],
            "allAttrib": json.dumps({"fps": 24.0, "frameStart": 1001}),
            "folderType": "Shot",
            "parentId": None,
            "path": f"/f{index}",
        }
    }


def _page(edges: list[Any], has_next: bool, cursor: str | None) -> httpx.Response:
    page = {"pageInfo": {"hasNextPage": has_next, "endCursor": cursor}, "edges": edges}
    return httpx.Response(200, json={"data": {"project": {"folders": page}}})


def _pages_of(total: int, size: int) -> Answer:
    """Folders as AYON pages them: the last full page still says hasNextPage (an empty page
    follows)."""

    def answer(body: dict[str, Any]) -> httpx.Response:
        first, after = body["variables"]["first"], body["variables"]["after"]
        start = int(after) if after else 0
        edges = [_folder(i) for i in range(start, min(start + first, total))]
        cursor = str(start + len(edges)) if edges else None
        return _page(edges, len(edges) == first, cursor)

    return answer


class Server:
    """Answers each request with the next of ``answers`` (the last one repeats)."""

    def __init__(self, *answers: Answer | httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.bodies.append(body)
        assert request.headers["x-api-key"] == KEY
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(body)


def _reader(server: Server, page_size: int = 10) -> ApiReader:
    transport = httpx.MockTransport(server)
    graphql = GraphQL("http://ayon.test", KEY, transport=transport, retry_delay=0)
    return ApiReader(graphql, page_size=page_size)


async def test_every_page_is_read_with_an_explicit_size_to_the_very_end() -> None:
    server = Server(_pages_of(30, 10))
    folders = await _reader(server).project_folders("show")
    assert [f.name for f in folders] == [f"f{i}" for i in range(30)]
    # Three full pages, then the empty one AYON answers after a last full page.
    assert [b["variables"]["first"] for b in server.bodies] == [10, 10, 10, 10]
    assert [b["variables"]["after"] for b in server.bodies] == [None, "10", "20", "30"]
    # Own attributes only, data an object, path without its leading slash (as SQL gives them).
    assert folders[1].attrib == {"fps": 24.0} and folders[0].attrib == {}
    assert folders[3].data == {"kitsuId": "k3"} and folders[3].path == "f3"


async def test_a_graphql_error_answer_is_typed_and_no_partial_data_is_used() -> None:
    unknown = _reader(Server(_recorded("error_unknown_project")))
    with pytest.raises(AyonNotFound, match="Project not found"):
        await unknown.project_folders("nosuchproject")
    bad_filter = _reader(Server(_recorded("error_filter_bad_key")))
    with pytest.raises(AyonQueryError, match="Invalid key: nosuch"):
        await bad_filter.project_tasks("show")
    # 200 with data for the folder and an error beside it: the whole read fails.
    partial = _reader(Server(_recorded("folder_single_unknown")))
    with pytest.raises(AyonNotFound, match="Folder not found"):
        await partial.project_folders("show")


async def test_a_key_revoked_mid_read_fails_the_whole_read() -> None:
    revoked = httpx.Response(401, json={"code": 401, "detail": "Invalid session"})
    server = Server(_pages_of(30, 10), revoked)
    with pytest.raises(AyonAuthError, match="401: Invalid session") as raised:
        await _reader(server).project_folders("show")
    assert len(server.bodies) == 2  # not retried: a refused key stays refused
    assert KEY not in str(raised.value)


async def test_a_page_cut_by_a_timeout_is_retried_then_fails_as_transient() -> None:
    pages = _pages_of(30, 10)
    once = Server(pages, httpx.ReadTimeout("timed out"), pages)
    assert len(await _reader(once).project_folders("show")) == 30

    always = Server(pages, httpx.ReadTimeout("timed out"))
    with pytest.raises(AyonUnavailable, match="timed out"):
        await _reader(always).project_folders("show")
    assert len(always.bodies) == 1 + 3  # the first page, then the second tried three times


async def test_an_answer_cut_short_or_without_a_cursor_is_an_incomplete_read() -> None:
    cut = httpx.Response(200, content=b'{"data": {"project": {"folders": {"pageInf')
    with pytest.raises(IncompleteRead, match="cut short"):
        await _reader(Server(cut)).project_folders("show")
    no_cursor = _page([_folder(0)], True, None)
    with pytest.raises(IncompleteRead, match="no cursor"):
        await _reader(Server(no_cursor)).project_folders("show")
    assert issubclass(IncompleteRead, AyonUnavailable)  # retried by the worker


async def test_kitsyncs_own_entities_are_read_by_id_and_only_the_rest_by_kitsu_id() -> None:
    own = {**_folder(0)["node"], "id": ayon_id("k-own"), "data": '{"kitsuId":"k-own"}'}
    adopted = {**_folder(1)["node"], "data": '{"kitsuId":"k-adopted"}'}

    def answer(body: dict[str, Any]) -> httpx.Response:
        variables = body["variables"]
        found = [own] if "ids" in variables else [adopted]
        return _page([{"node": node} for node in found], False, None)

    server = Server(answer)
    found = await _reader(server).folders_by_kitsu_ids("show", ["k-own", "k-adopted"])
    assert {k: f.id for k, f in found.items()} == {"k-own": own["id"], "k-adopted": adopted["id"]}
    assert set(server.bodies[0]["variables"]["ids"]) == {ayon_id("k-adopted"), own["id"]}
    condition = json.loads(server.bodies[1]["variables"]["filter"])["conditions"][0]
    assert condition == {"key": "data.kitsuId", "operator": "in", "value": ["k-adopted"]}

    only_own = Server(answer)
    await _reader(only_own).folders_by_kitsu_ids("show", ["k-own"])
    assert len(only_own.bodies) == 1  # found active by its id: no data.kitsuId filter
