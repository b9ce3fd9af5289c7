"""The planner on the recorded film and TV productions, and its properties."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kitsync.core.desired import FolderSpec, TaskSpec, root_spec
from kitsync.core.ids import ayon_id
from kitsync.core.names import slug
from kitsync.core.plan import AyonSnapshot, DeleteMode, Plan, plan
from kitsync.core.production import Production, ProductionSpecs, production_specs
from kitsync.schemas.ayon import AyonFolder
from tests.expected import FILM_TREE, FILM_TREE_AFTER
from tests.expected import USERS as AYON_USERS
from tests.fakes.ayon.memory import MemoryAyon
from tests.unit.kitsu_production import default_anatomy, plan_all, recorded_production

USERS = {email: name for name, email in AYON_USERS.items()}


def _plan_all(ayon: MemoryAyon, production: Production, delete_mode: DeleteMode = "delete") -> Plan:
    return plan_all(ayon.snapshot(USERS), production, delete_mode)


def _tree(ayon: MemoryAyon) -> dict[str, tuple[str, str, bool]]:
    paths = ayon.paths()
    return {paths[f.id]: (f.folder_type, f.label or "", f.active) for f in ayon.folders.values()}


def _tasks(ayon: MemoryAyon) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    paths = ayon.paths()
    return {
        f"{paths[t.folder_id]}/{t.name}": (t.task_type, t.status, tuple(t.assignees))
        for t in ayon.tasks.values()
    }


def test_film_build_then_mutations_converge_and_replan_empty() -> None:
    ayon = MemoryAyon(default_anatomy())
    built = recorded_production("film", "after_build")
    first = _plan_all(ayon, built)
    assert [i.name for i in first.task_types] == ["Shading"]  # the one Kitsu type AYON lacks
    assert first.task_types[0].model_dump(by_alias=True)["color"] == "#64B5F6"
    assert {i.name for i in first.folder_types} == {"Edit", "Concept"}
    ayon.apply(first)
    assert _tree(ayon) == FILM_TREE
    shot = next(f for f in ayon.folders.values() if f.label == "SH0010")
    assert shot.id == ayon_id("f48bffdc-4a40-4304-98f1-80af0adefec9")
    assert shot.attrib == {
        "fps": 24.0,
        "frameStart": 1001,
        "frameEnd": 1048,
        "description": "Fixture Film shot SQ010/SH0010",
    }
    assert shot.data == {"kitsuId": "f48bffdc-4a40-4304-98f1-80af0adefec9", "kitsuType": "Shot"}
    tasks = _tasks(ayon)
    assert tasks["assets/character/hero/modeling"][:2] == ("Modeling", "Done")
    assert len(tasks) == 48
    assert _plan_all(ayon, built).empty

    mutated = recorded_production("film", "after_mutations")
    second = _plan_all(ayon, mutated)
    ayon.apply(second)
    assert _tree(ayon) == FILM_TREE_AFTER
    sh0020 = next(f for f in ayon.folders.values() if f.label == "SH0020")
    # M04 replaced data wholesale: fps gone (inherits), end = 993 + 80 - 1.
    assert sh0020.attrib == {
        "frameStart": 993,
        "frameEnd": 1072,
        "description": "Fixture Film shot SQ010/SH0020",
    }
    assert _plan_all(ayon, mutated).empty


def test_tv_build_uses_episode_hierarchy() -> None:
    ayon = MemoryAyon(default_anatomy())
    production = recorded_production("tv", "after_build")
    ayon.apply(_plan_all(ayon, production))
    tree = _tree(ayon)
    assert tree["episodes/e01/sq010/sh010"] == ("Shot", "SH010", True)
    assert tree["episodes/e02/sq010/sh030"] == ("Shot", "SH030", True)
    # As ayon-kitsu places it: under the episode Kitsu gives it, with no edits/ root.
    assert tree["episodes/e01/e01_animatic"] == ("Edit", "E01 Animatic", True)
    assert not {"sequences", "shots", "edits"} & set(tree)
    assert _plan_all(ayon, production).empty
    ayon.apply(_plan_all(ayon, recorded_production("tv", "after_mutations")))
    assert _plan_all(ayon, recorded_production("tv", "after_mutations")).empty
    assert "episodes/e02_pilot" in _tree(ayon)


def test_assignees_map_by_email_and_unknown_ones_are_reported() -> None:
    ayon = MemoryAyon(default_anatomy())
    result = _plan_all(ayon, recorded_production("film", "after_build"))
    ayon.apply(result)
    assigned = {user for _, _, users in _tasks(ayon).values() for user in users}
    assert assigned == {"alice", "bruno"}
    assert any("chloe.castel@example.com" in note for note in result.notes)


def test_folder_with_products_is_deactivated_not_deleted() -> None:
    ayon = MemoryAyon(default_anatomy())
    built = recorded_production("film", "after_build")
    ayon.apply(_plan_all(ayon, built))
    goblet = ayon_id("d3a6324d-9133-454f-8eea-732bb1fc1c66")
    ayon.products.add(goblet)
    ayon.apply(_plan_all(ayon, recorded_production("film", "after_mutations")))
    assert goblet in ayon.folders and not ayon.folders[goblet].active


def test_deactivate_mode_never_deletes() -> None:
    ayon = MemoryAyon(default_anatomy())
    ayon.apply(_plan_all(ayon, recorded_production("film", "after_build")))
    before = set(ayon.folders)
    result = _plan_all(
        ayon, recorded_production("film", "after_mutations"), delete_mode="deactivate"
    )
    assert not [
        op for op in result.operations if op.type == "delete" and op.entity_type == "folder"
    ]
    ayon.apply(result)
    assert before <= set(ayon.folders)


def test_folders_made_by_ayon_kitsu_are_adopted_not_duplicated() -> None:
    """ayon-kitsu leaves random ids, data.kitsuId only, roots keyed by the Kitsu kind."""
    production = recorded_production("film", "after_build")
    reference = MemoryAyon(default_anatomy())
    reference.apply(_plan_all(reference, production))
    ayon = MemoryAyon(reference.anatomy)
    new_ids = {old: uuid.uuid1().hex for old in reference.folders}
    for folder in reference.folders.values():
        ayon.folders[new_ids[folder.id]] = folder.model_copy(
            update={
                "id": new_ids[folder.id],
                "parent_id": new_ids.get(folder.parent_id or ""),
                "data": {"kitsuId": folder.data["kitsuId"]},
            }
        )
    result = _plan_all(ayon, production)
    # Right as they are: not even a data.kitsuType is added (only the tasks are missing).
    assert not [op for op in result.operations if op.entity_type == "folder"]
    ayon.apply(result)
    assert len(ayon.folders) == len(reference.folders)
    assert _plan_all(ayon, production).empty


def test_missing_parent_chain_is_created_first() -> None:
    sequence = FolderSpec("seq-1", "Sequence", "SQ1", "SQ1", "Sequence", "sequence")
    shot = FolderSpec("shot-1", "Shot", "SH1", "SH1", "Shot", "seq-1")
    ayon = MemoryAyon(default_anatomy())
    result = plan(ayon.snapshot(), [shot, sequence, root_spec("sequence")])
    assert [op.entity_id for op in result.operations] == [
        ayon_id("sequence"),
        ayon_id("seq-1"),
        ayon_id("shot-1"),
    ]
    ayon.apply(result)


def test_unplaceable_task_is_skipped_with_a_note() -> None:
    task = TaskSpec("t1", "missing-entity", "Layout", "Layout", "Layout", "Todo")
    result = plan(AyonSnapshot(anatomy=default_anatomy()), tasks=[task])
    assert not result.operations and "missing-entity" in result.notes[0]


def test_hand_made_folder_name_is_not_taken_over() -> None:
    ayon = MemoryAyon(default_anatomy())
    ayon.folders["f" * 32] = AyonFolder(
        id="f" * 32, name="SEQUENCES", folder_type="Folder", status="Not ready"
    )
    result = plan(ayon.snapshot(), [root_spec("sequence")])
    ayon.apply(result)
    assert sorted(f.name for f in ayon.folders.values()) == ["SEQUENCES", "sequences_sequence"]


def _shots(*names: tuple[str, str]) -> list[FolderSpec]:
    """Shot specs under the shots root, oldest first: (Kitsu id, Kitsu name)."""
    return [root_spec("shot")] + [
        FolderSpec(key, "Shot", name, name, "Shot", "shot", created=f"{i:02d}")
        for i, (key, name) in enumerate(names)
    ]


def _names(ayon: MemoryAyon) -> dict[str, str]:
    return {f.kitsu_id or "": f.name for f in ayon.folders.values() if f.folder_type == "Shot"}


X, Y = "0a8ff8f8-d355-47f8-a24d-3882adcf978d", "72d417a5-c4eb-4529-a3e5-0df589228e8c"


def test_a_suffix_goes_once_the_bare_name_is_freed() -> None:
    """Y, renamed to A while X still held it, got a suffix; X is renamed away: the next plan
    of Y (a full one here, or Y's own after a follow-up) gives Y the bare name."""
    ayon = MemoryAyon(default_anatomy())
    ayon.apply(plan(ayon.snapshot(), _shots((X, "A"), (Y, "B"))))
    ayon.apply(plan(ayon.snapshot(), _shots((X, "A"), (Y, "A"))[2:]))  # Y's own reconcile
    assert _names(ayon) == {X: "a", Y: "a_72d417a5"}
    renamed = plan(ayon.snapshot(), _shots((X, "C"), (Y, "A")))
    assert renamed.settled  # Y had no operation of its own: renamed after X's in this plan
    ayon.apply(renamed)
    assert _names(ayon) == {X: "c", Y: "a"}
    assert plan(ayon.snapshot(), _shots((X, "C"), (Y, "A"))).empty


def test_swapped_names_settle_in_two_plans_without_a_suffix_left() -> None:
    ayon = MemoryAyon(default_anatomy())
    ayon.apply(plan(ayon.snapshot(), _shots((X, "A"), (Y, "B"))))
    swapped = _shots((X, "B"), (Y, "A"))
    first = plan(ayon.snapshot(), swapped)
    assert not first.settled  # X took a suffix: Y held B until Y's own update
    ayon.apply(first)
    assert _names(ayon) == {X: "b_0a8ff8f8", Y: "a"}
    ayon.apply(plan(ayon.snapshot(), swapped))
    assert _names(ayon) == {X: "b", Y: "a"}


def test_a_plan_tells_where_it_freed_a_name_or_took_a_suffix() -> None:
    ayon = MemoryAyon(default_anatomy())
    ayon.apply(plan(ayon.snapshot(), _shots((X, "A"), (Y, "B"))))
    root = ayon.snapshot().folders["shot"].id
    assert plan(ayon.snapshot(), _shots((X, "C"))[1:]).names_changed_under == {root}
    retitled = replace(_shots((X, "A"))[1], attrib={"description": "new"})
    assert plan(ayon.snapshot(), [retitled]).names_changed_under == frozenset()
    assert plan(ayon.snapshot(), gone_folders=[Y]).names_changed_under == {root}


kitsu_names = st.sampled_from(["SH010", "sh010", "SH 010", "Sh-010", "SH020", "x", "X", "!!", ""])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(kitsu_names, st.booleans()), min_size=1, max_size=8),
    st.lists(st.tuples(kitsu_names, st.booleans()), min_size=1, max_size=8),
)
def test_colliding_siblings_stay_unique_and_plans_are_idempotent(
    first: list[tuple[str, bool]], second: list[tuple[str, bool]]
) -> None:
    """Any sequence of renames/cancels: names stay unique among active siblings (MemoryAyon
    asserts it on every operation), planning right after applying a settled plan gives an
    empty plan, and a folder no active sibling collides with wears no suffix."""
    ids = [str(uuid.UUID(int=i + 1)) for i in range(max(len(first), len(second)))]
    ayon = MemoryAyon(default_anatomy())

    def specs(state: list[tuple[str, bool]]) -> ProductionSpecs:
        folders = [root_spec("shot")] + [
            FolderSpec(
                ids[i], "Shot", name, name, "Shot", "shot", active=not canceled, created=f"{i:02d}"
            )
            for i, (name, canceled) in enumerate(state)
        ]
        return ProductionSpecs(tuple(folders), (), ())

    for state in (first, second):
        wanted = specs(state)
        gone = set(ayon.snapshot().folders) - {s.key for s in wanted.folders}
        planned = plan(ayon.snapshot(), wanted.folders, gone_folders=gone)
        ayon.apply(planned)
        if not planned.settled:  # a suffix whose bare name the plan itself freed
            again = plan(ayon.snapshot(), wanted.folders)
            assert again.settled
            ayon.apply(again)
        assert plan(ayon.snapshot(), wanted.folders).empty
    shots = [f for f in ayon.folders.values() if f.folder_type == "Shot"]
    assert sorted(f.label or "" for f in shots) == sorted(name for name, _ in second)
    slugs = Counter(slug(f.label or "") for f in shots if f.active)
    for folder in shots:
        if folder.active and slugs[slug(folder.label or "")] == 1:
            assert folder.name == slug(folder.label or "")


