"""AYON schemas against the bodies a real AYON 1.16 sent and accepted (tests/fixtures/ayon)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from kitsync.schemas.ayon import (
    AnatomyItem,
    AyonEvent,
    AyonFolder,
    AyonLink,
    AyonProject,
    AyonTask,
    AyonUser,
    CreatedId,
    LinkCreate,
    LinksBulkRequest,
    LinksBulkResponse,
    LinkTypeItem,
    Operation,
    OperationsRequest,
    OperationsResponse,
)
from tests.conftest import FIXTURES


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "ayon" / f"{name}.json").read_text())


def request_body(name: str) -> dict[str, Any]:
    return fixture(name)["request"]["json"]


def response_body(name: str) -> Any:
    return fixture(name)["response"]["json"]


REQUESTS: list[tuple[str, type[Any]]] = [
    ("operations_all_success", OperationsRequest),
    ("operations_parent_child_one_batch", OperationsRequest),
    ("operations_failing_default", OperationsRequest),
    ("operations_failing_raise_on_error", OperationsRequest),
    ("operations_failing_can_fail_raise", OperationsRequest),
    ("operations_delete", OperationsRequest),
    ("operations_empty", OperationsRequest),
    ("links_create", LinkCreate),
    ("links_create_server_id", LinkCreate),
    ("links_create_custom_type", LinkCreate),
    ("links_bulk_create", LinksBulkRequest),
    ("links_bulk_empty", LinksBulkRequest),
    ("events_create_with_hash", AyonEvent),
    ("events_create_duplicate_hash", AyonEvent),
    ("events_create_pending_no_hash", AyonEvent),
    ("events_create_body_sender", AyonEvent),
]


@pytest.mark.parametrize(("name", "model"), REQUESTS, ids=[name for name, _ in REQUESTS])
def test_request_bodies_round_trip_exactly(name: str, model: type[Any]) -> None:
    body = request_body(name)
    parsed = TypeAdapter(model).validate_python(body)  # a model or a dataclass
    assert parsed.to_wire() == body


FIELD_OF = {
    "folderTypes": "folder_types",
    "taskTypes": "task_types",
    "statuses": "statuses",
    "linkTypes": "link_types",
}


@pytest.mark.parametrize(
    "name",
    [
        "projects_patch_add_folder_type",
        "projects_patch_add_task_type",
        "projects_patch_add_status",
        "projects_patch_add_link_type",
    ],
)
def test_anatomy_patch_bodies_round_trip_exactly(name: str) -> None:
    body = request_body(name)
    project = AyonProject.model_validate({"name": "p", "code": "p", **body})
    (key,) = body
    items = getattr(project, FIELD_OF[key])
    assert [item.model_dump(mode="json", by_alias=True) for item in items] == body[key]


RESPONSES: list[tuple[str, type[BaseModel]]] = [
    ("operations_all_success", OperationsResponse),
    ("operations_failing_default", OperationsResponse),
    ("operations_update_unknown_entity", OperationsResponse),
    ("operations_invalid_data", OperationsResponse),
    ("links_bulk_create", LinksBulkResponse),
    ("links_create", CreatedId),
    ("events_create_with_hash", CreatedId),
]


@pytest.mark.parametrize(("name", "model"), RESPONSES, ids=[name for name, _ in RESPONSES])
def test_response_bodies_round_trip_exactly(name: str, model: type[BaseModel]) -> None:
    body = response_body(name)
    parsed = model.model_validate(body)
    assert parsed.model_dump(mode="json", by_alias=True, exclude_unset=True) == body


def test_operation_result_fields_read_in_snake_case() -> None:
    answer = OperationsResponse.model_validate(response_body("operations_failing_default"))
    failed = answer.operations[1]
    assert (answer.success, failed.success, failed.status) == (False, False, 409)
    assert failed.error_code == "unique-violation"
    assert failed.entity_id == "cceaaa7dabc756daa23a2459173a7748"


def test_folder_from_rest_keeps_ayon_fields_and_drops_the_rest() -> None:
    body = response_body("folders_get")
    folder = AyonFolder.model_validate(body)
    dumped = folder.model_dump(mode="json", by_alias=True)
    assert set(dumped) == {
        "id", "name", "label", "folderType", "parentId", "attrib", "data", "status", "tags",
        "active", "path",
    }  # fmt: skip
    assert {k: v for k, v in dumped.items() if k != "path"} == {
        k: body[k] for k in dumped if k != "path"
    }
    assert folder.path == "assets/characters/hero"  # REST's leading "/" dropped, as in SQL
    assert folder.kitsu_id == "k-asset-hero"


def test_folder_list_items_parse_with_null_parent_and_label() -> None:
    items = fixture("folders_list")["response"]["json"]["folders"]
    folders = [AyonFolder.model_validate(item) for item in items]
    assert [f.id for f in folders] == [item["id"] for item in items]
    assert any(f.parent_id is None for f in folders)
    assert any(f.label is None for f in folders)


def test_task_from_rest() -> None:
    body = response_body("tasks_get")
    task = TypeAdapter(AyonTask).validate_python(body)
    dumped = TypeAdapter(AyonTask).dump_python(task, mode="json", by_alias=True)
    assert dumped == {k: body[k] for k in dumped}
    assert (task.folder_id, task.task_type, task.assignees) == (
        "03acd03ea5a65b4491d90952446d0ba8",
        "Modeling",
        ["admin"],
    )
    assert task.kitsu_id == "k-task-hero-modeling"


def test_project_anatomy_lists_parse_in_order_with_every_key() -> None:
    body = response_body("projects_get")
    project = AyonProject.model_validate(body)
    for key, items in (
        ("folderTypes", project.folder_types),
        ("taskTypes", project.task_types),
        ("statuses", project.statuses),
        ("linkTypes", project.link_types),
    ):
        assert [i.model_dump(mode="json", by_alias=True) for i in items] == body[key]
    assert project.code == "ksfx"


def test_service_user_is_recognised() -> None:
    assert AyonUser.model_validate(response_body("auth_apikey_ok")).is_service
    assert not AyonUser(name="admin", data={"isAdmin": True}).is_service


@pytest.mark.parametrize(
    "bad_id",
    [
        request_body("folders_create_bad_id")["id"],
        request_body("folders_create_dashed_uuid_id")["id"],
        request_body("folders_create_uppercase_hex_id")["id"],  # AYON: 500 and half-done
        request_body("links_create_bad_id")["id"],
    ],
)
def test_ids_ayon_refuses_are_refused_before_sending(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        Operation(type="update", entity_type="folder", entity_id=bad_id, data={"label": "x"})


def test_uuid_objects_from_asyncpg_become_32_hex() -> None:
    value = uuid.uuid4()
    link = AyonLink(
        id=value, link_type="breakdown|folder|folder", input_id=uuid.uuid4(), output_id=value
    )
    assert link.id == value.hex and link.output_id == value.hex


@pytest.mark.parametrize(
    "name",
    [
        "links_create_bad_format",  # no |input|output parts
        "links_create_self",  # input == output
        "links_create_bad_id",
    ],
)
def test_links_ayon_refuses_are_refused_before_sending(name: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(LinkCreate).validate_python(request_body(name))


def test_link_is_not_an_operation_entity_type() -> None:
    with pytest.raises(ValidationError):
        OperationsRequest.model_validate(request_body("operations_link_entity_type"))


def test_short_topic_is_refused() -> None:
    with pytest.raises(ValidationError):
        AyonEvent.model_validate(request_body("events_create_bad_topic"))


def test_operation_needs_a_target_and_fitting_data() -> None:
    with pytest.raises(ValidationError, match="needs entity_id"):
        Operation(type="update", entity_type="folder", data={"label": "x"})
    with pytest.raises(ValidationError):
        Operation(type="delete", entity_type="task", entity_id="a" * 32, data={"label": "x"})
    with pytest.raises(ValidationError):
        Operation(type="create", entity_type="task", entity_id="a" * 32)


def test_operation_keeps_nulls_inside_data_because_they_delete_keys() -> None:
    op = Operation(
        type="update", entity_type="folder", entity_id="a" * 32, data={"attrib": {"fps": None}}
    )
    assert op.to_wire() == {
        "type": "update",
        "entityType": "folder",
        "entityId": "a" * 32,
        "data": {"attrib": {"fps": None}},
    }


def test_operations_request_sends_can_fail_when_set() -> None:
    body = OperationsRequest(operations=[], can_fail=False).to_wire()
    assert body == {"operations": [], "canFail": False}


def test_anatomy_item_passes_unknown_keys_through() -> None:
    item = AnatomyItem(name="Layout", shortName="lay", color="#ff0000")
    assert item.model_dump(mode="json", by_alias=True) == {
        "name": "Layout",
        "shortName": "lay",
        "color": "#ff0000",
    }
    with pytest.raises(ValidationError):
        AnatomyItem(name="")


def test_link_type_item_takes_its_parts_from_the_name() -> None:
    item = LinkTypeItem(name="casting|folder|folder", data={"color": "#00aaff"})
    assert item.model_dump(mode="json", by_alias=True) == {
        "name": "casting|folder|folder",
        "linkType": "casting",
        "inputType": "folder",
        "outputType": "folder",
        "data": {"color": "#00aaff"},
    }
    with pytest.raises(ValidationError):
        LinkTypeItem(name="casting")
