"""An AYON project written the way the ayon-kitsu addon writes it, for the adoption tests.

The rules are ayon-kitsu's (ynput/ayon-kitsu: ``server/kitsu/push.py`` places and creates,
``server/kitsu/utils.py`` names, ``server/kitsu/anatomy.py`` maps attributes,
``services/processor/processor/utils.py`` names tasks), written over AYON's REST API so AYON makes
the ids:

- roots are created when first needed, named after the kind (``Assets``: name ``assets``, no
  folder type) with ``data.kitsuId`` = the kind (``asset``); an asset type is a folder under
  ``assets`` keyed by its id; any other entity goes under its Kitsu parent (a tvshow's sequences
  and edits under their episode), else under its kind's root;
- names are the slug of the Kitsu name (``_``), labels the Kitsu name, ``data`` only
  ``{kitsuId}``; attributes come from the entity's ``data`` (fps, frame_in, frame_out,
  resolution) and its description;
- a task's name is its own Kitsu name, ``main`` its type's name lower-cased; label likewise;
- breakdown links into shots and assets (not episodes) get AYON's ids and ``data =
  {kitsuAssetId, kitsuTargetId, occurence}`` (``services/processor/processor/fullsync.py``).

Only what an adoption needs: no users (the bed has them), no dates (the fixtures have none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from slugify import slugify

from kitsync.reconcile._project_read import read_production
from kitsync.reconcile.casting import kitsu_castings
from kitsync.schemas import BREAKDOWN, AnatomyItem, KitsuTask, LinkCreate
from kitsync.schemas.kitsu import KitsuAsset
from tests.fakes.ayon import SERVICE_KEY
from tests.integration.sync_bed import USERS, SyncBed

_ROOTS = {
    "Asset": ("Assets", "asset"),
    "Episode": ("Episodes", "episode"),
    "Sequence": ("Sequences", "sequence"),
    "Shot": ("Shots", "shot"),
    "Edit": ("Edits", "edit"),
    "Concept": ("Concepts", "concept"),
}


@dataclass
class Written:
    """AYON ids of what was written: folders and tasks by Kitsu id, links by (container, asset,
    occurrence)."""

    folders: dict[str, str] = field(default_factory=dict)
    tasks: dict[str, str] = field(default_factory=dict)
    links: dict[tuple[str, str, int], str] = field(default_factory=dict)


def _name(kitsu_name: str) -> str:
    return slugify(kitsu_name, separator="_")


def task_name(task: KitsuTask, type_name: str) -> str:
    return type_name.lower() if task.name == "main" else str(task.name)


def _attrib(entity: Any) -> dict[str, Any]:
    """ayon-kitsu's ``parse_attrib`` over the entity's data, with its end-frame rule."""
    data = dict(entity.data or {})
    if entity.description:
        data["description"] = entity.description
    # calculate_end_frame: in + nb_frames (kitsync's is one less, the last frame's number).
    frame_in, frames = data.get("frame_in"), getattr(entity, "nb_frames", None)
    if not data.get("frame_out") and frame_in is not None and frames:
        data["frame_out"] = int(frame_in) + frames
    attrib: dict[str, Any] = {}
    for key, value in data.items():
        if key == "fps":
            attrib["fps"] = float(value)
        elif key == "frame_in":
            attrib["frameStart"] = int(value)
        elif key == "frame_out":
            attrib["frameEnd"] = int(value)
        elif key == "resolution":
            width, height = str(value).split("x")
            attrib["resolutionWidth"], attrib["resolutionHeight"] = int(width), int(height)
        elif key == "description":
            attrib["description"] = value
    return attrib


async def write_as_ayon_kitsu(
    bed: SyncBed, project_id: str, *, stale_task_names: Mapping[str, str] | None = None
) -> Written:
    """Write the Kitsu project into the bed's AYON project as ayon-kitsu would have.
    ``stale_task_names`` (Kitsu task id -> name) stands for renames ayon-kitsu never saw."""
    kitsu_project, production = await read_production(bed.ctx.kitsu, project_id)
    castings = await kitsu_castings(bed.ctx.kitsu, project_id, production)
    project, writer = bed.project, bed.ctx.writer
    # In ayon-kitsu's push order, so a parent is always there before its children.
    entities = [
        *(("Asset", e) for e in production.assets),
        *(("Episode", e) for e in production.episodes),
        *(("Sequence", e) for e in production.sequences),
        *(("Shot", e) for e in production.shots),
        *(("Edit", e) for e in production.edits),
        *(("Concept", e) for e in production.concepts),
    ]
    await writer.add_anatomy_items(
        project,
        folder_types=[AnatomyItem(name=kind) for kind in sorted({kind for kind, _ in entities})],
        task_types=[
            AnatomyItem(name=t.name, shortName=t.short_name or t.name[:4])
            for t in production.task_types
        ],
        statuses=[
            AnatomyItem(name=s.name, shortName=s.short_name or s.name[:4])
            for s in production.task_statuses
        ],
    )
    attrib: dict[str, Any] = {"fps": float(kitsu_project.fps or 0)}
    if kitsu_project.resolution_size is not None:
        attrib["resolutionWidth"], attrib["resolutionHeight"] = kitsu_project.resolution_size
    await writer.update_project(project, {"attrib": attrib})
    anatomy = await writer.get_project(project)
    type_names = {item.name.lower(): item.name for item in anatomy.task_types}
    status_names = {item.name.lower(): item.name for item in anatomy.statuses}

    written = Written()
    url = f"{bed.ayon_url}/api/projects/{project}"
    async with httpx.AsyncClient(headers={"x-api-key": SERVICE_KEY}) as client:

        async def post(kind: str, body: dict[str, Any]) -> str:
            answer = await client.post(f"{url}/{kind}", json=body)
            assert answer.status_code == 201, answer.text
            return str(answer.json()["id"])

        async def folder(key: str, name: str, parent: str | None, **body: Any) -> str:
            if key not in written.folders:
                parent_id = {"parentId": written.folders[parent]} if parent else {}
                data = {"kitsuId": key}
                body |= {"name": _name(name), "label": name, "data": data, **parent_id}
                written.folders[key] = await post("folders", body)
            return written.folders[key]

        asset_types = {t.id: t for t in production.asset_types}
        for kind, entity in entities:
            label, root = _ROOTS[kind]
            parent = getattr(entity, "parent_id", None)
            if isinstance(entity, KitsuAsset):
                await folder(root, label, None)
                asset_type = asset_types[entity.entity_type_id]
                await folder(asset_type.id, asset_type.name, root)
                parent = asset_type.id
            elif parent is None:
                await folder(root, label, None)
                parent = root
            await folder(entity.id, entity.name, parent, folderType=kind, attrib=_attrib(entity))

        types = {t.id: t.name for t in production.task_types}
        statuses = {s.id: s.name for s in production.task_statuses}
        users = {email: user for user, email in USERS.items()}
        emails = {p.id: p.email for p in production.persons}
        for task in production.tasks:
            name = (stale_task_names or {}).get(task.id) or task_name(
                task, types[task.task_type_id]
            )
            assignees = [users[e] for p in task.assignees or () if (e := emails.get(p)) in users]
            written.tasks[task.id] = await post(
                "tasks",
                {
                    "name": _name(name),
                    "label": name,
                    "taskType": type_names[types[task.task_type_id].lower()],
                    "status": status_names[statuses[task.task_status_id].lower()],
                    "folderId": written.folders[task.entity_id],
                    "assignees": assignees,
                    "data": {"kitsuId": task.id},
                },
            )

    # get_casting_links: the casting of shots and assets (an episode's is not synced).
    containers = {entity.id for kind, entity in entities if kind in ("Shot", "Asset")}
    cast = [
        (container, asset, k)
        for container, casting in sorted(castings.items())
        if container in containers
        for asset, count in sorted(casting.items())
        for k in range(1, count + 1)
        if container in written.folders and asset in written.folders
    ]
    ids = await writer.create_links(
        project,
        [
            LinkCreate(
                input=written.folders[asset],
                output=written.folders[container],
                link_type=BREAKDOWN,
                data={"kitsuAssetId": asset, "kitsuTargetId": container, "occurence": k},
            )
            for container, asset, k in cast
        ],
    )
    written.links = dict(zip(cast, ids, strict=True))
    return written
