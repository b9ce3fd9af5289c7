"""Contract of the fake AYON server: replay every recorded AYON 1.16 call against it.

Each recorded fixture is one test, replayed in recording order against one fake on a database of
its own (later calls depend on the state earlier ones left; selecting one test replays the
earlier ones first). For each call: same status, same body shape (keys and JSON types,
recursively) with equal values wherever they are deterministic, the same event rows (topics,
senders, summaries, payloads) as ``events.json``, and the recorded ``observed_after`` state.

Server-generated ids differ from run to run: the first time a recorded answer shows an id that
no request has mentioned yet, it is mapped to the fake's id, and later requests and expected
answers are translated through that map.

The direct tests at the end pin the rules kitsync relies on most.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import FIXTURES, database_dsn, own_database
from tests.fakes.ayon import (
    HUMAN_KEY,
    SERVICE_KEY,
    create_app,
    create_project,
    inject_delay,
    inject_failures,
)
from tests.fakes.serve import serve

pytestmark = pytest.mark.integration

RECORDED = FIXTURES / "ayon"
# The recordings' redacted API key: the replay's fake accepts it as the service user's key.
RECORDED_KEY = "<service-user-api-key>"
RECORDED_USER = "kitsu_sync"

FIXTURE_DOCS = sorted(
    (
        json.loads(path.read_text())
        for path in RECORDED.glob("*.json")
        if path.name != "events.json"
    ),
    key=lambda doc: doc["sequence"],
)
EVENT_ROWS = {
    call["call"]: call["events"]
    for call in json.loads((RECORDED / "events.json").read_text())["calls"]
}

# Values that change from run to run: only their JSON type is compared.
VOLATILE_KEYS = frozenset(
    [
        "createdAt",
        "updatedAt",
        "thumbnailHash",
        "request_id",
        "activity_id",
        "apiKey",
        "apiKeyPreview",
    ]
)
# README: "activity.created rows also show up ... A fake may ignore them."
IGNORED_TOPICS = frozenset({"activity.created"})
# AYON builds the list /assign answers from a Python set, so its order is arbitrary.
ORDER_FREE_FIXTURES = frozenset({"tasks_assign_add"})

HERO = "03acd03ea5a65b4491d90952446d0ba8"
SH010 = "13e442f61d285c3392719e43893b959f"
SH900 = "babb1f9c7da05e5cb190dd5471426aea"
TO_DELETE, CHILD, GRANDCHILD = (
    "2a7968d5c9865d06b323b9ed2e61a993",
    "5868bd2e1f0e5fe3890bad1fde96e36c",
    "8ff8e3c6b54a5ebc844bc33390d9adaf",
)
CHILD_TASK = "7282c4b17fdd507fb05868b30afe9041"
FX2_SHOTS, FX2_SH010 = (
    uuid.uuid5(uuid.NAMESPACE_URL, "fx2/shots").hex,
    uuid.uuid5(uuid.NAMESPACE_URL, "fx2/sh010").hex,
)
BREAKDOWN = "breakdown|folder|folder"
_GONE_LINK = uuid.uuid5(uuid.NAMESPACE_URL, "kitsync_fx/gone-link").hex

# Calls the recorder made between recorded calls (the state they left is visible in the
# recordings). They are replayed through the fake's API before the named fixture.
Step = tuple[str, str, Any]
_DELETE_SH900: list[Step] = [("DELETE", f"/api/projects/kitsync_fx/folders/{SH900}", None)]
SETUP: dict[str, list[Step]] = {
    # graphql_project_links_all shows no link with cursor (creation_order) 6: one was made and
    # removed between these recorded calls.
    "links_create_deprecated_link_field": [
        (
            "POST",
            "/api/projects/kitsync_fx/links",
            {"id": _GONE_LINK, "input": HERO, "output": SH010, "linkType": BREAKDOWN},
        ),
        ("DELETE", f"/api/projects/kitsync_fx/links/{_GONE_LINK}", None),
    ],
    # operations_failing_can_fail committed sh900; the next call creates it again (201).
    "operations_failing_can_fail_raise": _DELETE_SH900,
    # Its create answers a foreign-key violation, so sh900 (same id) no longer existed.
    "operations_unknown_parent": _DELETE_SH900,
    "folders_delete_with_children": [
        (
            "POST",
            "/api/projects/kitsync_fx/folders",
            {"id": TO_DELETE, "name": "to_delete", "folderType": "Folder"},
        ),
        (
            "POST",
            "/api/projects/kitsync_fx/folders",
            {"id": CHILD, "name": "child", "folderType": "Folder", "parentId": TO_DELETE},
        ),
        (
            "POST",
            "/api/projects/kitsync_fx/folders",
            {"id": GRANDCHILD, "name": "grandchild", "folderType": "Folder", "parentId": CHILD},
        ),
        (
            "POST",
            "/api/projects/kitsync_fx/tasks",
            {"id": CHILD_TASK, "name": "work", "taskType": "Generic", "folderId": CHILD},
        ),
        (
            "POST",
            "/api/projects/kitsync_fx/links/bulk",
            {
                "links": [
                    {"input": HERO, "output": TO_DELETE, "linkType": BREAKDOWN},
                    {
                        "id": "ce7c7f0a81fb5f748f2110075cfed9f8",
                        "input": HERO,
                        "output": CHILD,
                        "linkType": BREAKDOWN,
                    },
                    {
                        "id": "a3cb52b51ee75e8f99f09354a6b695de",
                        "input": GRANDCHILD,
                        "output": SH010,
                        "linkType": BREAKDOWN,
                    },
                ]
            },
        ),
    ],
    # kitsync_fx2 had a Shot folder and one template link before its anatomy PATCHes.
    "projects_patch_folder_types_subset_unused": [
        (
            "POST",
            "/api/projects/kitsync_fx2/folders",
            {"id": FX2_SHOTS, "name": "shots", "folderType": "Folder"},
        ),
        (
            "POST",
            "/api/projects/kitsync_fx2/folders",
            {"id": FX2_SH010, "name": "sh010", "folderType": "Shot", "parentId": FX2_SHOTS},
        ),
        (
            "POST",
            "/api/projects/kitsync_fx2/links",
            {"input": FX2_SHOTS, "output": FX2_SH010, "linkType": "template|folder|folder"},
        ),
    ],
}

_HEX = re.compile(r"[0-9a-f]{32}")


# --- comparison --------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def diff(expected: Any, actual: Any, where: str = "$", *, order_free: bool = False) -> list[str]:
    """Differences between a recorded value and the fake's: keys, JSON types, and values."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {_json_type(actual)}"]
        problems = []
        if expected.keys() != actual.keys():
            problems.append(
                f"{where}: keys differ: missing {sorted(expected.keys() - actual.keys())}, "
                f"unexpected {sorted(actual.keys() - expected.keys())}"
            )
        for key in expected.keys() & actual.keys():
            if key in VOLATILE_KEYS:
                if _json_type(expected[key]) != _json_type(actual[key]):
                    problems.append(f"{where}.{key}: type {_json_type(actual[key])}")
                continue
            problems += diff(expected[key], actual[key], f"{where}.{key}", order_free=order_free)
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list, got {_json_type(actual)}"]
        if len(expected) != len(actual):
            return [f"{where}: expected {len(expected)} items, got {len(actual)}: {actual!r}"]
        if order_free and all(isinstance(item, str) for item in expected + actual):
            expected, actual = sorted(expected), sorted(actual)
        if where.endswith(".folders"):  # listed by id; mapped server ids sort differently
            expected = sorted(expected, key=lambda item: item["id"])
            actual = sorted(actual, key=lambda item: item["id"])
        problems = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problems += diff(want, got, f"{where}[{index}]", order_free=order_free)
        return problems
    if isinstance(expected, str) and expected.startswith("<omitted by recorder"):
        return [] if isinstance(actual, str) else [f"{where}: expected a string"]
    if _json_type(expected) != _json_type(actual):
        return [f"{where}: expected {_json_type(expected)} {expected!r}, got {actual!r}"]
    return [] if expected == actual else [f"{where}: expected {expected!r}, got {actual!r}"]