# AYON's rule for entity names (ayon_server.types.NAME_REGEX).
AYON_NAME = re.compile(r"^[a-zA-Z0-9_]([a-zA-Z0-9_.-]*[a-zA-Z0-9_])?$")


@pytest.mark.parametrize("kitsu_name", ["SH010", "Épisode 1!", "!!!"])
@given(more=st.text(max_size=12))
def test_created_names_are_valid_ayon_names(kitsu_name: str, more: str) -> None:
    specs = [
        FolderSpec(key, "Shot", name, name, "Shot", None)
        for key, name in (("k1", kitsu_name), ("k2", more), ("k3", more.upper()))
    ]
    result = plan(AyonSnapshot(anatomy=default_anatomy()), specs)
    names = [op.data["name"] for op in result.operations if op.data is not None]
    assert len(names) == 3 and all(AYON_NAME.match(name) for name in names)


def test_the_oldest_of_colliding_siblings_keeps_the_bare_name_whatever_the_order() -> None:
    old = FolderSpec(X, "Shot", "Hero", "Hero", "Shot", "shot", created="2026-01-01T00:00:00")
    new = FolderSpec(Y, "Shot", "HERO", "HERO", "Shot", "shot", created="2026-01-02T00:00:00")
    for arrival in ([old, new], [new, old]):
        ayon = MemoryAyon(default_anatomy())
        ayon.apply(plan(ayon.snapshot(), [root_spec("shot"), *arrival]))
        assert _names(ayon) == {X: "hero", Y: "hero_72d417a5"}


