"""Contract test: the fake Kitsu answers every recorded request like the real Zou 1.0.97.

For each recorded response (tests/fixtures/kitsu/index.json) the fake, loaded with the same
recorded state, gets the same request and must give the same status, the same shape (keys
and JSON types, recursively) and the same ids. The recorded mutations, replayed through the
fake's Python writes, must log the recorded events and reach the recorded end state.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import httpx
import pytest

from tests.conftest import FIXTURES
from tests.fakes.kitsu import ADMIN_EMAIL, ADMIN_PASSWORD, BOT_TOKEN, PERSON_PASSWORD, FakeKitsu
from tests.fakes.kitsu._errors import ZouError
from tests.fakes.serve import serve

KITSU = FIXTURES / "kitsu"
INDEX: list[dict[str, Any]] = json.loads((KITSU / "index.json").read_text())
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ALICE = "alice.anders@example.com"  # role "user"


def _recorded(entry: dict[str, Any]) -> tuple[int, Any]:
    body = json.loads((KITSU / entry["file"]).read_text())
    return (body["status"], body["body"]) if entry["wrapped"] else (entry["status"], body)


def _fake_key(file: str) -> tuple[str, str]:
    """The recorded state a file was read from."""
    top, _, rest = file.partition("/")
    if top in ("film", "tv"):
        return top, rest.split("/")[0]
    if file == "global/projects_after_mutations.json" or top in ("events", "errors"):
        return "all", "after_mutations"
    return "all", "after_build"


@cache
def _shared_fake(production: str, stage: str) -> FakeKitsu:
    return FakeKitsu.from_fixtures(production, stage)  # type: ignore[arg-type]


# Zou served these after_mutations reads from its cache: byte-identical to the after_build
# read although their relations changed (deleted shots still in entities_in, replaced
# assignees, deleted tasks). The fake answers from the current state instead.
_STALE = (
    "film/after_mutations/asset_Castle.json",
    "film/after_mutations/asset_Chair.json",
    "film/after_mutations/asset_Lantern.json",
    "film/after_mutations/asset_Sidekick.json",
    "film/after_mutations/asset_Sword.json",
    "tv/after_mutations/asset_Kite.json",
    "tv/after_mutations/asset_Park.json",
    "tv/after_mutations/asset_Rain.json",
    "tv/after_mutations/shot_E02_pilot_SQ010_SH010.json",
)
_STALE_REASON = (
    "recorded read is a stale Zou cache hit (identical to the after_build read); "
    "the fake serves the current state"
)


# Recorded routes the fake does not serve: kitsync reads none of them (the casting maps by
# sequence or episode, and an asset's cast-in list; it reads entity castings and entity links).
_NOT_SERVED = re.compile(
    r"/data/projects/[^/]+/(sequences/[^/]+|episodes(/[^/]+/sequences/all)?)/casting"
    r"|/data/assets/[^/]+/cast-in"
)


def _cases() -> Iterator[Any]:
    seen: set[str] = set()
    for entry in INDEX:
        wanted = entry["method"] == "GET" and entry["status"] == 200
        if entry["file"] in seen or not (wanted or entry["file"].startswith("errors/")):
            continue
        if _NOT_SERVED.fullmatch(entry["path"]):
            continue
        seen.add(entry["file"])
        marks = [pytest.mark.xfail(reason=_STALE_REASON, strict=True)]
        yield pytest.param(entry, id=entry["file"], marks=marks if entry["file"] in _STALE else ())


# -- shape comparison --------------------------------------------------------------------
@dataclass
class Schema:
    """The merged JSON types of every value seen at one place of a document."""

    types: set[str] = field(default_factory=set)
    keys: dict[str, Schema] = field(default_factory=dict)
    items: Schema | None = None  # list items (merged)
    id_map: Schema | None = None  # values of a dict keyed by ids (merged)

    def add(self, value: Any) -> Schema:
        if isinstance(value, dict) and value and all(_UUID.match(k) for k in value):
            self.types.add("idmap")
            self.id_map = self.id_map or Schema()
            for item in value.values():
                self.id_map.add(item)
        elif isinstance(value, dict):
            self.types.add("dict")
            for key, item in value.items():
                self.keys.setdefault(key, Schema()).add(item)
        elif isinstance(value, list):
            self.types.add("list")
            for item in value:
                self.items = self.items or Schema()
                self.items.add(item)
        else:
            self.types.add(_scalar(value))
        return self


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str"}[type(value)]


def assert_schema(recorded: Schema, actual: Schema, where: str = "$") -> None:
    # the fake may show fewer types than the recording (null or value), never other ones
    assert actual.types <= recorded.types, f"{where}: types {actual.types} vs {recorded.types}"
    if "dict" in actual.types and "dict" in recorded.types:
        assert set(actual.keys) == set(recorded.keys), (
            f"{where}: keys +{set(actual.keys) - set(recorded.keys)} "
            f"-{set(recorded.keys) - set(actual.keys)}"
        )
        for key, schema in recorded.keys.items():
            assert_schema(schema, actual.keys[key], f"{where}.{key}")
    if recorded.items is not None and actual.items is not None:
        assert_schema(recorded.items, actual.items, f"{where}[]")
    if recorded.id_map is not None and actual.id_map is not None:
        assert_schema(recorded.id_map, actual.id_map, f"{where}{{}}")


def _identity(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("id") or (item.get("shot_id"), item.get("asset_id"))
    return item


def assert_same_ids(recorded: Any, actual: Any, where: str = "$") -> None:
    """Same ids in every list of entities or of uuids and in every id-keyed map."""
    if isinstance(recorded, dict) and isinstance(actual, dict):
        if recorded and all(_UUID.match(k) for k in recorded):
            assert set(actual) == set(recorded), f"{where}: id keys differ"
        for key in recorded.keys() & actual.keys():
            assert_same_ids(recorded[key], actual[key], f"{where}.{key}")
    elif isinstance(recorded, list) and isinstance(actual, list):
        entities = all(isinstance(i, dict) and _identity(i) != (None, None) for i in recorded)
        uuids = all(isinstance(i, str) and _UUID.match(i) for i in recorded)
        if not (entities or uuids) or not (recorded or actual):
            return
        by_id = {_identity(item): item for item in actual}
        fake_ids, recorded_ids = set(map(str, by_id)), {str(_identity(i)) for i in recorded}
        assert fake_ids == recorded_ids, (
            f"{where}: fake-only ids {fake_ids - recorded_ids}, "
            f"recorded-only ids {recorded_ids - fake_ids}"
        )
        for item in recorded:
            assert_same_ids(item, by_id.get(_identity(item)), f"{where}[{_identity(item)}]")


# -- requests ----------------------------------------------------------------------------
async def _call(fake: FakeKitsu, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kitsu") as client:
        return await client.request(method, path, **kwargs)


async def _replay(entry: dict[str, Any]) -> httpx.Response:
    """Issue the recorded request to a fake in the recorded state, as the recorder did."""
    file, path, params = entry["file"], entry["path"], entry["query"]
    name = file.rsplit("/", 1)[-1]
    if entry["method"] == "POST":  # /auth/login: its own fake, logins are logged
        fake = FakeKitsu.from_fixtures("all", "after_mutations")
        email, password = {
            "400_login_wrong_password.json": (ADMIN_EMAIL, "wrong" + ADMIN_PASSWORD),
            "400_login_unknown_email.json": ("nobody@example.com", PERSON_PASSWORD),
        }.get(name, (ALICE, PERSON_PASSWORD))
        return await _call(fake, "POST", path, json={"email": email, "password": password})
    fake = _shared_fake(*_fake_key(file))
    as_user = name.startswith(("403_", "user_view_")) and "other_project" not in name
    token = fake.issue_token(ALICE if as_user else ADMIN_EMAIL)
    if name == "401_revoked_token.json" or name == "logout_response.json":
        response = await _call(fake, "GET", "/auth/logout", headers=_bearer(token))
        if name == "logout_response.json":
            return response
    headers = {
        "401_no_token.json": {},
        "422_garbage_token.json": _bearer("garbage"),
        "422_events_garbage_token.json": _bearer("garbage"),
        "422_bad_signature.json": _bearer(token.rsplit(".", 1)[0] + ".forged-signature"),
    }.get(name, _bearer(token))
    return await _call(fake, "GET", path, params=params, headers=headers)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("entry", list(_cases()))
async def test_fake_answers_like_zou(entry: dict[str, Any]) -> None:
    status, recorded = _recorded(entry)
    response = await _replay(entry)
    assert response.status_code == status, response.text[:500]
    actual = response.json()
    assert_schema(Schema().add(recorded), Schema().add(actual))
    assert_same_ids(recorded, actual)


# -- mutations ---------------------------------------------------------------------------
def _apply(fake: FakeKitsu, request: dict[str, Any], response: Any) -> None:
    """Replay one recorded write through the fake's Python API."""
    method, path, body = request["method"], request["path"], request["body"]
    force = request["query"].get("force") == "true"
    parts = path.strip("/").split("/")
    if method == "PUT" and parts[:2] == ["data", "entities"]:
        fake.update_entity(parts[2], **body)
    elif method == "PUT" and parts[:2] == ["data", "shots"]:
        fake.update_entity(parts[2], replace_data=True, **body)
    elif method == "PUT" and parts[-1] == "casting":
        fake.set_casting(parts[2], parts[4], body)
    elif method == "PUT" and parts[3:6] == ["entities", "casting", "assets"]:
        fake.cast_asset(
            parts[2], parts[6], body["entity_ids"], body["nb_occurences"], body.get("label", "")
        )
    elif method == "DELETE" and parts[1] in ("assets", "shots"):
        fake.delete_entity(parts[2], force=force)
    elif method == "DELETE" and parts[1] == "tasks":
        fake.delete_task(parts[2], force=force)
    elif method == "POST" and parts[-1] == "comment":
        fake.set_task_status(parts[2], body["task_status_id"], comment=body["comment"])
    elif method == "PUT" and parts[-1] == "assign":
        for task_id in body["task_ids"]:
            fake.assign(task_id, [parts[2]])
    elif method == "PUT" and parts[-1] == "clear-assignation":
        for task_id in body["task_ids"]:
            fake.unassign(task_id, body["person_id"])
    elif method == "PUT" and parts[:2] == ["data", "tasks"]:
        fake.set_assignees(parts[2], body["assignees"])
    elif method == "POST" and parts[-1] == "shots":
        fields = {k: v for k, v in body.items() if k not in ("name", "sequence_id")}
        fake.create_shot(parts[2], body["sequence_id"], body["name"], id=response["id"], **fields)
    elif method == "PUT" and parts[:2] == ["data", "projects"]:
        fake.update_project(parts[2], **body)
    else:
        raise AssertionError(f"no replay for {method} {path}")