# --- replay ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    response: httpx.Response
    events: list[dict[str, Any]]  # rows inserted or updated by the call, in creation order
    inserted: set[int]  # creation_order of the rows among them that the call inserted


@dataclass
class Replayer:
    client: httpx.AsyncClient
    pool: asyncpg.Pool
    ids: dict[str, str] = field(default_factory=dict)  # recorded server id -> fake's id
    mentioned: set[str] = field(default_factory=set)  # ids seen in requests so far
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def mapped(self, value: Any) -> Any:
        """A recorded value with recorded server-generated ids replaced by the fake's."""
        if isinstance(value, str):
            for recorded, fake in self.ids.items():
                value = value.replace(recorded, fake)
            return value
        if isinstance(value, list):
            return [self.mapped(item) for item in value]
        if isinstance(value, dict):
            return {key: self.mapped(item) for key, item in value.items()}
        return value

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.request(
            method,
            path,
            json=body,
            headers=headers if headers is not None else {"x-api-key": RECORDED_KEY},
        )

    async def outcome(self, doc: dict[str, Any]) -> Outcome:
        """Replay ``doc`` (and, first, every earlier call not replayed yet)."""
        for earlier in FIXTURE_DOCS:
            if earlier["sequence"] > doc["sequence"]:
                break
            if earlier["name"] not in self.outcomes:
                self.outcomes[earlier["name"]] = await self._replay(earlier)
        return self.outcomes[doc["name"]]

    async def _replay(self, doc: dict[str, Any]) -> Outcome:
        for method, path, body in SETUP.get(doc["name"], []):
            response = await self.call(method, path, body)
            assert response.status_code < 300, (doc["name"], path, response.text)
        request = doc["request"]
        # Lower-cased: an id sent in upper case is still the client's, not the server's.
        self.mentioned |= set(_HEX.findall(json.dumps(request).lower()))
        headers = {k: v for k, v in request["headers"].items() if k.lower() != "content-type"}
        before = await self._event_rows()
        response = await self.call(
            request["method"], self.mapped(request["path"]), self.mapped(request["json"]), headers
        )
        self._learn_ids(doc["response"]["json"], _json_or_none(response))
        after = await self._event_rows()
        changed = [row for key, row in after.items() if before.get(key) != row]
        return Outcome(response, changed, after.keys() - before.keys())

    def _learn_ids(self, recorded: Any, actual: Any) -> None:
        if isinstance(recorded, dict) and isinstance(actual, dict):
            for key, value in recorded.items():
                if (
                    key == "id"
                    and isinstance(value, str)
                    and _HEX.fullmatch(value)
                    and value not in self.mentioned
                    and isinstance(actual.get(key), str)
                ):
                    self.ids.setdefault(value, actual[key])
                self._learn_ids(value, actual.get(key))
        elif isinstance(recorded, list) and isinstance(actual, list):
            for want, got in zip(recorded, actual, strict=False):
                self._learn_ids(want, got)

    async def _event_rows(self) -> dict[int, dict[str, Any]]:
        rows = await self.pool.fetch("SELECT * FROM public.events ORDER BY creation_order")
        return {row["creation_order"]: dict(row) for row in rows}


