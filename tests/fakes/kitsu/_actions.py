"""The write routes kitsync's AYON -> Kitsu direction uses, answering as Zou 1.0.97 does
(``tests/fixtures/kitsu/film/mutations_log.json``: steps M18-M21 and the build's assignments).

The state changes and the events they emit are :class:`Mutations`' (the same ones the tests
drive through the Python API); these handlers add the HTTP shape: status codes and bodies.
"""

from __future__ import annotations

import copy
from typing import Any

from . import _views as views
from ._errors import bad_request, is_uuid, not_found
from ._routes import Call, route


def _ids(call: Call, key: str) -> list[str]:
    values = call.body.get(key) if isinstance(call.body, dict) else None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise bad_request(f"{key} must be a list of ids")
    return values


@route("POST", "/actions/tasks/{task_id}/comment")
def comment_task(call: Call, task_id: str) -> Any:
    """201 with the comment row, its ``task_status`` and ``person`` nested."""
    body = call.body if isinstance(call.body, dict) else {}
    status_id = body.get("task_status_id")
    if not isinstance(status_id, str) or status_id not in call.store.task_statuses:
        raise not_found()
    if task_id not in call.store.tasks:
        raise not_found()
    assert call.person is not None  # an authenticated route
    row = call.state.mutations.set_task_status(
        task_id, status_id, person_id=call.person["id"], comment=str(body.get("comment") or "")
    )
    call.status = 201
    return {
        **row,
        "previews": [],
        "mentions": [],
        "department_mentions": [],
        "acknowledgements": [],
        "attachment_files": [],
        "task_status": copy.deepcopy(call.store.task_statuses[status_id]),
        "person": views.person_plain(call.person),
    }


@route("PUT", "/actions/persons/{person_id}/assign")
def assign_tasks(call: Call, person_id: str) -> Any:
    """200 with the task rows (``task:assign`` + ``task:update`` for each newly assigned)."""
    if person_id not in call.store.persons:
        raise not_found()
    task_ids = _ids(call, "task_ids")
    tasks = [call.state.mutations.assign(task_id, [person_id]) for task_id in task_ids]
    return [views.task(task) for task in tasks]


@route("PUT", "/actions/tasks/clear-assignation")
def clear_assignation(call: Call) -> Any:
    """200 with the ids of the tasks (``task:unassign`` + ``task:update`` where it was assigned)."""
    task_ids = _ids(call, "task_ids")
    person_id = call.body.get("person_id")
    if not isinstance(person_id, str) or not is_uuid(person_id):
        raise bad_request("person_id must be an id")
    for task_id in task_ids:
        call.state.mutations.unassign(task_id, person_id)
    return task_ids
