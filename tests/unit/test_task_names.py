"""Task names as ayon-kitsu writes them (they are in work-file and publish paths): the task's own
Kitsu name, ``main`` standing for its type; collisions among one folder's tasks told apart by
the type, then a number."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from kitsync.core.desired import task_name
from kitsync.core.names import choose_task_name
from kitsync.core.production import Production
from kitsync.schemas.kitsu import KitsuTask
from tests.fakes.ayon.memory import MemoryAyon
from tests.unit.kitsu_production import default_anatomy, plan_all, recorded_production

SH0010 = "f48bffdc-4a40-4304-98f1-80af0adefec9"
ANIMATION = "34cdf19a-ec08-489f-8e4a-2acde0b952bd"
LAYOUT = "9655da64-79de-44f6-998a-634a2845d4d5"
TODO = "e559bdd9-586a-47f5-bbae-b91affd9a7ca"


def _task(number: int, name: str | None, task_type: str) -> KitsuTask:
    return KitsuTask(
        id=f"00000000-0000-4000-8000-{number:012d}",
        name=name,
        task_type_id=task_type,
        task_status_id=TODO,
        entity_id=SH0010,
        created_at=datetime(2026, 12, 1, 10, number),
    )


def test_a_task_keeps_its_own_name_and_main_stands_for_its_type() -> None:
    film = recorded_production("film", "after_build")
    animation = next(t for t in film.task_types if t.name == "Animation")
    assert task_name(_task(1, "Blocking v2", ANIMATION), animation) == "Blocking v2"
    assert task_name(_task(1, "main", ANIMATION), animation) == "animation"  # as ayon-kitsu
    assert task_name(_task(1, None, ANIMATION), animation) == "animation"  # listed nameless


def test_colliding_names_are_told_apart_by_type_then_number() -> None:
    assert choose_task_name("blocking", "Animation", set()) == "blocking"
    assert choose_task_name("Blocking", "Animation", {"blocking"}) == "blocking_animation"
    taken = {"blocking", "blocking_animation"}
    assert choose_task_name("blocking", "Animation", taken) == "blocking_animation_2"
    # A custom-named "layout" task holds the name a main Layout task would have.
    assert choose_task_name("layout", "Layout", {"layout"}) == "layout_2"


def test_a_task_keeps_a_name_while_it_is_still_its_own() -> None:
    held = "blocking_layout_2"
    assert choose_task_name("blocking", "Layout", {"blocking"}, holds=held) == held
    assert choose_task_name("blocking", "Layout", set(), holds="blocking_layout") == (
        "blocking_layout"
    )
    # Not its own (another name, a hash suffix of old, a number Kitsu's rule never gives):
    for stale in ("blk", "animation_e081a621", "blocking_layout_02", "blocking_layout_1"):
        assert choose_task_name("blocking", "Layout", set(), holds=stale) == "blocking"
    # Nor one another task holds now.
    assert choose_task_name("blocking", "Layout", {"blocking"}, holds="blocking") == (
        "blocking_layout"
    )


def _shot_tasks(ayon: MemoryAyon) -> dict[str, tuple[str, str | None]]:
    shot = next(f.id for f in ayon.folders.values() if f.data.get("kitsuId") == SH0010)
    return {t.name: (t.task_type, t.label) for t in ayon.tasks.values() if t.folder_id == shot}


def _with_tasks(production: Production, *tasks: KitsuTask) -> Production:
    kept = [t for t in production.tasks if t.entity_id != SH0010]
    return replace(production, tasks=[*kept, *tasks])


def _plan_all(ayon: MemoryAyon, production: Production) -> None:
    ayon.apply(plan_all(ayon.snapshot(), production))


def test_several_tasks_of_one_type_get_readable_distinct_names() -> None:
    production = _with_tasks(
        recorded_production("film", "after_build"),
        _task(1, "main", LAYOUT),
        _task(2, "blocking", ANIMATION),
        _task(3, "spline", ANIMATION),
        _task(4, "polish", ANIMATION),
        _task(5, "Blocking", LAYOUT),  # the same slug as an older task: gets its type
        _task(6, "blocking", LAYOUT),  # and once more: a number
    )
    ayon = MemoryAyon(default_anatomy())
    _plan_all(ayon, production)
    assert _shot_tasks(ayon) == {
        "layout": ("Layout", "layout"),
        "blocking": ("Animation", "blocking"),
        "spline": ("Animation", "spline"),
        "polish": ("Animation", "polish"),
        "blocking_layout": ("Layout", "Blocking"),
        "blocking_layout_2": ("Layout", "blocking"),
    }
    before = dict(ayon.tasks)
    _plan_all(ayon, production)
    assert ayon.tasks == before  # the same names again: nothing to write

    # A task keeps its name while it is still one of its own: the holder of blocking_layout
    # leaving renames nobody (paths stay), a newcomer takes the first free name.
    tasks = [t for t in production.tasks if t.id != _task(5, "", LAYOUT).id]
    _plan_all(ayon, replace(production, tasks=[*tasks, _task(7, "blocking", ANIMATION)]))
    names = _shot_tasks(ayon)
    assert names["blocking_layout_2"] == ("Layout", "blocking")
    assert names["blocking_animation"] == ("Animation", "blocking")
    assert "blocking_layout" not in names