def _json_or_none(response: httpx.Response) -> Any:
    return response.json() if response.content else None


@pytest.fixture(scope="module")
def contract_dsn() -> Iterator[str]:
    """A database of its own: the recordings use fixed names, codes, ids and event hashes."""
    with own_database("kitsync_test_ayon_contract_") as name:
        yield database_dsn(name)


@pytest.fixture(scope="module")
async def replayer(contract_dsn: str) -> AsyncIterator[Replayer]:
    app = create_app(contract_dsn, api_keys={RECORDED_KEY: RECORDED_USER})
    with serve(app) as base_url:
        pool = await asyncpg.create_pool(contract_dsn, min_size=1, max_size=2, init=_codecs)
        try:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
                yield Replayer(client, pool)
        finally:
            await pool.close()


async def _codecs(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


# --- observed_after ----------------------------------------------------------------------------


Observer = Callable[[Replayer, dict[str, Any], "re.Match[str]"], Awaitable[Any]]


def _project_of(doc: dict[str, Any]) -> str:
    return str(doc["request"]["path"]).split("/")[3]


async def _get(replayer: Replayer, path: str) -> dict[str, Any]:
    response = await replayer.call("GET", path)
    return {"status": response.status_code, "json": _json_or_none(response)}


async def _project_field(replayer: Replayer, doc: dict[str, Any], match: re.Match[str]) -> Any:
    project = (await _get(replayer, f"/api/projects/{_project_of(doc)}"))["json"]
    key = match["key"]
    if key == "attrib.fps":
        return project["attrib"]["fps"]
    if key == "data":
        return project["data"]
    return [item["name"] for item in project[key]]


_SUBTREE = (TO_DELETE, CHILD, GRANDCHILD)
# observed_after "DB <what>" entries: (query, ids bound to $1).
_DB_QUERIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "folder_types": ("SELECT name FROM {s}.folder_types ORDER BY position", ()),
    "link_types": ("SELECT name FROM {s}.link_types ORDER BY name", ()),
    "links count": ("SELECT COUNT(*) AS count FROM {s}.links", ()),
    "folders rows for parent/child/grandchild": (
        "SELECT id FROM {s}.folders WHERE id = ANY($1::UUID[])",
        _SUBTREE,
    ),
    "tasks rows for task": ("SELECT id FROM {s}.tasks WHERE id = ANY($1::UUID[])", (CHILD_TASK,)),
    "links rows touching parent/child/grandchild": (
        "SELECT id, input_id, output_id, link_type FROM {s}.links "
        "WHERE input_id = ANY($1::UUID[]) OR output_id = ANY($1::UUID[]) ORDER BY creation_order",
        _SUBTREE,
    ),
}


