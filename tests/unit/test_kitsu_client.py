"""KitsuClient against an ``httpx.MockTransport`` that serves the recorded Zou 1.0.97 bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from kitsync.errors import ConfigError, TransientError
from kitsync.kitsu import (
    KitsuAuthError,
    KitsuBadRequest,
    KitsuBadResponse,
    KitsuClient,
    KitsuError,
    KitsuNotFound,
    KitsuUnavailable,
)
from kitsync.schemas.kitsu import KitsuEvent, KitsuShot
from tests.conftest import FIXTURES

KITSU = FIXTURES / "kitsu"
INDEX: list[dict[str, Any]] = json.loads((KITSU / "index.json").read_text())
IDS: dict[str, Any] = json.loads((KITSU / "ids.json").read_text())
FILM = IDS["film_build"]["project_id"]
TV = IDS["tv_build"]["project_id"]
BASE = "https://kitsu.test/api"
EMAIL, PASSWORD = "admin@example.com", "hunter2-Pa55word"
BOT_TOKEN = "bot-token-0123456789abcdef"
ALICE_ID = "bc5a37f9-8867-4cad-9b68-ef3f2cac82d3"

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def load(name: str) -> Any:
    return json.loads((KITSU / name).read_text())


def recorded_error(name: str) -> httpx.Response:
    wrapped = load(f"errors/{name}")
    return httpx.Response(wrapped["status"], json=wrapped["body"])


def query_key(query: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    pairs = [
        (k, str(v))
        for k, values in query.items()
        for v in (values if isinstance(values, list) else [values])
    ]
    return tuple(sorted(pairs))


# Every recorded event since the recording started, newest first in Zou's full-precision order.
ALL_EVENTS: list[dict[str, Any]] = [
    event for page in range(1, 6) for event in load(f"events/all_since_start_p0{page}.json")
]


def simulate_events(params: httpx.QueryParams) -> list[dict[str, Any]]:
    """Zou's /data/events/last rules applied to the recorded events (seconds are all we know)."""
    events = ALL_EVENTS
    if "cursor_event_id" in params:
        position = next(i for i, e in enumerate(events) if e["id"] == params["cursor_event_id"])
        events = events[position + 1 :]
    if "after" in params:
        events = [e for e in events if e["created_at"] >= params["after"]]
    if "before" in params:
        events = [e for e in events if e["created_at"] < params["before"]]
    if "project_id" in params:
        events = [e for e in events if e["project_id"] == params["project_id"]]
    return events[: min(int(params.get("limit", 100)), 1000)]


