"""Default anatomy and attribute definitions of a freshly deployed AYON 1.16 project.

The defaults are read from the recordings themselves (``projects_get.json`` and
``projects_anatomy_get.json``), so the fake deploys exactly what the real server deployed.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

from ._wire import ErrorItem, Field, check_value

_RECORDINGS = Path(__file__).resolve().parents[2] / "fixtures" / "ayon"

# Attribute definitions in AYON's order (the order of GET attrib objects), with their types.
ATTRIBUTES: tuple[Field, ...] = (
    Field("priority"),
    Field("fps", "float"),
    Field("resolutionWidth", "int"),
    Field("resolutionHeight", "int"),
    Field("pixelAspect", "float"),
    Field("clipIn", "int"),
    Field("clipOut", "int"),
    Field("frameStart", "int"),
    Field("frameEnd", "int"),
    Field("handleStart", "int"),
    Field("handleEnd", "int"),
    Field("startDate", "datetime"),
    Field("endDate", "datetime"),
    Field("description"),
)
_BY_NAME = {spec.name: spec for spec in ATTRIBUTES}
# A description belongs to its entity; every other attribute is inherited down the hierarchy.
INHERITABLE = frozenset(_BY_NAME) - {"description"}

ANATOMY_LISTS = ("folder_types", "task_types", "statuses", "tags")


@functools.cache
def _recorded(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((_RECORDINGS / f"{name}.json").read_text())["response"][
        "json"
    ]
    return document


def default_project() -> dict[str, Any]:
    """Anatomy lists (wire items), link types, attrib and config of a default deployment."""
    recorded = _recorded("projects_get")
    return copy.deepcopy(
        {
            "folder_types": recorded["folderTypes"],
            "task_types": recorded["taskTypes"],
            "statuses": recorded["statuses"],
            "tags": recorded["tags"],
            "link_types": recorded["linkTypes"],
            "attrib": recorded["attrib"],
            "config": recorded["config"],
        }
    )


def project_from_anatomy(anatomy: dict[str, Any]) -> dict[str, Any]:
    """Deployment values from an anatomy document (snake_case, as GET .../anatomy returns it)."""
    project = default_project()
    for key in ANATOMY_LISTS:
        if key in anatomy:
            project[key] = [
                {k: v for k, v in item.items() if k != "original_name"} for item in anatomy[key]
            ]
    if "link_types" in anatomy:
        project["link_types"] = [
            link_type_item(
                {
                    "linkType": item["link_type"],
                    "inputType": item["input_type"],
                    "outputType": item["output_type"],
                    "data": {
                        k: v
                        for k, v in item.items()
                        if k not in ("link_type", "input_type", "output_type")
                    },
                }
            )
            for item in anatomy["link_types"]
        ]
    if "attributes" in anatomy:
        clean, _ = clean_attrib(anatomy["attributes"], ("body", "anatomy", "attributes"))
        project["attrib"] = {k: v for k, v in clean.items() if v is not None}
    return project


def link_type_item(item: dict[str, Any]) -> dict[str, Any]:
    """A full link type item; the name and the parts are derived from each other when missing."""
    name = item.get("name")
    parts = name.split("|") if isinstance(name, str) else []
    link_type = item.get("linkType", item.get("link_type", parts[0] if parts else None))
    input_type = item.get("inputType", item.get("input_type", parts[1] if len(parts) > 1 else None))
    output_type = item.get(
        "outputType", item.get("output_type", parts[2] if len(parts) > 2 else None)
    )
    return {
        "name": name or f"{link_type}|{input_type}|{output_type}",
        "linkType": link_type,
        "inputType": input_type,
        "outputType": output_type,
        "data": item.get("data") or {},
    }


def clean_attrib(
    values: dict[str, Any], loc: tuple[Any, ...]
) -> tuple[dict[str, Any], list[ErrorItem]]:
    """Coerce known attributes to their types; unknown keys are dropped silently, as AYON does."""
    clean: dict[str, Any] = {}
    errors: list[ErrorItem] = []
    for key, value in values.items():
        spec = _BY_NAME.get(key)
        if spec is None:
            continue
        converted, error = check_value(spec, value, (*loc, key))
        if error:
            errors.append(error)
        else:
            clean[key] = converted
    return clean, errors


def ordered_attrib(values: dict[str, Any]) -> dict[str, Any]:
    """Attributes in definition order, nulls left out."""
    return {
        spec.name: values[spec.name] for spec in ATTRIBUTES if values.get(spec.name) is not None
    }


def resolve_attrib(project_attrib: dict[str, Any], chain: list[dict[str, Any]]) -> dict[str, Any]:
    """Effective attributes: project, then each ancestor's own (root first), then the entity's own.

    ``chain`` holds own attribs from the root down to the entity itself (the last item).
    """
    merged = {k: v for k, v in project_attrib.items() if k in INHERITABLE}
    for ancestor in chain[:-1]:
        merged.update({k: v for k, v in ancestor.items() if k in INHERITABLE})
    merged.update(chain[-1] if chain else {})
    return ordered_attrib(merged)


def anatomy_document(project: dict[str, Any]) -> dict[str, Any]:
    """GET .../anatomy: the recorded document with the project's current lists and attributes."""
    document = copy.deepcopy(_recorded("projects_anatomy_get"))
    document["attributes"] = {spec.name: project["attrib"].get(spec.name) for spec in ATTRIBUTES}
    for key, wire_key in (
        ("folder_types", "folderTypes"),
        ("task_types", "taskTypes"),
        ("statuses", "statuses"),
        ("tags", "tags"),
    ):
        document[key] = [
            {"name": item["name"], "original_name": item["name"], **item}
            for item in project[wire_key]
        ]
    document["link_types"] = [
        {
            "link_type": item["linkType"],
            "input_type": item["inputType"],
            "output_type": item["outputType"],
            **item["data"],
        }
        for item in project["linkTypes"]
    ]
    return document