def _shot_tasks_active(ayon: MemoryAyon, shot_id: str) -> set[bool]:
    return {t.active for t in ayon.tasks.values() if t.folder_id == ayon_id(shot_id)}


def test_a_canceled_entity_takes_its_tasks_along_and_a_restored_one_brings_them_back() -> None:
    ayon = MemoryAyon(default_anatomy())
    built = recorded_production("film", "after_build")
    ayon.apply(_plan_all(ayon, built))
    shot = next(s for s in built.shots if s.name == "SH0010")
    spec = next(s for s in production_specs(built).folders if s.key == shot.id)
    assert _shot_tasks_active(ayon, shot.id) == {True}

    # The shot's own key: Zou cancels it with no event for its tasks.
    canceled = plan(ayon.snapshot(USERS), [replace(spec, active=False)], tasks_follow_folders=True)
    assert Counter(canceled.counts()) == Counter({"deactivate folder": 1, "deactivate task": 3})
    ayon.apply(canceled)
    assert _shot_tasks_active(ayon, shot.id) == {False}
    # A task's own key (active from its folder) and the full plan (from the canceled flag)
    # agree with it: nothing to write.
    wanted = [replace(t, active=False) for t in production_specs(built).tasks]
    mine = [t for t in wanted if t.folder_key == shot.id]
    assert not plan(ayon.snapshot(USERS), tasks=mine, statuses=built.task_statuses).operations

    restored = plan(ayon.snapshot(USERS), [spec], tasks_follow_folders=True)
    ayon.apply(restored)
    assert _shot_tasks_active(ayon, shot.id) == {True}
    assert _plan_all(ayon, built).empty