async def _db(replayer: Replayer, doc: dict[str, Any], match: re.Match[str]) -> Any:
    query, ids = _DB_QUERIES[match["what"]]
    args = [[uuid.UUID(value) for value in ids]] if ids else []
    rows = await replayer.pool.fetch(query.format(s=f"project_{_project_of(doc)}"), *args)
    plain = [{k: v.hex if isinstance(v, uuid.UUID) else v for k, v in r.items()} for r in rows]
    if match["what"] == "links count":
        return plain[0]["count"]
    if match["what"].endswith("_types"):
        return [row["name"] for row in plain]
    return plain


async def _batch_links(replayer: Replayer, doc: dict[str, Any], match: re.Match[str]) -> Any:
    """Rows with the ids the batch would have created (not the existing one it reuses)."""
    earlier = json.dumps([d["request"] for d in FIXTURE_DOCS if d["sequence"] < doc["sequence"]])
    ids = [
        uuid.UUID(link["id"])
        for link in doc["request"]["json"]["links"]
        if link["id"] not in earlier
    ]
    rows = await replayer.pool.fetch(
        f"SELECT id FROM project_{_project_of(doc)}.links WHERE id = ANY($1::UUID[])", ids
    )
    return [row["id"].hex for row in rows]


async def _folder(replayer: Replayer, doc: dict[str, Any], match: re.Match[str]) -> Any:
    return await _get(replayer, f"/api/projects/{_project_of(doc)}/folders/{match['id']}")


async def _sh020_label(replayer: Replayer, doc: dict[str, Any], match: re.Match[str]) -> Any:
    folder = await _get(
        replayer, "/api/projects/kitsync_fx/folders/de519e90cc755e65be0e6bc4c840d98d"
    )
    return folder["json"].get("label")


async def _deleted(replayer: Replayer, doc: dict[str, Any], match: re.Match[str]) -> Any:
    kind, entity_id = {
        "child folder": ("folders", CHILD),
        "grandchild folder": ("folders", GRANDCHILD),
        "task under child": ("tasks", CHILD_TASK),
    }[match["what"]]
    return await _get(replayer, f"/api/projects/kitsync_fx/{kind}/{entity_id}")


