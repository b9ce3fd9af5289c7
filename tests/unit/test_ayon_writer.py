"""AyonWriter against recorded AYON answers, replayed through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from kitsync.ayon import (
    AyonAuthError,
    AyonBadRequest,
    AyonConflict,
    AyonError,
    AyonNotFound,
    AyonUnavailable,
    AyonWriter,
    OperationFailed,
    UnsafeProjectName,
)
from kitsync.errors import TransientError
from kitsync.schemas.ayon import AnatomyItem, LinkCreate, LinkTypeItem, Operation
from tests.conftest import FIXTURES

KEY = "sk-test-0123456789abcdef-secret"
BASE = "http://ayon.test"
P = "kitsync_fx"

Handler = Callable[[httpx.Request], httpx.Response]


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "ayon" / f"{name}.json").read_text())


def recorded(name: str) -> httpx.Response:
    """The response a real AYON gave for fixture ``name``."""
    answer = fixture(name)["response"]
    if answer["json"] is None:
        return httpx.Response(answer["status"])
    return httpx.Response(answer["status"], json=answer["json"])


class Recorder:
    """A MockTransport handler: answers with ``handler`` and keeps every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) if r.content else None for r in self.requests]

    def calls(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]


def writer(recorder: Recorder, **options: Any) -> AyonWriter:
    return AyonWriter(BASE, KEY, transport=httpx.MockTransport(recorder), **options)


def replay(*names: str) -> Recorder:
    answers = iter(names)
    return Recorder(lambda _request: recorded(next(answers)))


def folder_op(index: int) -> Operation:
    return Operation(
        type="create",
        entity_type="folder",
        entity_id=f"{index:032x}",
        data={"name": f"f{index}", "folderType": "Folder"},
    )


def echo_success(request: httpx.Request) -> httpx.Response:
    """A successful operations answer for whatever batch was sent."""
    ops = json.loads(request.content)["operations"]
    results = [
        {
            "id": f"{9000 + i:032x}",
            "type": op["type"],
            "entityType": op["entityType"],
            "entityId": op.get("entityId"),
            "success": True,
            "status": 201,
            "errorCode": None,
            "detail": None,
        }
        for i, op in enumerate(ops)
    ]
    return httpx.Response(200, json={"operations": results, "success": True})


# ----------------------------------------------------------------------------- headers and auth


async def test_every_request_carries_key_and_sender_headers() -> None:
    recorder = replay("auth_apikey_ok", "projects_get", "events_create_with_hash")
    async with writer(recorder) as ayon:
        me = await ayon.me()
        await ayon.get_project(P)
        await ayon.emit_event("kitsu.event", project=P, hash="h1")
    assert me.name == "kitsu_sync" and me.is_service
    for request in recorder.requests:
        assert request.headers["x-api-key"] == KEY
        assert request.headers["x-sender"] == "kitsync"
        assert request.headers["x-sender-type"] == "kitsu"


async def test_bad_key_is_an_auth_error_without_the_key_in_it() -> None:
    async with writer(replay("auth_apikey_bad")) as ayon:
        with pytest.raises(AyonAuthError) as caught:
            await ayon.me()
    assert caught.value.status == 401
    assert "Invalid API key" in str(caught.value)
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)


async def test_key_echoed_by_a_proxy_is_scrubbed_and_never_in_the_writer_repr() -> None:
    echo = Recorder(lambda r: httpx.Response(502, text=f"bad gateway for {r.headers['x-api-key']}"))
    async with writer(echo) as ayon:
        assert KEY not in repr(ayon)
        with pytest.raises(AyonUnavailable) as caught:
            await ayon.get_project(P)
    assert KEY not in str(caught.value) and "***" in str(caught.value)


# ----------------------------------------------------------------------------- operations


async def test_operations_are_sent_in_order_in_atomic_chunks() -> None:
    recorder = Recorder(echo_success)
    ops = [folder_op(i) for i in range(5)]
    async with writer(recorder, chunk_size=2) as ayon:
        results = await ayon.operations(P, ops)
    assert recorder.calls() == [("POST", f"/api/projects/{P}/operations")] * 3
    sent = [op["entityId"] for body in recorder.bodies() for op in body["operations"]]
    assert sent == [op.entity_id for op in ops]
    assert [len(body["operations"]) for body in recorder.bodies()] == [2, 2, 1]
    assert all(body["canFail"] is False for body in recorder.bodies())
    assert "raiseOnError" not in recorder.bodies()[0]
    assert [r.entity_id for r in results] == [op.entity_id for op in ops]