class FakeZou:
    """Serves recorded bodies by (path, query); checks bearer tokens like Zou does."""

    def __init__(self, *states: str, prefix: str = "/api") -> None:
        self.prefix = prefix
        self.routes: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        for entry in INDEX:
            folder = entry["file"].rsplit("/", 1)[0].removesuffix("/casting")
            if (
                entry["status"] == 200
                and not entry["wrapped"]
                and folder in ("global", "events", *states)
            ):
                self.routes[(entry["path"], query_key(entry["query"]))] = entry["file"]
        # /data/entities/<id> returns the raw row, which the project lists also return as is.
        self.rows = {
            row["id"]: row
            for state in states
            for kind in ("assets", "episodes", "sequences", "shots", "edits", "concepts")
            for row in load(f"{state}/{kind}.json")
        }
        self.tokens: set[str] = {BOT_TOKEN}
        self.logins = 0
        self.requests: list[httpx.Request] = []
        self.scripted: list[Callable[[httpx.Request], httpx.Response]] = []
        self.simulate_events = False

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def revoke_all(self) -> None:
        self.tokens.clear()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        await asyncio.sleep(0)  # let concurrent requests interleave, as on a real server
        assert request.url.path.startswith(self.prefix)
        path = request.url.path.removeprefix(self.prefix) or "/"
        if path == "/auth/login":
            return self.login(json.loads(request.content))
        if self.scripted:
            return self.scripted.pop(0)(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not token:
            return recorded_error("401_no_token.json")
        if token not in self.tokens:
            # Zou: a well-formed JWT that was revoked is a 401, anything else a 422.
            shaped = token.count(".") == 2
            return recorded_error("401_revoked_token.json" if shaped else "422_garbage_token.json")
        if path == "/data/events/last" and self.simulate_events:
            return httpx.Response(200, json=simulate_events(request.url.params))
        name = self.routes.get((path, query_key(dict(request.url.params.multi_items()))))
        if name is not None:
            return httpx.Response(200, json=load(name))
        entity_id = path.removeprefix("/data/entities/")
        if entity_id in self.rows:
            return httpx.Response(200, json=self.rows[entity_id])
        return recorded_error("404_unknown_route.json")

    def login(self, body: dict[str, str]) -> httpx.Response:
        if (body.get("email"), body.get("password")) != (EMAIL, PASSWORD):
            return recorded_error("400_login_wrong_password.json")
        self.logins += 1
        token = f"header.payload{self.logins}.signature"
        self.tokens.add(token)
        payload = load("errors/200_login_success_alice.json")["body"] | {"access_token": token}
        return httpx.Response(
            200, json=payload, headers={"set-cookie": f"access_token_cookie={token}; Path=/"}
        )

    def paths(self) -> list[str]:
        return [r.url.path.removeprefix(self.prefix) for r in self.requests]


def client(zou: FakeZou, **kwargs: Any) -> KitsuClient:
    credentials = {"email": EMAIL, "password": PASSWORD} if "bot_token" not in kwargs else {}
    return KitsuClient(BASE, transport=zou.transport(), **(credentials | kwargs))


# -- reads ----------------------------------------------------------------------------------


async def test_project_lists_parse_and_come_back_sorted_by_id() -> None:
    zou = FakeZou("film/after_mutations")
    async with client(zou) as kitsu:
        project = await kitsu.project(FILM)
        assert project.name == "Fixture Film" and project.fps == 25.0
        shots = await kitsu.shots(FILM)
        assets = await kitsu.assets(FILM)
        tasks = await kitsu.tasks(FILM)
        lists = [
            shots,
            assets,
            tasks,
            await kitsu.sequences(FILM),
            await kitsu.edits(FILM),
            await kitsu.concepts(FILM),
            await kitsu.asset_types(FILM),
            await kitsu.task_types(FILM),
            await kitsu.task_statuses(FILM),
            await kitsu.team(FILM),
            await kitsu.persons(),
        ]
    for records in lists:
        assert records and [r.id for r in records] == sorted(r.id for r in records)
    assert {s.name for s in shots} == {s["name"] for s in load("film/after_mutations/shots.json")}
    assert next(s for s in shots if s.canceled).name == "SH0060"
    assert all(t.assignees is not None for t in tasks)
    assert "Villainess" in {a.name for a in assets}
    assert zou.paths()[2:5] == [
        f"/data/projects/{FILM}/shots",
        f"/data/projects/{FILM}/assets",
        f"/data/projects/{FILM}/tasks",
    ]


async def test_get_entity_reads_every_kind_from_its_route() -> None:
    zou = FakeZou("tv/after_mutations")
    tv = IDS["tv_mutations"]
    every_kind = {
        "project": TV,
        "asset": tv["assets"]["Ball"],
        "episode": tv["episodes"]["E01"],
        "sequence": tv["sequences"]["E01/SQ010"],
        "shot": tv["shots"]["E01/SQ010/SH010"],
        "edit": "ec2f1975-0d8b-40fd-9246-5c04d05baeaa",
        "task": tv["tasks"]["Ball|Modeling"],
        "person": IDS["persons"]["alice.anders@example.com"],
        "task_type": "34cdf19a-ec08-489f-8e4a-2acde0b952bd",
        "task_status": "80f37f26-2d12-471d-bb04-8779d0942089",
        "asset_type": "0b4cc6ff-22e4-4169-9385-7f0fd1dfcaaa",
    }
    async with client(zou) as kitsu:
        ball = await kitsu.get_entity("asset", tv["assets"]["Ball"])
        assert ball.name == "Ball" and ball.episode_id == tv["episodes"]["E02_pilot"]
        shot = await kitsu.get_entity("shot", tv["shots"]["E01/SQ010/SH010"])
        assert isinstance(shot, KitsuShot) and shot.frame_in == 993
        edit = await kitsu.get_entity("edit", every_kind["edit"])
        assert edit.parent_id == tv["episodes"]["E01"]
        episode = await kitsu.get_entity("episode", tv["episodes"]["E01"])
        assert episode.name == "E01"
        for kind, entity_id in every_kind.items():
            record = await kitsu.get_entity(kind, entity_id)  # type: ignore[call-overload]
            assert record.id == entity_id
    paths = zou.paths()
    # Entities are read as raw rows of /data/entities: the per-kind by-id routes are cached.
    for kind in ("asset", "episode", "sequence", "shot", "edit"):
        assert f"/data/entities/{every_kind[kind]}" in paths
    per_kind = ("assets", "episodes", "sequences", "shots", "edits", "concepts")
    assert not any(p.startswith(tuple(f"/data/{k}/" for k in per_kind)) for p in paths)
    film = FakeZou("film/after_mutations")
    async with client(film) as kitsu:
        concept = await kitsu.get_entity("concept", "3756953a-2d2f-48ac-94e2-1bac48fd0ac6")
    assert concept.name == "Hero sketch"


async def test_casting_routes() -> None:
    zou = FakeZou("tv/after_mutations")
    tv = IDS["tv_mutations"]
    async with client(zou) as kitsu:
        shot = await kitsu.casting(TV, tv["shots"]["E01/SQ010/SH010"])
        assert [e.asset_id for e in shot] == sorted(e.asset_id for e in shot)
        assert {(e.asset_name, e.nb_occurences) for e in shot} == {
            ("Mia", 1),
            ("Park", 1),
            ("Ball", 2),
        }
        episode = await kitsu.casting(TV, tv["episodes"]["E01"])
        assert len(episode) == 7 and {e.label for e in episode} >= {"", "fixed"}
        links = await kitsu.entity_links(TV)
    linked = {(link.entity_in_id, link.entity_out_id) for link in links}
    castings = {tv["shots"]["E01/SQ010/SH010"]: shot, tv["episodes"]["E01"]: episode}
    assert all((container, e.asset_id) in linked for container, es in castings.items() for e in es)


async def test_unknown_and_malformed_ids_are_not_found() -> None:
    zou = FakeZou("film/after_mutations")
    async with client(zou) as kitsu:
        with pytest.raises(KitsuNotFound, match="404"):
            await kitsu.get_entity("shot", IDS["deleted"]["film_sh0070"])
        for bad in ("not-a-uuid", "../../auth/logout", ""):
            with pytest.raises(KitsuNotFound, match="malformed"):
                await kitsu.get_entity("asset", bad)
            with pytest.raises(KitsuNotFound, match="malformed"):
                await kitsu.shots(bad)
        # A shot id asked for as an asset: /data/entities answers with the shot row.
        with pytest.raises(KitsuNotFound, match="is a Shot, not 'asset'"):
            await kitsu.get_entity("asset", "f48bffdc-4a40-4304-98f1-80af0adefec9")
    assert all("not-a-uuid" not in p and ".." not in p for p in zou.paths())


async def test_ids_are_normalised_to_dashed_lowercase() -> None:
    zou = FakeZou("film/after_mutations")
    async with client(zou) as kitsu:
        project = await kitsu.project(FILM.replace("-", "").upper())
    assert project.id == FILM and zou.paths()[-1] == f"/data/projects/{FILM}"


async def test_base_url_may_be_the_bare_gunicorn_root() -> None:
    zou = FakeZou("film/after_mutations", prefix="")
    async with KitsuClient(
        "http://zou:5000/", email=EMAIL, password=PASSWORD, transport=zou.transport()
    ) as kitsu:
        assert (await kitsu.project(FILM)).id == FILM
    assert zou.paths() == ["/auth/login", f"/data/projects/{FILM}"]


# -- authentication -------------------------------------------------------------------------


async def test_login_is_lazy_single_and_cookieless() -> None:
    zou = FakeZou("film/after_mutations")
    kitsu = client(zou)
    assert zou.requests == []  # nothing happens before the first read
    async with kitsu:
        await asyncio.gather(*(kitsu.project(FILM) for _ in range(10)))
    assert zou.logins == 1
    login = zou.requests[0]
    assert json.loads(login.content) == {"email": EMAIL, "password": PASSWORD}
    for request in zou.requests[1:]:
        assert request.headers["authorization"] == "Bearer header.payload1.signature"
        assert "cookie" not in request.headers


@pytest.mark.parametrize("rejection", ["revoked", "garbage"])
async def test_rejected_token_means_one_relogin_and_a_retry(rejection: str) -> None:
    zou = FakeZou("film/after_mutations")
    async with client(zou) as kitsu:
        await kitsu.project(FILM)
        if rejection == "revoked":
            zou.revoke_all()  # 401 Token has been revoked
        else:
            zou.scripted.append(lambda _: recorded_error("422_bad_signature.json"))
        assert (await kitsu.project(FILM)).id == FILM
    assert zou.logins == 2
    assert zou.paths()[-3:] == [f"/data/projects/{FILM}", "/auth/login", f"/data/projects/{FILM}"]


async def test_concurrent_rejections_share_one_relogin() -> None:
    zou = FakeZou("film/after_mutations")
    async with client(zou) as kitsu:
        await kitsu.project(FILM)
        zou.revoke_all()
        results = await asyncio.gather(*(kitsu.shots(FILM) for _ in range(25)))
    assert zou.logins == 2
    assert all(len(shots) == len(results[0]) > 0 for shots in results)


async def test_token_rejected_again_after_relogin_is_an_auth_error() -> None:
    zou = FakeZou("film/after_mutations")
    zou.scripted += [lambda _: recorded_error("401_revoked_token.json")] * 2
    async with client(zou) as kitsu:
        with pytest.raises(KitsuAuthError, match="401"):
            await kitsu.project(FILM)
    assert zou.logins == 2


async def test_bot_token_is_used_as_is_and_never_renewed() -> None:
    zou = FakeZou("film/after_mutations")
    async with client(zou, bot_token=BOT_TOKEN) as kitsu:
        assert (await kitsu.project(FILM)).id == FILM
        zou.revoke_all()
        with pytest.raises(KitsuAuthError, match="bot token") as caught:
            await kitsu.project(FILM)
    assert zou.logins == 0 and "/auth/login" not in zou.paths()
    assert zou.requests[0].headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert BOT_TOKEN not in str(caught.value)


async def test_bad_login_is_an_auth_error_naming_the_account_not_the_password() -> None:
    zou = FakeZou("film/after_mutations")
    async with KitsuClient(
        BASE, email=EMAIL, password="wrong-" + PASSWORD, transport=zou.transport()
    ) as kitsu:
        with pytest.raises(KitsuAuthError) as caught:
            await kitsu.project(FILM)
    message = str(caught.value)
    assert EMAIL in message and "Wrong email or password" in message and "400" in message
    assert PASSWORD not in message and PASSWORD not in repr(caught.value)


def test_credentials_are_required_and_exclusive() -> None:
    with pytest.raises(ConfigError):
        KitsuClient(BASE)
    with pytest.raises(ConfigError):
        KitsuClient(BASE, email=EMAIL)
    with pytest.raises(ConfigError):
        KitsuClient(BASE, email=EMAIL, password=PASSWORD, bot_token=BOT_TOKEN)


# -- failures -------------------------------------------------------------------------------


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("scripted", "error", "text"),
    [
        (lambda _: httpx.Response(503, text="<html>Bad Gateway</html>"), KitsuUnavailable, "503"),
        (lambda _: recorded_error("500_asset_bad_uuid.json"), KitsuUnavailable, "Internal server"),
        (lambda _: httpx.Response(429, text="Too Many Requests"), KitsuUnavailable, "429"),
        (raising(httpx.ReadTimeout("slow")), KitsuUnavailable, "no answer within 10s"),
        (raising(httpx.ConnectError("refused")), KitsuUnavailable, "ConnectError"),
        (raising(httpx.RemoteProtocolError("dropped")), KitsuUnavailable, "RemoteProtocolError"),
        (
            lambda _: httpx.Response(200, text="<html>maintenance</html>"),
            KitsuUnavailable,
            "non-JSON",
        ),
        (lambda _: recorded_error("404_unknown_shot.json"), KitsuNotFound, "404"),
        (lambda _: recorded_error("403_events_as_user_role.json"), KitsuAuthError, "permission"),
        (
            lambda _: recorded_error("400_events_cursor_unknown.json"),
            KitsuBadRequest,
            "No event found",
        ),
        (lambda _: httpx.Response(302, headers={"location": "/login"}), KitsuBadRequest, "302"),
        (
            lambda _: httpx.Response(200, json={"not": "a list"}),
            KitsuBadResponse,
            "expected a list",
        ),
        (lambda _: httpx.Response(200, json=[{"id": "x"}]), KitsuBadResponse, "name"),
    ],
)
async def test_failures_map_to_typed_errors_naming_method_and_path(
    scripted: Callable[[httpx.Request], httpx.Response], error: type[KitsuError], text: str
) -> None:
    zou = FakeZou("film/after_mutations")
    zou.scripted.append(scripted)
    async with client(zou) as kitsu:
        with pytest.raises(error, match=text) as caught:
            await kitsu.shots(FILM)
    assert f"Kitsu GET /data/projects/{FILM}/shots" in str(caught.value)
    assert isinstance(caught.value, TransientError) == (error is KitsuUnavailable)