async def _event(replayer: Replayer, doc: dict[str, Any], match: re.Match[str]) -> Any:
    if match["which"] == "old":
        event_id = replayer.mapped(EVENT_ID_OF_HASH_CREATE)
    else:
        event_id = replayer.outcomes[doc["name"]].response.json()["id"]
    return await _get(replayer, f"/api/events/{event_id}")


EVENT_ID_OF_HASH_CREATE = json.loads((RECORDED / "events_create_with_hash.json").read_text())[
    "response"
]["json"]["id"]

OBSERVERS: list[tuple[re.Pattern[str], Observer]] = [
    (re.compile(r"GET project (?P<key>\S+)$"), _project_field),
    (re.compile(r"DB (?P<what>.+)$"), _db),
    (re.compile(r"links rows with the batch ids$"), _batch_links),
    (re.compile(r"GET folder (?P<id>[0-9a-f]{32}) \(op \d\)$"), _folder),
    (re.compile(r"GET sh020 label"), _sh020_label),
    (re.compile(r"GET (?P<what>child folder|grandchild folder|task under child)$"), _deleted),
    (re.compile(r"GET (?P<which>old|new) id$"), _event),
]


async def observed(replayer: Replayer, doc: dict[str, Any]) -> dict[str, Any]:
    """The fake's state for each entry of ``observed_after``."""
    expected = doc["observed_after"]
    if expected.keys() == {"status", "json"}:  # a follow-up GET of the written entity
        entity = expected["json"]
        if "topic" in entity:
            return await _get(replayer, f"/api/events/{replayer.mapped(entity['id'])}")
        collection = "tasks" if "taskType" in entity else "folders"
        return await _get(replayer, f"/api/projects/{_project_of(doc)}/{collection}/{entity['id']}")
    state = {}
    for label in expected:
        for pattern, function in OBSERVERS:
            if match := pattern.match(label):
                state[label] = await function(replayer, doc, match)
                break
        else:
            raise AssertionError(f"no observer for {label!r}")
    return state


# --- the replay tests --------------------------------------------------------------------------


def _event_label(row: dict[str, Any], inserted: bool) -> str:
    return f"{'inserted' if inserted else 'updated'}: {row['topic']} (status={row['status']})"


@pytest.mark.parametrize("doc", FIXTURE_DOCS, ids=[doc["name"] for doc in FIXTURE_DOCS])
async def test_recorded_call(replayer: Replayer, doc: dict[str, Any]) -> None:
    outcome = await replayer.outcome(doc)
    recorded, response = doc["response"], outcome.response
    order_free = doc["name"] in ORDER_FREE_FIXTURES
    problems: list[str] = []

    if response.status_code != recorded["status"]:
        problems.append(f"status {response.status_code} != {recorded['status']}: {response.text}")
    content_type = response.headers.get("content-type", "").split(";")[0] or None
    if content_type != recorded["content_type"]:
        problems.append(f"content type {content_type!r} != {recorded['content_type']!r}")
    if recorded["json"] is None:
        want = b"" if recorded["empty_body"] else b"null"
        if response.content != want:
            problems.append(f"body {response.content!r} != {want!r}")
    else:
        problems += diff(
            replayer.mapped(recorded["json"]), response.json(), "body", order_free=order_free
        )

    labels = [
        _event_label(row, row["creation_order"] in outcome.inserted) for row in outcome.events
    ]
    expected_labels = [
        label
        for label in doc["events_emitted"]
        if label.split(": ", 1)[1].split(" (")[0] not in IGNORED_TOPICS
    ]
    if labels != expected_labels:
        problems.append(f"events {labels} != {expected_labels}")
    else:
        problems += _event_row_problems(replayer, doc, outcome.events, order_free)

    if doc.get("observed_after"):
        problems += diff(
            replayer.mapped(doc["observed_after"]),
            await observed(replayer, doc),
            "observed_after",
            order_free=order_free,
        )
    assert not problems, "\n".join(problems)


_EVENT_COLUMNS = tuple(
    [
        "topic",
        "sender",
        "sender_type",
        "project_name",
        "user_name",
        "status",
        "retries",
        "depends_on",
        "description",
        "summary",
        "payload",
    ]
)