async def test_no_operations_make_no_request() -> None:
    recorder = Recorder(echo_success)
    async with writer(recorder) as ayon:
        assert await ayon.operations(P, []) == []
    assert recorder.requests == []


async def test_success_false_raises_operation_failed_naming_the_failing_op() -> None:
    failing = fixture("operations_failing_default")
    answers = iter([None, recorded("operations_failing_default")])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        return answer if answer is not None else echo_success(request)

    first_chunk = [folder_op(i) for i in range(3)]
    second_chunk = [Operation.model_validate(op) for op in failing["request"]["json"]["operations"]]
    async with writer(Recorder(handler), chunk_size=3) as ayon:
        with pytest.raises(OperationFailed) as caught:
            await ayon.operations(P, first_chunk + second_chunk)
    error = caught.value
    assert (error.index, error.committed, error.status) == (4, 3, 409)
    assert error.result.error_code == "unique-violation"
    assert error.operation.entity_id == "cceaaa7dabc756daa23a2459173a7748"
    message = str(error)
    for part in (
        "operation 4",
        "create folder cceaaa7dabc756daa23a2459173a7748",
        "409",
        "unique-violation",
        "sh010' already exists",
        "3 earlier operations were applied",
    ):
        assert part in message
    assert isinstance(error, AyonError) and not isinstance(error, TransientError)


async def test_update_of_unknown_entity_reports_not_found_code() -> None:
    body = fixture("operations_update_unknown_entity")["request"]["json"]
    ops = [Operation.model_validate(op) for op in body["operations"]]
    async with writer(replay("operations_update_unknown_entity")) as ayon:
        with pytest.raises(OperationFailed, match="404 not-found") as caught:
            await ayon.operations(P, ops)
    assert caught.value.index == 0 and caught.value.committed == 0


async def test_conflict_keeps_ayons_detail() -> None:
    async with writer(replay("operations_failing_raise_on_error")) as ayon:
        with pytest.raises(AyonConflict) as caught:
            await ayon.operations(P, [folder_op(1)])
    detail = fixture("operations_failing_raise_on_error")["response"]["json"]["detail"]
    assert caught.value.detail == detail
    assert f"POST /api/projects/{P}/operations -> 409" in str(caught.value)


async def test_whole_request_400_is_bad_request() -> None:
    async with writer(replay("operations_duplicate_op")) as ayon:
        with pytest.raises(AyonBadRequest, match="Duplicate operation for folder"):
            await ayon.operations(P, [folder_op(1)])


# ----------------------------------------------------------------------------- transient errors


@pytest.mark.parametrize(
    "failure",
    [
        lambda r: httpx.Response(503, json={"detail": "Service Unavailable"}),
        lambda r: recorded("projects_create_bad_name"),  # a 500 with a traceback
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("timed out", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("connection refused", request=r)),
    ],
    ids=["503", "500", "timeout", "connect-error"],
)
async def test_server_errors_and_timeouts_are_transient(failure: Handler) -> None:
    async with writer(Recorder(failure)) as ayon:
        with pytest.raises(AyonUnavailable) as caught:
            await ayon.operations(P, [folder_op(1)])
    assert isinstance(caught.value, TransientError)
    assert f"POST /api/projects/{P}/operations" in str(caught.value)
    assert "traceback" not in str(caught.value)
    assert caught.value.__cause__ is None  # the httpx request (with the key) is not chained


async def test_request_validation_400_names_the_field() -> None:
    async with writer(replay("folders_create_bad_name")) as ayon:
        with pytest.raises(AyonBadRequest, match=r"body\.name: string does not match regex"):
            await ayon.operations(P, [folder_op(1)])


# ----------------------------------------------------------------------------- links