async def test_a_read_timeout_is_unavailable() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200, json={})

    class SlowTransport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            try:
                return await asyncio.wait_for(slow(request), request.extensions["timeout"]["read"])
            except TimeoutError:
                raise httpx.ReadTimeout("read timed out", request=request) from None

    async with KitsuClient(
        BASE, bot_token=BOT_TOKEN, timeout=0.05, transport=SlowTransport()
    ) as kitsu:
        with pytest.raises(KitsuUnavailable, match=r"no answer within 0\.05s"):
            await kitsu.persons()


async def test_no_secret_in_any_message_or_repr() -> None:
    zou = FakeZou("film/after_mutations")
    token = "header.payload1.signature"
    zou.scripted += [
        lambda _: httpx.Response(502, text=f"upstream said: Bearer {token} / {PASSWORD}"),
        lambda _: httpx.Response(400, json={"message": f"bad token {token}"}),
    ]
    kitsu = client(zou)
    messages: list[str] = [repr(kitsu)]
    async with kitsu:
        for _ in range(2):
            with pytest.raises(KitsuError) as caught:
                await kitsu.persons()
            messages += [str(caught.value), repr(caught.value)]
        messages.append(repr(kitsu))
    bot = KitsuClient(BASE, bot_token=BOT_TOKEN, transport=zou.transport())
    messages.append(repr(bot))
    await bot.aclose()
    for message in messages:
        assert token not in message and PASSWORD not in message and BOT_TOKEN not in message
    assert "***" in messages[1] and "***" in messages[3]