def _event_row_problems(
    replayer: Replayer, doc: dict[str, Any], rows: list[dict[str, Any]], order_free: bool
) -> list[str]:
    recorded = [
        row for row in EVENT_ROWS.get(doc["name"], []) if row["topic"] not in IGNORED_TOPICS
    ]
    problems = []
    for index, (want, got) in enumerate(zip(recorded, rows, strict=True)):
        where = f"event[{index}] {want['topic']}"
        for key in _EVENT_COLUMNS:
            problems += diff(
                replayer.mapped(want[key]), got[key], f"{where}.{key}", order_free=order_free
            )
        hash_is_id = got["hash"] == got["id"].hex
        if hash_is_id != (want["hash"] == want["id"]):
            problems.append(f"{where}: hash is id: {hash_is_id}")
        elif not hash_is_id and got["hash"] != want["hash"]:
            problems.append(f"{where}: hash {got['hash']!r} != {want['hash']!r}")
    return problems


# --- direct tests of the rules kitsync relies on most ------------------------------------------


@dataclass
class Fake:
    app: Any
    client: httpx.AsyncClient
    project: str

    def url(self, suffix: str = "") -> str:
        return f"/api/projects/{self.project}{suffix}"

    async def folder(self, name: str, parent: str | None = None, **extra: Any) -> httpx.Response:
        body = {"name": name, "folderType": "Folder", "parentId": parent, **extra}
        return await self.client.post(self.url("/folders"), json=body)

    async def new_folder(self, name: str, parent: str | None = None) -> str:
        response = await self.folder(name, parent)
        assert response.status_code == 201, response.text
        folder_id: str = response.json()["id"]
        return folder_id


@pytest.fixture(scope="module")
def served(pg_dsn: str) -> Any:
    app = create_app(pg_dsn)
    with serve(app) as base_url:
        yield app, base_url