def test_the_full_plan_gives_a_canceled_entitys_tasks_its_flag() -> None:
    built = recorded_production("film", "after_build")
    shot = next(s for s in built.shots if s.name == "SH0010")
    canceled = replace(
        built,
        shots=[replace(shot, canceled=True) if s is shot else s for s in built.shots],
    )
    specs = production_specs(canceled)
    assert {t.active for t in specs.tasks if t.folder_key == shot.id} == {False}
    assert {t.active for t in specs.tasks if t.folder_key != shot.id} == {True}


SQ1, SQ2, SH1, SH2 = (str(uuid.UUID(int=n)) for n in (101, 102, 103, 104))


def _sequence(key: str, name: str) -> FolderSpec:
    return FolderSpec(key, "Sequence", name, name, "Sequence", "shot", created=name)


def _shot(key: str, name: str, sequence: str) -> FolderSpec:
    return FolderSpec(key, "Shot", name, name, "Shot", sequence, created=name)


def test_a_gone_folder_is_deleted_after_what_kitsu_moved_out_of_it() -> None:
    """Shots moved from SQ010 to SQ020, then the empty SQ010 deleted in Kitsu: deleting SQ010
    first would take the shots with it (AYON cascades), tasks and workfiles included."""
    ayon = MemoryAyon(default_anatomy())
    ayon.apply(
        plan(
            ayon.snapshot(),
            [
                root_spec("shot"),
                _sequence(SQ1, "sq010"),
                _sequence(SQ2, "sq020"),
                _shot(SH1, "sh010", SQ1),
                _shot(SH2, "sh020", SQ1),
            ],
        )
    )
    shot_ids = {key: ayon.snapshot().folders[key].id for key in (SH1, SH2)}
    moved = [root_spec("shot"), _sequence(SQ2, "sq020"), _shot(SH1, "sh010", SQ2)]
    # SH2 went with SQ010 (Zou deletes a sequence's shots with it): deleted with it.
    ayon.apply(plan(ayon.snapshot(), moved, gone_folders=[SQ1, SH2]))
    after = ayon.snapshot().folders
    assert SQ1 not in after and SH2 not in after
    assert after[SH1].id == shot_ids[SH1] and after[SH1].parent_id == after[SQ2].id
    assert plan(ayon.snapshot(), moved).empty


