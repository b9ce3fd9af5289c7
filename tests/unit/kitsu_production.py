"""Load a recorded Kitsu production (tests/fixtures/kitsu) into the core's Production."""

from __future__ import annotations

import json
from typing import Any, Literal

from kitsync.core.production import Production
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
            KitsuAssetType.model_validate(r) for r in _load(f"{base}/project_asset_types.json")
        ],
        assets=[KitsuAsset.model_validate(r) for r in _load(f"{base}/assets.json")],
        episodes=[KitsuEpisode.model_validate(r) for r in _load(f"{base}/episodes.json")],
        sequences=[KitsuSequence.model_validate(r) for r in _load(f"{base}/sequences.json")],
        shots=[KitsuShot.model_validate(r) for r in _load(f"{base}/shots.json")],
        edits=[KitsuEdit.model_validate(r) for r in _load(f"{base}/edits.json")],
        concepts=[KitsuConcept.model_validate(r) for r in _load(f"{base}/concepts.json")],
        tasks=[KitsuTask.model_validate(r) for r in _load(f"{base}/tasks.json")],
        task_types=[
            KitsuTaskType.model_validate(r) for r in _load(f"{base}/project_task_types.json")
        ],
        task_statuses=[
            KitsuTaskStatus.model_validate(r) for r in _load(f"{base}/project_task_statuses.json")
        ],
        persons=[KitsuPerson.model_validate(r) for r in _load("global/persons.json")],
    )


def default_anatomy() -> AyonProjectAnatomy:
    """The anatomy of a project created with AYON 1.16's defaults (recorded)."""
    recorded = json.loads((FIXTURES / "ayon" / "projects_get.json").read_text())
    return AyonProjectAnatomy.model_validate(recorded["response"]["json"])