@pytest.fixture
async def fake(served: Any, pg_dsn: str) -> AsyncIterator[Fake]:
    app, base_url = served
    project = f"fake_{uuid.uuid4().hex[:10]}"
    await create_project(pg_dsn, project, data={"kitsuProjectId": f"kitsu-{project}"})
    headers = {"x-api-key": SERVICE_KEY, "x-sender": "kitsync", "x-sender-type": "kitsu"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as client:
        yield Fake(app, client, project)


async def _event_count(pg_pool: asyncpg.Pool, project: str) -> int:
    count: int = await pg_pool.fetchval(
        "SELECT COUNT(*) FROM public.events WHERE project_name = $1", project
    )
    return count


async def test_sibling_names_are_unique_ignoring_case_among_active_rows(fake: Fake) -> None:
    assets = await fake.new_folder("assets")
    hero = await fake.new_folder("Hero", assets)

    clash = await fake.folder("HERO", assets)
    assert clash.status_code == 409
    assert clash.json()["detail"] == (
        f"Folder with parent_id, lower(name::text) '{uuid.UUID(assets)}, hero' already exists."
    )
    root_clash = await fake.folder("ASSETS")
    assert root_clash.json() == {
        "code": 409,
        "detail": "Folder with lower(name::text) 'assets' already exists.",
    }
    # Other parents do not count, and inactive rows do not count ...
    assert (await fake.folder("hero", await fake.new_folder("props", assets))).status_code == 201
    ghost = await fake.folder("hero", assets, active=False)
    assert ghost.status_code == 201
    # ... until the inactive one is re-activated next to the active one.
    reactivate = await fake.client.patch(
        fake.url(f"/folders/{ghost.json()['id']}"), json={"active": True}
    )
    assert reactivate.status_code == 409
    deactivate = await fake.client.patch(fake.url(f"/folders/{hero}"), json={"active": False})
    assert deactivate.status_code == 204
    reactivate = await fake.client.patch(
        fake.url(f"/folders/{ghost.json()['id']}"), json={"active": True}
    )
    assert reactivate.status_code == 204

    task = {"name": "Modeling", "taskType": "Modeling", "folderId": assets}
    assert (await fake.client.post(fake.url("/tasks"), json=task)).status_code == 201
    clash = await fake.client.post(fake.url("/tasks"), json={**task, "name": "MODELING"})
    assert clash.status_code == 409
    assert clash.json()["detail"].startswith("Task with folder_id, lower(name::text)")


async def test_half_failing_operations_batch_writes_nothing_and_emits_no_event(
    fake: Fake, pg_pool: asyncpg.Pool
) -> None:
    shots = await fake.new_folder("shots")
    events_before = await _event_count(pg_pool, fake.project)
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    batch = {
        "operations": [
            {
                "type": "create",
                "entityType": "folder",
                "entityId": first,
                "data": {"name": "sh010", "folderType": "Shot", "parentId": shots},
            },
            {
                "type": "update",
                "entityType": "folder",
                "entityId": shots,
                "data": {"label": "Shots"},
            },
            {
                "type": "create",
                "entityType": "folder",
                "entityId": second,
                "data": {"name": "SH010", "folderType": "Shot", "parentId": shots},
            },
        ]
    }

    answer = await fake.client.post(fake.url("/operations"), json=batch)

    assert answer.status_code == 200
    results = answer.json()["operations"]
    assert answer.json()["success"] is False
    assert [(r["success"], r["status"], r["errorCode"]) for r in results] == [
        (True, 201, None),
        (True, 204, None),
        (False, 409, "unique-violation"),
    ]
    assert (await fake.client.get(fake.url(f"/folders/{first}"))).status_code == 404
    assert "label" not in (await fake.client.get(fake.url(f"/folders/{shots}"))).json()
    assert await _event_count(pg_pool, fake.project) == events_before

    raised = await fake.client.post(fake.url("/operations"), json={**batch, "raiseOnError": True})
    assert raised.status_code == 409
    assert await _event_count(pg_pool, fake.project) == events_before

    each = await fake.client.post(fake.url("/operations"), json={**batch, "canFail": True})
    assert each.json()["success"] is False
    assert (await fake.client.get(fake.url(f"/folders/{first}"))).status_code == 200
    assert await _event_count(pg_pool, fake.project) == events_before + 2


async def test_links_bulk_is_all_or_nothing(fake: Fake, pg_pool: asyncpg.Pool) -> None:
    hero, shot = await fake.new_folder("hero"), await fake.new_folder("sh010")
    links_table = f"project_{fake.project}.links"
    good = {"id": uuid.uuid4().hex, "input": hero, "output": shot, "linkType": BREAKDOWN}
    unknown = {"input": hero, "output": "f" * 32, "linkType": BREAKDOWN}

    rejected = await fake.client.post(fake.url("/links/bulk"), json={"links": [good, unknown]})
    assert rejected.status_code == 404
    assert rejected.json()["detail"] == f"Folder entities not found: {'f' * 32}"
    assert await pg_pool.fetchval(f"SELECT COUNT(*) FROM {links_table}") == 0

    created = await fake.client.post(
        fake.url("/links/bulk"), json={"links": [good, {**good, "id": None}]}
    )
    assert created.status_code == 200
    created_ids = [link["id"] for link in created.json()["created"]]
    assert created_ids[0] == good["id"] and len(created_ids) == 2

    reused = {**good, "id": uuid.uuid4().hex}
    duplicate = await fake.client.post(fake.url("/links/bulk"), json={"links": [reused, good]})
    assert duplicate.json() == {"code": 409, "detail": "One or more link IDs already exist."}
    rows = await pg_pool.fetch(f"SELECT input_id, output_id, link_type FROM {links_table}")
    assert [(r["input_id"].hex, r["output_id"].hex, r["link_type"]) for r in rows] == [
        (hero, shot, BREAKDOWN),
        (hero, shot, BREAKDOWN),
    ]


async def test_link_types_patch_replaces_the_list_and_drops_the_links_of_removed_types(
    fake: Fake, pg_pool: asyncpg.Pool
) -> None:
    hero, shot = await fake.new_folder("hero"), await fake.new_folder("sh010")
    current = (await fake.client.get(fake.url())).json()["linkTypes"]
    casting = {
        "name": "casting|folder|folder",
        "linkType": "casting",
        "inputType": "folder",
        "outputType": "folder",
        "data": {"color": "#00aaff"},
    }
    added = await fake.client.patch(fake.url(), json={"linkTypes": [*current, casting]})
    assert added.status_code == 204
    names = [t["name"] for t in (await fake.client.get(fake.url("/links/types"))).json()["types"]]
    assert names == [t["name"] for t in current] + ["casting|folder|folder"]
    for link_type in (casting["name"], BREAKDOWN):
        link = {"input": hero, "output": shot, "linkType": link_type}
        assert (await fake.client.post(fake.url("/links"), json=link)).status_code == 200

    dropped = await fake.client.patch(fake.url(), json={"linkTypes": current})

    assert dropped.status_code == 204
    rows = await pg_pool.fetch(f"SELECT link_type FROM project_{fake.project}.links")
    assert [row["link_type"] for row in rows] == [BREAKDOWN]
    topics = await pg_pool.fetch(
        "SELECT topic FROM public.events WHERE project_name = $1 ORDER BY creation_order DESC "
        "LIMIT 1",
        fake.project,
    )
    assert topics[0]["topic"] == "entity.project.changed"


async def test_folder_with_products_cannot_be_deleted(fake: Fake) -> None:
    asset = await fake.new_folder("hero")
    product = {
        "type": "create",
        "entityType": "product",
        "data": {"name": "modelMain", "folderId": asset, "productType": "model"},
    }
    assert (await fake.client.post(fake.url("/operations"), json={"operations": [product]})).json()[
        "success"
    ]

    refused = await fake.client.delete(fake.url(f"/folders/{asset}"))

    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"id '{uuid.UUID(asset)}' is still referenced from table \"products\"."
    )
    assert (await fake.client.get(fake.url(f"/folders/{asset}"))).status_code == 200


