"""Large Kitsu productions on the fake Kitsu, for tests and benchmarks.

``generate_production(shots=1000, sequences=20, seed=1)`` builds a feature film through
``FakeKitsu``'s own write methods (so every list, casting and event route serves it as Zou
would): N shots spread over M sequences with frame ranges, assets of the four recorded asset
types, 2-4 tasks per shot and 2-3 per asset with statuses and assignees, and 3-8 cast assets per
shot (1-3 occurrences each). The same arguments give the same ids, names and choices every time.

The counts a full sync must produce are on the result (``folders``, ``tasks``, ``cast_links``).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from typing import Any

from tests.conftest import FIXTURES
from tests.fakes.kitsu import FakeKitsu

_GLOBAL = FIXTURES / "kitsu" / "global"
ROOTS = 2  # "assets" and "sequences"
_STATUSES = ("Todo", "Ready To Start", "Work In Progress", "Waiting For Approval", "Retake", "Done")


def _reference(name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((_GLOBAL / f"{name}.json").read_text())
    return sorted(rows, key=lambda row: row["name"] if "name" in row else row["email"])


@dataclass(frozen=True)
class GeneratedProduction:
    kitsu: FakeKitsu
    project_id: str
    sequences: int
    shots: int
    assets: int
    asset_types: int
    tasks: int
    cast_links: int  # AYON breakdown links: one per occurrence
    shot_ids: tuple[str, ...] = ()
    asset_ids: tuple[str, ...] = ()

    @property
    def folders(self) -> int:
        """The AYON folders a first sync creates."""
        return ROOTS + self.asset_types + self.assets + self.sequences + self.shots

    def describe(self) -> str:
        return (
            f"{self.sequences} sequences, {self.shots} shots, {self.assets} assets, "
            f"{self.tasks} tasks, {self.cast_links} cast occurrences"
        )


def generate_production(
    shots: int = 1000,
    sequences: int = 20,
    *,
    assets: int | None = None,
    seed: int = 0,
    name: str | None = None,
    kitsu: FakeKitsu | None = None,
) -> GeneratedProduction:
    """A new feature film in ``kitsu`` (a new empty fake by default); ``assets`` defaults to one
    per five shots, at least 10."""
    if shots < 1 or not 1 <= sequences <= shots:
        raise ValueError("need at least one shot and 1 <= sequences <= shots")
    rng = random.Random(seed)
    kitsu = kitsu or FakeKitsu.empty()
    asset_count = assets if assets is not None else max(10, shots // 5)

    def new_id() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    asset_types = _reference("asset_types")
    task_types = _reference("task_types")
    shot_types = [t["id"] for t in task_types if t["for_entity"] == "Shot"]
    asset_task_types = [t["id"] for t in task_types if t["for_entity"] == "Asset"]
    statuses = [s["id"] for s in _reference("task_status") if s["name"] in _STATUSES]
    persons = [p["id"] for p in _reference("persons") if p["role"] != "admin"]

    project_id = new_id()
    kitsu.create_project(name or f"Generated {seed}", id=project_id, fps="24")
    kitsu.add_project_settings(
        project_id,
        asset_type_ids=[t["id"] for t in asset_types],
        task_type_ids=shot_types + asset_task_types,
        task_status_ids=statuses,
        person_ids=persons,
    )
    task_count = 0

    def add_tasks(entity_id: str, types: list[str], low: int, high: int) -> None:
        nonlocal task_count
        for task_type in rng.sample(types, rng.randint(low, high)):
            kitsu.create_task(
                entity_id,
                task_type,
                task_status_id=rng.choice(statuses),
                id=new_id(),
                assignees=sorted(rng.sample(persons, rng.randint(0, 2))),
            )
            task_count += 1

    asset_ids: list[str] = []
    used_types: set[str] = set()
    for number in range(1, asset_count + 1):
        asset_type = asset_types[number % len(asset_types)]
        used_types.add(asset_type["id"])
        asset = kitsu.create_asset(
            project_id,
            asset_type["id"],
            f"{asset_type['name']} {number:04d}",
            id=new_id(),
            description=f"Generated asset {number}",
        )
        asset_ids.append(asset["id"])
        add_tasks(asset["id"], asset_task_types, 2, 3)

    cast_links = 0
    shot_ids: list[str] = []
    sequence_ids = [
        kitsu.create_sequence(project_id, f"SQ{number * 10:04d}", id=new_id())["id"]
        for number in range(1, sequences + 1)
    ]
    for number in range(1, shots + 1):
        length = rng.randint(24, 240)
        shot = kitsu.create_shot(
            project_id,
            sequence_ids[(number - 1) * sequences // shots],
            f"SH{number * 10:05d}",
            id=new_id(),
            nb_frames=length,
            description=f"Generated shot {number}",
            data={"frame_in": 1001, "frame_out": 1000 + length, "fps": "24"},
        )
        shot_ids.append(shot["id"])
        add_tasks(shot["id"], shot_types, 2, 4)
        casting = [
            {"asset_id": asset_id, "nb_occurences": rng.choice((1, 1, 1, 2, 3))}
            for asset_id in rng.sample(asset_ids, min(len(asset_ids), rng.randint(3, 8)))
        ]
        kitsu.set_casting(project_id, shot["id"], casting)
        cast_links += sum(cast["nb_occurences"] for cast in casting)

    return GeneratedProduction(
        kitsu=kitsu,
        project_id=project_id,
        sequences=sequences,
        shots=shots,
        assets=asset_count,
        asset_types=len(used_types),
        tasks=task_count,
        cast_links=cast_links,
        shot_ids=tuple(shot_ids),
        asset_ids=tuple(asset_ids),
    )