# -- events -------------------------------------------------------------------------------


async def test_events_page_sends_whole_utc_seconds_and_returns_newest_first() -> None:
    zou = FakeZou()
    async with client(zou) as kitsu:
        page = await kitsu.events_page(
            after=datetime(2026, 11, 27, 22, 12, 39, 654321, tzinfo=timezone(timedelta(hours=1))),
            limit=100,
        )
    assert [e.id for e in page] == [e["id"] for e in load("events/all_since_start_p01.json")]
    sent = zou.requests[-1].url.params
    assert dict(sent) == {"after": "2026-11-27T21:12:39", "limit": "100"}


async def test_events_page_with_cursor_project_and_before() -> None:
    zou = FakeZou()
    async with client(zou) as kitsu:
        page2 = await kitsu.events_page(
            after=datetime(2026, 11, 27, 21, 12, 50),
            cursor_event_id="0b008002-770e-41b9-a0f3-818a9711aae2",
            limit=25,
            project_id=FILM,
        )
        window = await kitsu.events_page(
            after=datetime(2026, 11, 27, 21, 12, 39),
            before=datetime(2026, 11, 27, 21, 12, 50),
            project_id=FILM,
            limit=10,
        )
        for limit in (0, 1001):
            with pytest.raises(ValueError, match="limit"):
                await kitsu.events_page(after=None, limit=limit)
    assert [e.id for e in page2] == [e["id"] for e in load("events/film_since_mutations_p02.json")]
    assert len(window) == 10 and all(
        e.created_at < datetime(2026, 11, 27, 21, 12, 50) for e in window
    )