async def test_sql_read_paths_see_folder_writes(fake: Fake, pg_pool: asyncpg.Pool) -> None:
    shots = await fake.new_folder("shots")
    sh010 = uuid.uuid4().hex
    batch = {
        "operations": [
            {
                "type": "create",
                "entityType": "folder",
                "entityId": sh010,
                "data": {
                    "name": "sh010",
                    "parentId": shots,
                    "active": False,
                    "data": {"kitsuId": "k-sh010"},
                },
            }
        ]
    }
    assert (await fake.client.post(fake.url("/operations"), json=batch)).json()["success"]
    s = f"project_{fake.project}"

    found = await pg_pool.fetchrow(
        f"SELECT f.id, h.path FROM {s}.folders AS f JOIN {s}.hierarchy AS h ON h.id = f.id "
        "WHERE f.data->>'kitsuId' = $1",
        "k-sh010",
    )

    assert (found["id"].hex, found["path"]) == (sh010, "shots/sh010")


async def test_users_and_project_data(fake: Fake) -> None:
    service = (await fake.client.get("/api/users/me")).json()
    human = (await fake.client.get("/api/users/me", headers={"x-api-key": HUMAN_KEY})).json()
    project = (await fake.client.get(fake.url())).json()

    assert (service["name"], service["data"]["isService"]) == ("kitsync_service", True)
    assert human["name"] == "alice" and "isService" not in human["data"]
    assert project["data"] == {"kitsuProjectId": f"kitsu-{fake.project}"}
    assert SERVICE_KEY not in json.dumps(service)


async def test_injected_failures_and_delays(fake: Fake) -> None:
    requests = fake.app.state.requests
    seen = len(requests)
    inject_failures(fake.app, count=2, status=503, path="/api/users/me")

    statuses = [(await fake.client.get("/api/users/me")).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert requests[seen:] == [("GET", "/api/users/me")] * 3

    inject_delay(fake.app, 0.5, method="POST")
    with pytest.raises(httpx.ReadTimeout):
        await fake.client.post(
            fake.url("/folders"), json={"name": "slow", "folderType": "Folder"}, timeout=0.1
        )
    # Like a slow server, the write still happens after the stall.
    for _ in range(50):
        listing = (await fake.client.get(fake.url("/folders"))).json()["folders"]
        if any(folder["name"] == "slow" for folder in listing):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the delayed write never happened")