async def test_links_go_through_bulk_in_chunks_and_return_the_ids() -> None:
    links = [
        LinkCreate(
            id=f"{i:032x}",
            input="a" * 32,
            output=f"{100 + i:032x}",
            link_type="breakdown|folder|folder",
        )
        for i in range(3)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["links"]
        return httpx.Response(200, json={"created": sent})

    recorder = Recorder(handler)
    async with writer(recorder, chunk_size=2) as ayon:
        ids = await ayon.create_links(P, links)
        assert await ayon.create_links(P, []) == []  # AYON would still write an event
    assert ids == [link.id for link in links]
    assert recorder.calls() == [("POST", f"/api/projects/{P}/links/bulk")] * 2
    assert recorder.bodies()[0]["links"][0] == {
        "id": links[0].id,
        "input": "a" * 32,
        "output": links[0].output,
        "linkType": "breakdown|folder|folder",
    }


async def test_bulk_answer_ids_include_server_generated_ones() -> None:
    body = fixture("links_bulk_create")["request"]["json"]
    async with writer(replay("links_bulk_create")) as ayon:
        ids = await ayon.create_links(P, _links(body))
    assert ids[2] == "aae1f78ceaa711f1aa3d02fc00000001"


async def test_bulk_conflict_is_a_conflict() -> None:
    body = fixture("links_bulk_one_duplicate_id")["request"]["json"]
    async with writer(replay("links_bulk_one_duplicate_id")) as ayon:
        with pytest.raises(AyonConflict, match="One or more link IDs already exist"):
            await ayon.create_links(P, _links(body))


async def test_deleting_a_missing_link_is_success() -> None:
    recorder = replay("links_delete", "links_delete_unknown")
    link_id = "c19771b6fe3855788143ba0bf58c7ae1"
    async with writer(recorder) as ayon:
        assert await ayon.delete_link(P, link_id) is True
        assert await ayon.delete_link(P, link_id) is False
    assert recorder.calls() == [("DELETE", f"/api/projects/{P}/links/{link_id}")] * 2


async def test_delete_links_counts_the_ones_still_there() -> None:
    gone = {f"{2:032x}"}

    def handler(request: httpx.Request) -> httpx.Response:
        link_id = request.url.path.rsplit("/", 1)[1]
        return recorded("links_delete_unknown" if link_id in gone else "links_delete")

    recorder = Recorder(handler)
    ids = [f"{i:032x}" for i in range(1, 6)]
    async with writer(recorder, max_connections=2) as ayon:
        assert await ayon.delete_links(P, [*ids, ids[0]]) == 4
    assert sorted(path.rsplit("/", 1)[1] for _, path in recorder.calls()) == ids


async def test_delete_links_raises_the_first_real_failure() -> None:
    recorder = Recorder(lambda r: httpx.Response(503, json={"detail": "down"}))
    async with writer(recorder) as ayon:
        with pytest.raises(AyonUnavailable):
            await ayon.delete_links(P, [f"{i:032x}" for i in range(3)])


# ----------------------------------------------------------------------------- events


async def test_event_body_is_what_ayon_expects() -> None:
    recorded_body = fixture("events_create_with_hash")["request"]["json"]
    recorder = replay("events_create_with_hash")
    async with writer(recorder) as ayon:
        event_id = await ayon.emit_event(
            recorded_body["topic"],
            project=recorded_body["project"],
            hash=recorded_body["hash"],
            description=recorded_body["description"],
            summary=recorded_body["summary"],
            payload=recorded_body["payload"],
        )
    assert event_id == "b2a91388eaa711f1aa3d02fc00000001"
    assert recorder.bodies() == [recorded_body]
    assert recorder.calls() == [("POST", "/api/events")]


async def test_duplicate_event_hash_means_already_recorded() -> None:
    async with writer(replay("events_create_duplicate_hash")) as ayon:
        assert await ayon.emit_event("kitsu.event", project=P, hash="kitsu-event-1") is None


# ----------------------------------------------------------------------------- projects


async def test_anatomy_addition_sends_the_full_current_list_plus_the_new_item() -> None:
    current = fixture("projects_get")["response"]["json"]
    recorder = replay("projects_get", "projects_patch_add_task_type")
    layout = AnatomyItem(name="Layout", shortName="lay")  # already there
    storyboard = AnatomyItem(name="Storyboard", shortName="stb", color="#aa00ff")
    async with writer(recorder) as ayon:
        assert await ayon.add_anatomy_items(P, task_types=[layout, storyboard, storyboard])
    assert recorder.calls() == [("GET", f"/api/projects/{P}"), ("PATCH", f"/api/projects/{P}")]
    patch = recorder.bodies()[1]
    assert patch == {
        "taskTypes": [
            *current["taskTypes"],
            {"name": "Storyboard", "shortName": "stb", "color": "#aa00ff"},
        ]
    }


async def test_anatomy_update_changes_the_given_fields_of_an_item_in_place() -> None:
    current = fixture("projects_get")["response"]["json"]
    recorder = replay("projects_get", "projects_patch_add_task_type")
    recolour = AnatomyItem(name="IN PROGRESS", color="#123456", shortName="PRG")
    async with writer(recorder) as ayon:
        assert await ayon.add_anatomy_items(P, statuses=[recolour], update_existing=True)
    statuses = recorder.bodies()[1]["statuses"]
    position = [item["name"] for item in current["statuses"]].index("In progress")
    # Its name, place, state and scope as AYON has them; only the colour changes.
    assert statuses[position] == current["statuses"][position] | {"color": "#123456"}
    assert statuses[:position] + statuses[position + 1 :] == (
        current["statuses"][:position] + current["statuses"][position + 1 :]
    )


async def test_anatomy_update_of_items_in_step_sends_nothing() -> None:
    current = fixture("projects_get")["response"]["json"]
    recorder = replay("projects_get")
    same = AnatomyItem(name="in progress", **{k: current["statuses"][2][k] for k in ("color",)})
    async with writer(recorder) as ayon:
        assert not await ayon.add_anatomy_items(P, statuses=[same], update_existing=True)
    assert recorder.calls() == [("GET", f"/api/projects/{P}")]


async def test_link_type_addition_keeps_every_existing_link_type() -> None:
    current = fixture("projects_get")["response"]["json"]
    recorder = replay("projects_get", "projects_patch_add_link_type")
    async with writer(recorder) as ayon:
        added = await ayon.add_anatomy_items(
            P, link_types=[LinkTypeItem(name="casting|folder|folder", data={"color": "#00aaff"})]
        )
    assert added
    patch = recorder.bodies()[1]
    assert patch == fixture("projects_patch_add_link_type")["request"]["json"]
    assert patch["linkTypes"][:-1] == current["linkTypes"]


async def test_anatomy_addition_matches_names_ignoring_case_and_skips_the_patch() -> None:
    recorder = replay("projects_get", "projects_get")
    async with writer(recorder) as ayon:
        assert not await ayon.add_anatomy_items(
            P,
            folder_types=[AnatomyItem(name="shot")],
            statuses=[AnatomyItem(name="IN PROGRESS")],
            link_types=[LinkTypeItem(name="breakdown|folder|folder")],
        )
        assert not await ayon.add_anatomy_items(P)
    # Fresh read every time, and no PATCH at all.
    assert recorder.calls() == [("GET", f"/api/projects/{P}")] * 2


async def test_update_project_and_unknown_project() -> None:
    recorder = replay("projects_patch_attrib_data", "projects_patch_unknown_project")
    patch = fixture("projects_patch_attrib_data")["request"]["json"]
    async with writer(recorder) as ayon:
        await ayon.update_project(P, patch)
        with pytest.raises(AyonNotFound):
            await ayon.update_project("nosuchproject", patch)
    assert recorder.bodies() == [patch, patch]


@pytest.mark.parametrize("name", ["../users", "a b", "p;drop", "", "proj\n"])
async def test_unsafe_project_name_is_refused_before_any_request(name: str) -> None:
    recorder = Recorder(echo_success)
    async with writer(recorder) as ayon:
        with pytest.raises(UnsafeProjectName):
            await ayon.operations(name, [folder_op(1)])
        with pytest.raises(UnsafeProjectName):
            await ayon.add_anatomy_items(name, task_types=[AnatomyItem(name="X")])
    assert recorder.requests == []


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        AyonWriter(BASE, KEY, chunk_size=0)


async def test_a_fan_out_of_thousands_waits_for_the_process_wide_limit() -> None:
    """A storm's 1,440 event records once queued behind httpx's pool and timed out: every
    request now waits for one of the writer's slots, whatever the call site."""
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        return recorded("events_create_with_hash")

    ayon = AyonWriter(BASE, KEY, transport=httpx.MockTransport(slow), max_connections=4)
    async with ayon:
        created = await asyncio.gather(
            *(
                ayon.emit_event("kitsu.event", project=P, hash=f"h{i}", description="d")
                for i in range(300)
            ),
            ayon.delete_links(P, [f"{i:032x}" for i in range(1, 50)]),
        )
    assert len(created) == 301 and peak == 4


def _links(body: dict[str, Any]) -> list[LinkCreate]:
    return TypeAdapter(list[LinkCreate]).validate_python(body["links"])
