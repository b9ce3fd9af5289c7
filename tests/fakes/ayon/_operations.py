"""POST /api/projects/{p}/operations: batches of creates, updates and deletes.

Default: one transaction that stops at the first failure and rolls everything back, while the
answer still reports the earlier ops as successes (AYON's behaviour). ``canFail``: each op
commits on its own and ``raiseOnError`` is ignored.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.responses import Response

from . import _entities
from ._db import batched_hierarchy_refresh
from ._events import Caller
from ._http import Ctx
from ._wire import ApiError, ErrorItem, Field, Model, id_field, json_response, new_id, validate

_ENTITY_TYPES = ("folder", "product", "version", "representation", "task", "workfile")
_REQUEST = Model(
    "OperationsRequestModel",
    (
        Field("operations", "list", nullable=False),
        Field("canFail", "bool", nullable=False),
        Field("raiseOnError", "bool", nullable=False),
        Field("waitForEvents", "bool", nullable=False),
    ),
)
_OPERATION = Model(
    "OperationModel",
    (
        Field("id"),
        Field("type", required=True, nullable=False, choices=("create", "update", "delete")),
        Field("entityType", required=True, nullable=False, choices=_ENTITY_TYPES),
        id_field("entityId"),
        Field("data", "dict"),
        Field("force", "bool"),
    ),
)


async def post_operations(ctx: Ctx) -> Response:
    project = await ctx.project()
    request, operations = _validated(ctx, await ctx.json())
    _reject_duplicates(operations)
    can_fail = bool(request.get("can_fail"))
    async with ctx.pool.acquire() as conn:
        if can_fail:
            async with batched_hierarchy_refresh(conn):
                results = [await _attempt(conn, project, ctx.caller, op) for op in operations]
        else:
            results = await _all_or_nothing(conn, project, ctx.caller, operations)
    failure = next((result for result in results if not result["success"]), None)
    if failure is not None and request.get("raise_on_error") and not can_fail:
        raise ApiError(failure["status"], failure["detail"], error_code=failure["errorCode"])
    return json_response({"operations": results, "success": failure is None})


def _validated(ctx: Ctx, raw: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    request, errors = validate(_REQUEST, raw)
    operations = []
    for index, item in enumerate(request.get("operations") or []):
        operation, op_errors = validate(_OPERATION, item, ("body", "operations", index))
        operations.append(operation)
        errors.extend(op_errors)
    if errors:
        raise ctx.invalid(errors)
    return request, operations


def _reject_duplicates(operations: list[dict[str, Any]]) -> None:
    """Two updates/deletes of one entity in a batch are refused before anything runs."""
    seen: set[tuple[str, str | None]] = set()
    for op in operations:
        if op["type"] == "create":
            continue
        key = (op["entity_type"], op.get("entity_id"))
        if key in seen:
            raise ApiError(400, f"Duplicate operation for {key[0]} {key[1]}")
        seen.add(key)


async def _all_or_nothing(
    conn: asyncpg.Connection, project: str, caller: Caller, operations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    transaction = conn.transaction()
    await transaction.start()
    try:
        async with batched_hierarchy_refresh(conn):
            for op in operations:
                results.append(await _attempt(conn, project, caller, op))
                if not results[-1]["success"]:
                    break
    except BaseException:
        await transaction.rollback()
        raise
    if all(result["success"] for result in results):
        await transaction.commit()
    else:
        await transaction.rollback()
    return results


async def _attempt(
    conn: asyncpg.Connection, project: str, caller: Caller, op: dict[str, Any]
) -> dict[str, Any]:
    """Run one op in its own (sub)transaction and report it in AYON's result shape."""
    data = op.get("data") or {}
    entity_id = op.get("entity_id") or data.get("id")
    if op["type"] == "create" and not entity_id:
        entity_id = new_id()
    result: dict[str, Any] = {
        "id": op.get("id") or new_id(),
        "type": op["type"],
        "entityType": op["entity_type"],
        "entityId": entity_id,
        "success": True,
        "status": 201 if op["type"] == "create" else 204,
        "errorCode": None,
        "detail": None,
    }
    try:
        async with conn.transaction():
            await _apply(conn, project, caller, op, entity_id, data)
    except ApiError as exc:
        result.update(success=False, status=exc.status, errorCode=exc.error_code, detail=exc.detail)
    return result


async def _apply(
    conn: asyncpg.Connection,
    project: str,
    caller: Caller,
    op: dict[str, Any],
    entity_id: str | None,
    data: dict[str, Any],
) -> None:
    kind = _entities.KINDS.get(op["entity_type"])
    if kind is None:
        raise ApiError(400, f"The fake AYON server does not support {op['entity_type']} entities")
    if op["type"] == "create":
        values, errors = _entities.parse(kind, data, create=True, loc=("data",))
        _raise_invalid(kind, errors, create=True)
        await _entities.create(conn, kind, project, caller, values, entity_id)
        return
    if entity_id is None:
        raise ApiError(400, "Missing entityId")
    if op["type"] == "update":
        values, errors = _entities.parse(kind, data, create=False, loc=("data",))
        _raise_invalid(kind, errors, create=False)
        await _entities.update(conn, kind, project, caller, entity_id, values)
    else:
        await _entities.delete(conn, kind, project, caller, entity_id)


def _raise_invalid(kind: _entities.Kind, errors: list[ErrorItem], *, create: bool) -> None:
    if errors:
        raise _entities.invalid_data(kind, errors, create)
