"""KitsuClient against the fake Zou 1.0.97 server over real HTTP (uvicorn on loopback)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import pytest

from kitsync.kitsu import KitsuClient, KitsuNotFound, KitsuUnavailable
from kitsync.schemas.kitsu import KitsuKind
from tests.conftest import FIXTURES
from tests.fakes.kitsu import ADMIN_EMAIL, ADMIN_PASSWORD, BOT_TOKEN, FakeKitsu
from tests.fakes.serve import serve

KITSU = FIXTURES / "kitsu"
IDS: dict[str, Any] = json.loads((KITSU / "ids.json").read_text())
FILM = IDS["film_build"]["project_id"]
TV = IDS["tv_build"]["project_id"]


def recorded(name: str) -> Any:
    return json.loads((KITSU / name).read_text())


@pytest.fixture
def fake() -> FakeKitsu:
    return FakeKitsu.from_fixtures("all", "after_mutations")


@pytest.fixture
def base_url(fake: FakeKitsu) -> Iterator[str]:
    with serve(fake.app) as url:
        yield url


@pytest.fixture
async def kitsu(base_url: str) -> AsyncIterator[KitsuClient]:
    async with KitsuClient(base_url, email=ADMIN_EMAIL, password=ADMIN_PASSWORD) as client:
        yield client


def logins(fake: FakeKitsu) -> int:
    return fake.requests.count(("POST", "/auth/login"))


@pytest.mark.parametrize(("show", "project_id"), [("film", FILM), ("tv", TV)])
async def test_reads_every_kind_of_a_production(
    kitsu: KitsuClient, show: str, project_id: str
) -> None:
    project = await kitsu.project(project_id)
    assert project.production_type == ("featurefilm" if show == "film" else "tvshow")
    listed: dict[KitsuKind, list[Any]] = {
        "asset_type": await kitsu.asset_types(project_id),
        "asset": await kitsu.assets(project_id),
        "episode": await kitsu.episodes(project_id),
        "sequence": await kitsu.sequences(project_id),
        "shot": await kitsu.shots(project_id),
        "edit": await kitsu.edits(project_id),
        "concept": await kitsu.concepts(project_id),
        "task": await kitsu.tasks(project_id),
        "task_type": await kitsu.task_types(project_id),
        "task_status": await kitsu.task_statuses(project_id),
        "person": await kitsu.team(project_id),
    }
    folder = f"{show}/after_mutations"
    for kind, file in (("asset", "assets"), ("sequence", "sequences"), ("shot", "shots")):
        assert {r.id for r in listed[kind]} == {r["id"] for r in recorded(f"{folder}/{file}.json")}
    assert bool(listed["episode"]) == (show == "tv")
    # Every listed record reads back by id with the same essentials.
    for kind, records in listed.items():
        assert [r.id for r in records] == sorted(r.id for r in records)
        for record in records:
            single = await kitsu.get_entity(kind, record.id)
            assert type(single) is type(record) and single.id == record.id
            if hasattr(record, "name"):
                assert single.name == record.name  # type: ignore[attr-defined]
    shots = {s.id: s for s in listed["shot"]}
    for shot in shots.values():
        single = await kitsu.get_entity("shot", shot.id)
        assert (single.frame_in, single.frame_out, single.fps, single.canceled) == (
            shot.frame_in,
            shot.frame_out,
            shot.fps,
            shot.canceled,
        )
    assert all(t.assignees is not None for t in listed["task"])
    assert {p.email for p in listed["person"]} == set(IDS["persons"])


async def test_film_shot_quirks_survive_the_round_trip(kitsu: KitsuClient) -> None:
    film = IDS["film_mutations"]["shots"]
    sh0020 = await kitsu.get_entity("shot", film["SQ010/SH0020"])
    assert (sh0020.frame_in, sh0020.frame_out, sh0020.nb_frames) == (993, None, 80)
    canceled = await kitsu.get_entity("shot", film["SQ025/SH0060"])
    assert canceled.canceled
    with pytest.raises(KitsuNotFound):
        await kitsu.get_entity("shot", IDS["deleted"]["film_sh0070"])
    with pytest.raises(KitsuNotFound):
        await kitsu.get_entity("asset", IDS["deleted"]["film_goblet"])


async def test_casting_routes_match_the_recordings(kitsu: KitsuClient) -> None:
    tv = IDS["tv_mutations"]
    film = IDS["film_mutations"]

    def occurrences(rows: list[Any]) -> set[tuple[str, int, str]]:
        return {(r["asset_id"], r["nb_occurences"], r["label"]) for r in rows}

    for show, project_id, key, name in (
        ("film", FILM, film["shots"]["SQ010/SH0010"], "shot_SQ010_SH0010"),
        ("tv", TV, tv["shots"]["E01/SQ010/SH010"], "shot_E01_SQ010_SH010"),
        ("tv", TV, tv["episodes"]["E01"], "episode_E01_own"),
    ):
        entries = await kitsu.casting(project_id, key)
        expected = recorded(f"{show}/after_mutations/casting/{name}.json")
        assert {(e.asset_id, e.nb_occurences, e.label) for e in entries} == occurrences(expected)
    links = await kitsu.entity_links(TV)
    assert {link.id for link in links} == {
        r["id"] for r in recorded("tv/after_mutations/entity_links.json")
    }


async def test_revoked_token_means_a_transparent_relogin(
    fake: FakeKitsu, kitsu: KitsuClient
) -> None:
    await kitsu.project(FILM)
    fake.revoke_tokens()
    assert (await kitsu.project(FILM)).id == FILM
    assert logins(fake) == 2
    assert fake.requests[-3:] == [
        ("GET", f"/data/projects/{FILM}"),
        ("POST", "/auth/login"),
        ("GET", f"/data/projects/{FILM}"),
    ]


async def test_bot_token(fake: FakeKitsu, base_url: str) -> None:
    async with KitsuClient(base_url, bot_token=BOT_TOKEN) as kitsu:
        assert {s.id for s in await kitsu.sequences(TV)} == set(
            IDS["tv_mutations"]["sequences"].values()
        )
    assert logins(fake) == 0


async def test_503_is_unavailable(fake: FakeKitsu, kitsu: KitsuClient) -> None:
    await kitsu.project(FILM)
    fake.inject_failures(1, status=503)
    with pytest.raises(KitsuUnavailable, match="503"):
        await kitsu.shots(FILM)
    assert await kitsu.shots(FILM)  # the next call goes through


async def test_a_delay_longer_than_the_timeout_is_unavailable(
    fake: FakeKitsu, base_url: str
) -> None:
    async with KitsuClient(
        base_url, email=ADMIN_EMAIL, password=ADMIN_PASSWORD, timeout=0.3
    ) as kitsu:
        await kitsu.project(FILM)
        fake.inject_delay(1.5)
        with pytest.raises(KitsuUnavailable, match="no answer within"):
            await kitsu.shots(FILM)


async def test_catch_up_across_pages_with_many_events_in_one_second(
    fake: FakeKitsu, kitsu: KitsuClient
) -> None:
    high_water = datetime.fromisoformat(fake.events()[-1]["created_at"])
    sequence_id = IDS["film_mutations"]["sequences"]["SQ010"]
    for number in range(150):
        fake.create_shot(FILM, sequence_id, f"SH9{number:03d}", data={"frame_in": 1001})
    fake.create_shot(TV, IDS["tv_mutations"]["sequences"]["E01/SQ010"], "SH999")
    expected = [
        e["id"]
        for e in fake.events()
        if e["created_at"] >= high_water.isoformat() and e["project_id"] == FILM
    ]
    per_second = Counter(e["created_at"] for e in fake.events()[-151:])
    assert max(per_second.values()) > 40  # several pages share one second

    events = [e async for e in kitsu.iter_events_since(high_water, project_id=FILM, page_size=40)]
    assert [e.id for e in events] == expected
    assert sum(e.name == "shot:new" for e in events) >= 150
    pages = [p for m, p in fake.requests if p == "/data/events/last"]
    assert len(pages) >= len(expected) // 40 + 1
    # A second catch-up from the newest second seen overlaps, and only by that second.
    again = [e async for e in kitsu.iter_events_since(events[-1].created_at, project_id=FILM)]
    assert {e.id for e in again} <= {e.id for e in events}
    assert all(e.created_at == events[-1].created_at for e in again)


async def test_reads_see_the_current_state_after_writes(
    fake: FakeKitsu, kitsu: KitsuClient
) -> None:
    tv = IDS["tv_mutations"]
    fake.update_entity(tv["shots"]["E01/SQ010/SH010"], name="SH011", data={"frame_out": 1100})
    fake.update_entity(tv["assets"]["Ball"], source_id=tv["episodes"]["E01"])
    fake.set_casting(
        TV, tv["shots"]["E01/SQ010/SH010"], [{"asset_id": tv["assets"]["Mia"], "nb_occurences": 4}]
    )
    shot = await kitsu.get_entity("shot", tv["shots"]["E01/SQ010/SH010"])
    assert (shot.name, shot.frame_in, shot.frame_out) == ("SH011", 993, 1100)
    ball = await kitsu.get_entity("asset", tv["assets"]["Ball"])
    assert ball.episode_id == tv["episodes"]["E01"]
    casting = await kitsu.casting(TV, tv["shots"]["E01/SQ010/SH010"])
    assert [(e.asset_id, e.nb_occurences) for e in casting] == [(tv["assets"]["Mia"], 4)]