def _event_signature(event: dict[str, Any]) -> tuple[str, tuple[str, ...], bool]:
    return event["name"], tuple(event["data"]), event["project_id"] is not None


@pytest.mark.parametrize("production", ["film", "tv"])
def test_replayed_mutations_log_the_recorded_events(production: str) -> None:
    fake = FakeKitsu.from_fixtures(production, "after_build")  # type: ignore[arg-type]
    for step in json.loads((KITSU / production / "mutations_log.json").read_text()):
        before = len(fake.events())
        if step["status"] >= 400:
            with pytest.raises(ZouError) as refused:
                _apply(fake, step["request"], step["response"])
            assert refused.value.status == step["status"], step["step"]
        else:
            _apply(fake, step["request"], step["response"])
        emitted = [_event_signature(e) for e in fake.events()[before:]]
        assert emitted == [_event_signature(e) for e in step["events"]], step["step"]


def _state(fake: FakeKitsu, project_id: str) -> dict[str, Any]:
    """What the replay must reproduce: entities, casting and tasks of the project."""

    async def read() -> dict[str, Any]:
        headers = _bearer(fake.issue_token())
        base = f"/data/projects/{project_id}"
        lists = ("episodes", "sequences", "shots", "assets", "tasks")
        got = {k: (await _call(fake, "GET", f"{base}/{k}", headers=headers)).json() for k in lists}
        links = (await _call(fake, "GET", f"{base}/entity-links", headers=headers)).json()
        return {
            "entities": sorted(
                (e["id"], e["name"], e["parent_id"], e["source_id"], e["canceled"])
                for kind in lists[:4]
                for e in got[kind]
            ),
            "casting": sorted(
                (link["entity_in_id"], link["entity_out_id"], link["nb_occurences"], link["label"])
                for link in links
            ),
            "tasks": sorted(
                (t["id"], t["task_status_id"], tuple(sorted(t["assignees"]))) for t in got["tasks"]
            ),
        }

    return asyncio.run(read())


