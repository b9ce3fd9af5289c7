"""Load a recorded Kitsu production (tests/fixtures/kitsu) into the core's Production."""

from __future__ import annotations

import json
from typing import Any, Literal

from kitsync.core.plan import AyonSnapshot, DeleteMode, Plan, plan
from kitsync.core.production import Production, production_specs
from kitsync.schemas.ayon import AyonProjectAnatomy
from kitsync.schemas.kitsu import (
    KitsuAsset,
    KitsuAssetType,
    KitsuConcept,
    KitsuEdit,
    KitsuEpisode,
    KitsuPerson,
    KitsuSequence,
    KitsuShot,
    KitsuTask,
    KitsuTaskStatus,
    KitsuTaskType,
    parse_record,
)
from tests.conftest import FIXTURES

Name = Literal["film", "tv"]
Stage = Literal["after_build", "after_mutations"]


def _load(path: str) -> Any:
    return json.loads((FIXTURES / "kitsu" / path).read_text())


def recorded_production(name: Name, stage: Stage) -> Production:
    base = f"{name}/{stage}"
    return Production(
        asset_types=[
            parse_record(KitsuAssetType, r) for r in _load(f"{base}/project_asset_types.json")
        ],
        assets=[parse_record(KitsuAsset, r) for r in _load(f"{base}/assets.json")],
        episodes=[parse_record(KitsuEpisode, r) for r in _load(f"{base}/episodes.json")],
        sequences=[parse_record(KitsuSequence, r) for r in _load(f"{base}/sequences.json")],
        shots=[parse_record(KitsuShot, r) for r in _load(f"{base}/shots.json")],
        edits=[parse_record(KitsuEdit, r) for r in _load(f"{base}/edits.json")],
        concepts=[parse_record(KitsuConcept, r) for r in _load(f"{base}/concepts.json")],
        tasks=[parse_record(KitsuTask, r) for r in _load(f"{base}/tasks.json")],
        task_types=[
            parse_record(KitsuTaskType, r) for r in _load(f"{base}/project_task_types.json")
        ],
        task_statuses=[
            parse_record(KitsuTaskStatus, r) for r in _load(f"{base}/project_task_statuses.json")
        ],
        persons=[parse_record(KitsuPerson, r) for r in _load("global/persons.json")],
    )


def default_anatomy() -> AyonProjectAnatomy:
    """The anatomy of a project created with AYON 1.16's defaults (recorded)."""
    recorded = json.loads((FIXTURES / "ayon" / "projects_get.json").read_text())
    return AyonProjectAnatomy.model_validate(recorded["response"]["json"])


def plan_all(
    snapshot: AyonSnapshot, production: Production, delete_mode: DeleteMode = "delete"
) -> Plan:
    """The plan of a whole production: AYON entities of Kitsu keys it no longer has go."""
    specs = production_specs(production)
    return plan(
        snapshot,
        specs.folders,
        specs.tasks,
        task_types=production.task_types,
        statuses=production.task_statuses,
        gone_folders=set(snapshot.folders) - {s.key for s in specs.folders},
        gone_tasks=set(snapshot.tasks) - {t.key for t in specs.tasks},
        delete_mode=delete_mode,
    )