async def test_iter_events_since_pages_to_the_end_oldest_first() -> None:
    zou = FakeZou()
    zou.simulate_events = True
    since = datetime(2026, 11, 27, 21, 12, 42)
    async with client(zou) as kitsu:
        events = [e async for e in kitsu.iter_events_since(since, page_size=25)]
    expected = [e["id"] for e in reversed(ALL_EVENTS) if e["created_at"] >= since.isoformat()]
    assert [e.id for e in events] == expected
    # 92 events share 21:12:42: all of them, in Zou's order, across several pages.
    assert sum(e.created_at == since for e in events) == 92
    event_requests = [r for r in zou.requests if r.url.path.endswith("/events/last")]
    fetched = sum(e["created_at"] >= "2026-11-27T21:12:41" for e in ALL_EVENTS)
    assert len(event_requests) == fetched // 25 + 1
    # Zou compares strictly with S.000000: the client asks from one second earlier.
    assert {r.url.params["after"] for r in event_requests} == {"2026-11-27T21:12:41"}
    cursors = [r.url.params.get("cursor_event_id") for r in event_requests]
    assert cursors[0] is None and len(set(cursors[1:])) == len(cursors) - 1


async def test_iter_events_since_filters_by_project() -> None:
    zou = FakeZou()
    zou.simulate_events = True
    async with client(zou) as kitsu:
        events = [
            e
            async for e in kitsu.iter_events_since(
                datetime(2026, 11, 27, 21, 12, 50), project_id=FILM
            )
        ]
    recorded = [e for page in (1, 2, 3) for e in load(f"events/film_since_mutations_p0{page}.json")]
    assert [e.id for e in events] == [e["id"] for e in reversed(recorded)]