def test_a_gone_folder_that_frees_its_name_for_a_new_one_is_still_deleted_first() -> None:
    ayon = MemoryAyon(default_anatomy())
    ayon.apply(plan(ayon.snapshot(), [root_spec("shot"), _sequence(SQ1, "sq010")]))
    renewed = [root_spec("shot"), _sequence(SQ2, "sq010")]  # deleted, and made again
    ayon.apply(plan(ayon.snapshot(), renewed, gone_folders=[SQ1]))
    assert [f.name for f in ayon.folders.values() if f.folder_type == "Sequence"] == ["sq010"]
    assert plan(ayon.snapshot(), renewed).empty


T1, T2, T3 = (str(uuid.UUID(int=n)) for n in (201, 202, 203))


def test_a_gone_inactive_task_does_not_free_the_name_an_active_sibling_holds() -> None:
    ayon = MemoryAyon(default_anatomy())
    folders = [root_spec("shot"), _sequence(SQ1, "sq010"), _shot(SH1, "sh010", SQ1)]
    layout = TaskSpec(T1, SH1, "Layout", "Layout", "Layout", "Not ready", created="1")
    ayon.apply(plan(ayon.snapshot(), folders, [replace(layout, active=False)]))
    # A person made an active "layout" task by hand next to the canceled one.
    mine = next(iter(ayon.tasks.values()))
    hand_made = uuid.uuid4().hex
    ayon.tasks[hand_made] = dataclasses.replace(mine, id=hand_made, active=True, data={})
    # T1 deleted in Kitsu while another Layout task comes: it cannot take the hand-made name.
    new = TaskSpec(T2, SH1, "Layout", "Layout", "Layout", "Not ready", created="2")
    ayon.apply(plan(ayon.snapshot(), folders, [new], gone_tasks=[T1]))
    names = {t.id: t.name for t in ayon.tasks.values()}
    assert names[hand_made] == "layout" and names[ayon_id(T2)] != "layout"
    assert T1 not in {t.kitsu_id for t in ayon.tasks.values()}


def test_a_restored_entitys_task_whose_name_was_taken_meanwhile_is_renamed() -> None:
    """AYON refuses two active tasks of one name, and the restore is atomic: the folder would
    stay canceled too, retried until dead-lettered."""
    ayon = MemoryAyon(default_anatomy())
    folders = [root_spec("shot"), _sequence(SQ1, "sq010"), _shot(SH1, "sh010", SQ1)]
    layout = TaskSpec(T1, SH1, "Layout", "Layout", "Layout", "Not ready")
    ayon.apply(plan(ayon.snapshot(), folders, [layout]))
    shot = folders[-1]
    ayon.apply(plan(ayon.snapshot(), [replace(shot, active=False)], tasks_follow_folders=True))
    mine = next(iter(ayon.tasks.values()))
    hand_made = uuid.uuid4().hex
    ayon.tasks[hand_made] = dataclasses.replace(mine, id=hand_made, active=True, data={})

    ayon.apply(plan(ayon.snapshot(), [shot], tasks_follow_folders=True))
    restored = ayon.tasks[ayon_id(T1)]
    assert restored.active and restored.name != "layout"
    assert ayon.tasks[hand_made].name == "layout"
    assert plan(ayon.snapshot(), [shot], tasks_follow_folders=True).empty