@pytest.mark.parametrize("production", ["film", "tv"])
def test_replayed_mutations_reach_the_recorded_state(production: str) -> None:
    replayed = FakeKitsu.from_fixtures(production, "after_build")  # type: ignore[arg-type]
    for step in json.loads((KITSU / production / "mutations_log.json").read_text()):
        if step["status"] < 400:
            _apply(replayed, step["request"], step["response"])
    recorded = FakeKitsu.from_fixtures(production, "after_mutations")  # type: ignore[arg-type]
    project_id = json.loads((KITSU / production / "after_build" / "project.json").read_text())["id"]
    assert _state(replayed, project_id) == _state(recorded, project_id)


_HTTP_WRITES = ("/comment", "/assign", "/clear-assignation")


@pytest.mark.parametrize("production", ["film", "tv"])
async def test_recorded_write_routes_answer_over_http_as_zou_did(production: str) -> None:
    """The write routes kitsync uses (status comment, assign, clear-assignation), sent over
    HTTP in the recorded order: same status, same body shape and ids, same events."""
    fake = FakeKitsu.from_fixtures(production, "after_build")  # type: ignore[arg-type]
    headers = _bearer(fake.issue_token())
    steps = json.loads((KITSU / production / "mutations_log.json").read_text())
    seen = 0
    for step in steps:
        request = step["request"]
        if step["status"] >= 400:
            continue
        if not request["path"].endswith(_HTTP_WRITES):
            _apply(fake, request, step["response"])
            continue
        before = len(fake.events())
        response = await _call(
            fake, request["method"], request["path"], json=request["body"], headers=headers
        )
        seen += 1
        assert response.status_code == step["status"], (step["step"], response.text[:300])
        assert_schema(Schema().add(step["response"]), Schema().add(response.json()))
        if request["path"].endswith("/clear-assignation"):
            assert response.json() == step["response"]
        emitted = [_event_signature(e) for e in fake.events()[before:]]
        assert emitted == [_event_signature(e) for e in step["events"]], step["step"]
    assert seen