async def test_iter_events_since_dedupes_and_stops_when_the_cursor_is_ignored() -> None:
    zou = FakeZou()
    page = ALL_EVENTS[:3]
    # A server that repeats the cursor event, then one that ignores the cursor altogether.
    zou.scripted += [
        lambda _: httpx.Response(200, json=page),
        lambda _: httpx.Response(200, json=[*page[2:], *ALL_EVENTS[3:5]]),
        lambda _: httpx.Response(200, json=ALL_EVENTS[3:6]),
        lambda _: httpx.Response(200, json=ALL_EVENTS[3:6]),
    ]
    async with client(zou) as kitsu:
        events = [e async for e in kitsu.iter_events_since(datetime(2026, 11, 27), page_size=3)]
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids)) == 6
    assert ids == [e["id"] for e in reversed(ALL_EVENTS[:6])]
    assert all(isinstance(e, KitsuEvent) for e in events)


async def test_iter_events_since_accepts_aware_datetimes() -> None:
    zou = FakeZou()
    zou.simulate_events = True
    async with client(zou) as kitsu:
        aware = [
            e async for e in kitsu.iter_events_since(datetime(2026, 11, 27, 21, 12, 55, tzinfo=UTC))
        ]
    assert aware and all(e.created_at >= datetime(2026, 11, 27, 21, 12, 55) for e in aware)


# -- writes (AYON -> Kitsu) -----------------------------------------------------------------


def _recorded_step(name: str) -> dict[str, Any]:
    steps: list[dict[str, Any]] = load("film/mutations_log.json")
    return next(step for step in steps if step["step"].startswith(name))


async def test_writes_send_the_recorded_bodies_and_parse_the_recorded_answers() -> None:
    comment, assign, clear = (_recorded_step(n) for n in ("M18", "M20", "M21"))
    zou = FakeZou("film/after_mutations")
    for step in (comment, assign, clear):
        zou.scripted.append(
            lambda _, step=step: httpx.Response(step["status"], json=step["response"])
        )
    task = comment["request"]["path"].split("/")[3]
    status = comment["request"]["body"]["task_status_id"]
    async with client(zou, bot_token=BOT_TOKEN) as kitsu:
        assert await kitsu.comment_status(task, status, "from AYON") == comment["response"]["id"]
        await kitsu.assign(assign["request"]["path"].split("/")[3], [task])
        await kitsu.unassign(clear["request"]["body"]["person_id"], [task])
    sent = [
        (r.method, r.url.path.removeprefix("/api"), json.loads(r.content)) for r in zou.requests
    ]
    assert sent == [
        ("POST", comment["request"]["path"], comment["request"]["body"] | {"comment": "from AYON"}),
        ("PUT", assign["request"]["path"], assign["request"]["body"]),
        ("PUT", clear["request"]["path"], clear["request"]["body"]),
    ]


async def test_a_write_is_never_sent_twice_on_5xx_but_once_more_after_a_relogin() -> None:
    zou = FakeZou("film/after_mutations")
    task = _recorded_step("M18")["request"]["path"].split("/")[3]
    async with client(zou) as kitsu:
        zou.scripted.append(lambda _: httpx.Response(502, json={"message": "bad gateway"}))
        with pytest.raises(KitsuUnavailable):
            await kitsu.assign(ALICE_ID, [task])
        assert zou.paths() == ["/auth/login", f"/actions/persons/{ALICE_ID}/assign"]
        zou.revoke_all()  # an expired token: refused before anything is done, sent again
        zou.scripted += [
            lambda _: recorded_error("401_revoked_token.json"),
            lambda _: httpx.Response(200, json=[]),
        ]
        await kitsu.assign(ALICE_ID, [task])
    assert zou.paths()[2:] == [
        f"/actions/persons/{ALICE_ID}/assign",
        "/auth/login",
        f"/actions/persons/{ALICE_ID}/assign",
    ]
