"""The full reconcile's pure planning: what is gone, project attributes, descriptions."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

from kitsync.core.ids import ayon_id
from kitsync.core.production import Production, production_specs
from kitsync.reconcile._project_plan import (
    Describer,
    ProjectPlan,
    folders_after,
    managed_entities,
    plan_project,
    project_attrib,
    project_attrib_changes,
    removed_with,
)
from kitsync.reconcile._project_read import AyonState
from kitsync.schemas import AyonFolder, KitsuProject, Operation, parse_record
from tests.conftest import FIXTURES
from tests.expected import FILM_TREE, FILM_TREE_AFTER
from tests.expected import USERS as AYON_USERS
from tests.fakes.ayon.memory import MemoryAyon
from tests.unit.kitsu_production import default_anatomy, recorded_production

USERS = {email: name for name, email in AYON_USERS.items()}


def _kitsu_project(stage: str = "after_build") -> KitsuProject:
    raw = json.loads((FIXTURES / "kitsu" / "film" / stage / "project.json").read_text())
    return parse_record(KitsuProject, raw)


def _state(ayon: MemoryAyon, attrib: dict[str, object] | None = None) -> AyonState:
    return AyonState(
        anatomy=ayon.anatomy,
        folders=list(ayon.folders.values()),
        tasks=list(ayon.tasks.values()),
        users_by_email=USERS,
        attrib=attrib or {},
    )


def _plan(
    ayon: MemoryAyon, production: Production, attrib: dict[str, object] | None = None
) -> ProjectPlan:
    specs = production_specs(production)
    state = _state(ayon, attrib)
    managed = managed_entities(production, specs, state)
    return plan_project(
        production,
        specs,
        _kitsu_project(),
        state,
        managed,
        with_products=ayon.snapshot().with_products,
    )


def _tree(ayon: MemoryAyon) -> dict[str, tuple[str, str, bool]]:
    paths = ayon.paths()
    return {paths[f.id]: (f.folder_type, f.label or "", f.active) for f in ayon.folders.values()}


def _synced(stage: str = "after_build") -> tuple[MemoryAyon, Production]:
    ayon = MemoryAyon(default_anatomy())
    production = recorded_production("film", stage)  # type: ignore[arg-type]
    ayon.apply(_plan(ayon, production).entities)
    return ayon, production


def test_film_converges_then_plans_nothing() -> None:
    ayon, production = _synced()
    assert _tree(ayon) == FILM_TREE
    attrib = project_attrib(_kitsu_project())
    assert _plan(ayon, production, attrib).empty

    mutated = recorded_production("film", "after_mutations")
    second = _plan(ayon, mutated, attrib)
    ayon.apply(second.entities)
    assert _tree(ayon) == FILM_TREE_AFTER
    assert _plan(ayon, mutated, attrib).entities.empty


def test_gone_is_what_kitsu_lists_no_more() -> None:
    ayon, production = _synced()
    hero = next(a for a in production.assets if a.name == "Hero")
    edit = production.edits[0]
    task = production.tasks[0]
    unknown_type = replace(task, task_type_id="no-such-type")
    lost_type = replace(hero, entity_type_id="no-such-asset-type")
    changed = replace(
        production,
        assets=[lost_type if a.id == hero.id else a for a in production.assets],
        edits=[],
        tasks=[unknown_type, *production.tasks[1:]],
    )
    specs = production_specs(changed)
    managed = managed_entities(changed, specs, _state(ayon))
    # Skipped by the specs (unknown asset type or task type) is not gone: left alone.
    assert hero.id not in managed.gone_folders
    assert task.id not in managed.gone_tasks
    # The only edit deleted: its folder and the edits root, which nothing needs any more.
    assert managed.gone_folders == tuple(sorted([edit.id, "edit"]))
    assert managed.gone_tasks == tuple(
        sorted(t.id for t in production.tasks if t.entity_id == edit.id)
    )
    planned = plan_project(changed, specs, _kitsu_project(), _state(ayon), managed)
    kinds = {(op.type, op.entity_type) for op in planned.entities.operations}
    # The edit's tasks go with the edits root: no delete of its own for each.
    assert kinds == {("delete", "folder")}
    edits_root = next(f.id for f in ayon.folders.values() if f.kitsu_id == "edit")
    assert [op.entity_id for op in planned.entities.operations] == [edits_root]


def test_a_gone_folder_with_products_is_deactivated() -> None:
    ayon, production = _synced()
    goblet = next(f for f in ayon.folders.values() if f.label == "Goblet")
    ayon.products.add(goblet.id)
    changed = replace(production, assets=[a for a in production.assets if a.name != "Goblet"])
    planned = _plan(ayon, changed)
    updates = [op for op in planned.entities.operations if op.entity_id == goblet.id]
    assert [(op.type, op.data) for op in updates] == [("update", {"active": False})]
    assert any("has products" in note for note in planned.entities.notes)


def test_project_attributes_follow_kitsu() -> None:
    project = _kitsu_project()
    assert project_attrib(project) == {
        "fps": 24.0,
        "resolutionWidth": 2048,
        "resolutionHeight": 858,
    }
    dated = replace(project, start_date=date(2026, 1, 5), fps=25.0)
    own = {"fps": 24, "resolutionWidth": 2048, "resolutionHeight": 858, "frameStart": 1}
    assert project_attrib_changes(dated, own) == {
        "fps": 25.0,
        "startDate": "2026-01-05T00:00:00+00:00",
    }
    # AYON may answer a date in another ISO form; the same moment is no change.
    in_step = own | {"fps": 25.0, "startDate": "2026-01-05T00:00:00Z"}
    assert project_attrib_changes(dated, in_step) == {}
    # A value Kitsu lacks is never removed from AYON's project.
    assert project_attrib_changes(replace(project, fps=None), own) == {}


def test_describer_follows_creates_renames_and_moves() -> None:
    root = AyonFolder(id="a" * 32, name="sequences", folder_type="Folder", status="x")
    seq = AyonFolder(
        id="b" * 32, name="sq010", folder_type="Sequence", parent_id=root.id, status="x"
    )
    new_seq = ayon_id("sq-new")
    ops = [
        Operation(type="update", entity_type="folder", entity_id=seq.id, data={"name": "sq015"}),
        Operation(
            type="create",
            entity_type="folder",
            entity_id=new_seq,
            data={
                "name": "sq020",
                "folderType": "Sequence",
                "parentId": root.id,
                "data": {"kitsuId": "sq-new"},
            },
        ),
        Operation(
            type="create",
            entity_type="task",
            entity_id=ayon_id("t"),
            data={"name": "layout", "folderId": new_seq, "taskType": "Layout"},
        ),
        Operation(type="update", entity_type="folder", entity_id=seq.id, data={"active": False}),
        Operation(type="delete", entity_type="folder", entity_id=seq.id),
    ]
    steps = Describer([root, seq], []).steps(ops)
    assert [s.what for s in steps] == [
        "update folder sequences/sq015 (name)",
        "create folder sequences/sq020",
        "create task sequences/sq020/layout",
        "deactivate folder sequences/sq015",
        "delete folder sequences/sq015",
    ]
    assert steps[1].kitsu_id == "sq-new"


def test_removed_and_after_states() -> None:
    ayon, _ = _synced()
    paths = {path: folder_id for folder_id, path in ayon.paths().items()}
    seq = paths["sequences/sq020"]
    removed = removed_with(ayon.folders.values(), ayon.tasks.values(), [seq])
    shots = {paths[p] for p in paths if p.startswith("sequences/sq020/")}
    tasks = {t.id for t in ayon.tasks.values() if t.folder_id in shots}
    assert removed == {seq} | shots | tasks and tasks
    create = Operation(
        type="create",
        entity_type="folder",
        entity_id=ayon_id("x"),
        data={"name": "x", "folderType": "Shot", "data": {"kitsuId": "x"}},
    )
    hide = Operation(
        type="update", entity_type="folder", entity_id=paths["assets"], data={"active": False}
    )
    after = {f.id: f for f in folders_after(ayon.folders.values(), [create, hide], removed)}
    assert seq not in after and after[ayon_id("x")].kitsu_id == "x"
    assert after[paths["assets"]].active is False
    assert len(after) == len(ayon.folders) - len(removed - tasks) + 1


def test_an_empty_kitsu_production_removes_nothing() -> None:
    ayon, production = _synced()
    blind = Production(
        asset_types=production.asset_types,
        task_types=production.task_types,
        task_statuses=production.task_statuses,
    )
    planned = _plan(ayon, blind)
    assert planned.entities.operations == ()
    assert "nothing is removed from AYON" in planned.entities.notes[0]