# -- test controls and writes seen over HTTP ---------------------------------------------
async def _get(fake: FakeKitsu, path: str, **params: Any) -> Any:
    response = await _call(fake, "GET", path, params=params, headers=_bearer(fake.issue_token()))
    assert response.status_code == 200, response.text
    return response.json()


async def test_injected_failures_answer_then_the_server_recovers() -> None:
    fake = FakeKitsu.empty()
    fake.inject_failures(2, 503)
    statuses = [(await _call(fake, "GET", "/")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert fake.requests == [("GET", "/")] * 3


def test_injected_delay_trips_a_client_timeout() -> None:
    fake = FakeKitsu.empty()
    fake.inject_delay(1.0)
    with serve(fake.app) as base_url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{base_url}/", timeout=0.2)
        assert httpx.get(f"{base_url}/", timeout=5).json()["api"] == "Zou"


async def test_revoked_login_tokens_get_401_and_the_bot_token_still_works() -> None:
    fake = FakeKitsu.empty()
    credentials = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    token = (await _call(fake, "POST", "/auth/login", json=credentials)).json()["access_token"]
    assert (await _call(fake, "GET", "/data/projects", headers=_bearer(token))).json() == []
    fake.revoke_tokens()
    revoked = await _call(fake, "GET", "/data/projects", headers=_bearer(token))
    assert (revoked.status_code, revoked.json()) == (401, {"msg": "Token has been revoked"})
    bot = await _call(fake, "GET", "/data/projects", headers=_bearer(BOT_TOKEN))
    assert bot.status_code == 200


async def test_a_new_tvshow_logs_its_episode_before_the_project() -> None:
    fake = FakeKitsu.empty()
    project_id = fake.create_project("Show", "tvshow")["id"]
    logged = [(e["name"], e["project_id"]) for e in fake.events()]
    assert logged == [("episode:new", project_id), ("project:new", None)]
    by_project = await _get(fake, "/data/events/last", project_id=project_id)
    assert [e["name"] for e in by_project] == ["episode:new"]  # project:new has no column
    episodes = await _get(fake, f"/data/projects/{project_id}/episodes")
    assert [e["name"] for e in episodes] == ["E01"]


async def test_shot_casting_in_a_tvshow_auto_casts_the_asset_in_the_episode() -> None:
    fake = FakeKitsu.empty()
    project_id = fake.create_project("Show", "tvshow")["id"]
    episode_id = (await _get(fake, f"/data/projects/{project_id}/episodes"))[0]["id"]
    sequence = fake.create_sequence(project_id, "SQ010", episode_id)
    shot = fake.create_shot(project_id, sequence["id"], "SH010", data={"frame_in": 1, "fps": "24"})
    prop_type = next(t["id"] for t in await _get(fake, "/data/asset-types") if t["name"] == "Prop")
    ball = fake.create_asset(project_id, prop_type, "Ball")
    before = len(fake.events())
    fake.set_casting(project_id, shot["id"], [{"asset_id": ball["id"], "nb_occurences": 2}])
    assert [e["name"] for e in fake.events()[before:]] == [
        "asset:update",
        "entity-link:new",
        "shot:casting-update",
    ]
    links = await _get(fake, f"/data/projects/{project_id}/entity-links")
    assert sorted((k["entity_in_id"], k["nb_occurences"], k["data"]) for k in links) == sorted(
        [(episode_id, 1, {"auto": True}), (shot["id"], 2, None)]
    )
    flat = await _get(fake, f"/data/shots/{shot['id']}")
    assert (flat["fps"], flat["frame_in"], flat["frame_out"]) == ("24", 1, None)


async def test_polling_by_second_overlaps_and_the_cursor_pages_without_gaps() -> None:
    fake = FakeKitsu.from_fixtures("film", "after_mutations")
    newest = (await _get(fake, "/data/events/last", limit=1))[0]
    same_second = await _get(fake, "/data/events/last", after=newest["created_at"])
    assert newest["id"] in [e["id"] for e in same_second]  # after=S includes second S
    project_id = fake.project_id("Fixture Film")
    sequence = fake.create_sequence(project_id, "SQ030")
    fake.update_entity(sequence["id"], name="SQ031")
    since = await _get(fake, "/data/events/last", after=newest["created_at"])
    assert [e["name"] for e in since[:2]] == ["sequence:update", "sequence:new"]
    walked, cursor = [], None
    while True:
        params = {"limit": 7, **({"cursor_event_id": cursor} if cursor else {})}
        page = await _get(fake, "/data/events/last", project_id=project_id, **params)
        if not page:
            break
        walked += [e["id"] for e in page]
        cursor = page[-1]["id"]
    expected = [e["id"] for e in reversed(fake.events()) if e["project_id"] == project_id]
    assert walked == expected
