"""``POST /graphql``: AYON 1.16's GraphQL reads, parsed and validated by graphql-core against the
schema recorded from the real server (``tests/fixtures/ayon/graphql/schema.graphql``).

Only the fields kitsync and the recordings use have resolvers; the rest of the schema is there
for validation (an unknown field or argument fails exactly as on AYON). The behaviours the
recordings' README lists are reproduced: default page of 100, ``first: 0`` meaning "up to 1000",
``hasNextPage = (len(page) == first)``, ``last`` newest first, cursors as base64 JSON lists (links:
decimal ``creation_order``), ``data`` as a compact sorted JSON string, inherited ``attrib``,
``ownAttrib`` that grows once ``attrib`` was resolved, per-folder links cut at their own ``first``,
filters as a JSON string of conditions, and AYON's error messages.

Each request reads a project's folders, tasks or links at most once (a snapshot held for the
request), then filters in memory: the fake's projects are small, and a request sees one state.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import asyncpg
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLResolveInfo,
    build_client_schema,
    execute,
    parse,
    validate,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ._anatomy import INHERITABLE, ordered_attrib, resolve_attrib
from ._db import schema
from ._projects import read_project
from ._wire import iso

_RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "ayon" / "graphql"
# The schema as recorded from AYON 1.16: its introspection result (schema.graphql is the same
# schema as SDL); built from the introspection, types keep the server's order.
SCHEMA = build_client_schema(json.loads((_RECORDED / "introspection.json").read_text())["data"])

DEFAULT_PAGE = 100
FIRST_ZERO_LIMIT = 1000
_HEX = re.compile(r"^[0-9a-f]{32}$")
# Columns a filter condition may name, per entity (AYON's whitelist; data/attrib keys are free).
_FILTER_COLUMNS = {
    "folder": {"id", "name", "label", "folder_type", "parent_id", "status", "tags", "active"},
    "task": {"id", "name", "label", "task_type", "folder_id", "status", "tags", "active"},
}


# --- the endpoint -------------------------------------------------------------------------------


async def post_graphql(request: Request) -> Response:
    """Parse, validate, execute; every GraphQL error is a 200 with ``errors`` (as AYON)."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        return _answer({"data": None, "errors": [{"message": "Invalid JSON body"}]})
    document, problems = _checked(body.get("query") or "")
    if document is None:
        return _answer({"data": None, "errors": problems})
    context = _Context(request.app.state.pool, request.state.user)
    result = execute(
        SCHEMA,
        document,
        context_value=context,
        variable_values=body.get("variables"),
        operation_name=body.get("operationName"),
    )
    if not isinstance(result, Mapping) and hasattr(result, "__await__"):
        result = await result
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [error.formatted for error in result.errors]
    return _answer(answer)


@functools.lru_cache(maxsize=256)
def _checked(query: str) -> tuple[DocumentNode | None, list[dict[str, Any]]]:
    """The parsed query, or its syntax or validation errors. Cached by text: clients send the
    same few queries over and over, and validation against AYON's large schema is slow."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return None, [error.formatted]
    problems = validate(SCHEMA, document)
    if problems:
        return None, [error.formatted for error in problems]
    return document, []


async def get_graphql(_: Request) -> Response:
    return PlainTextResponse("Not Found", status_code=404)


def _answer(payload: dict[str, Any]) -> Response:
    # AYON's GraphQL answers keep json.dumps' default separators (REST bodies are compact).
    return Response(json.dumps(payload), media_type="application/json")


# --- per-request state --------------------------------------------------------------------------


@dataclass
class _Context:
    pool: asyncpg.Pool
    user: str | None
    snapshots: dict[str, _Snapshot] = field(default_factory=dict)

    async def snapshot(self, project: str) -> _Snapshot:
        if project not in self.snapshots:
            attrib = await self.pool.fetchval(
                "SELECT attrib FROM public.projects WHERE name = $1", project
            )
            self.snapshots[project] = _Snapshot(self.pool, project, attrib or {})
        return self.snapshots[project]


def _plain(record: asyncpg.Record) -> dict[str, Any]:
    return {k: v.hex if isinstance(v, uuid.UUID) else v for k, v in record.items()}


@dataclass
class _Snapshot:
    """One project's rows, read once per request and only when asked for."""

    pool: asyncpg.Pool
    project: str
    project_attrib: dict[str, Any]
    _folders: dict[str, dict[str, Any]] | None = None
    _tasks: list[dict[str, Any]] | None = None
    _links: list[dict[str, Any]] | None = None
    _product_folders: set[str] | None = None
    _task_counts: Counter[str] | None = None
    # Every folder row read so far (all of them once ``folders`` ran): paths and inherited
    # attributes are built from it.
    _known: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def folders(self) -> dict[str, dict[str, Any]]:
        if self._folders is None:
            rows = await self.pool.fetch(
                f"SELECT * FROM {schema(self.project)}.folders ORDER BY creation_order"
            )
            self._folders = {row["id"].hex: _plain(row) for row in rows}
            self._known.update(self._folders)
        return self._folders

    async def folders_picked(
        self, ids: set[str] | None, parents: set[str | None] | None
    ) -> list[dict[str, Any]]:
        """The folders with these ids and/or under these parents (None: the roots), with their
        ancestors read along (for paths), as AYON reads them: by its indexes, not the table."""
        conditions, params = [], []
        if ids is not None:
            params.append([uuid.UUID(value) for value in ids])
            conditions.append(f"id = ANY(${len(params)}::uuid[])")
        if parents is not None:
            params.append([uuid.UUID(value) for value in parents if value is not None])
            roots = " OR parent_id IS NULL" if None in parents else ""
            conditions.append(f"(parent_id = ANY(${len(params)}::uuid[]){roots})")
        s = schema(self.project)
        rows = await self.pool.fetch(
            f"""WITH RECURSIVE picked AS (
                    SELECT * FROM {s}.folders WHERE {" AND ".join(conditions)}
                ), up AS (
                    SELECT id, parent_id FROM picked
                    UNION
                    SELECT f.id, f.parent_id FROM {s}.folders f JOIN up ON f.id = up.parent_id
                )
                SELECT f.*, f.id IN (SELECT id FROM picked) AS picked
                FROM {s}.folders f WHERE f.id IN (SELECT id FROM up)
                ORDER BY f.creation_order""",
            *params,
        )
        found = []
        for row in rows:
            plain = _plain(row)
            if plain.pop("picked"):
                found.append(plain)
            self._known[plain["id"]] = plain
        return found

    async def product_folders(self) -> set[str]:
        if self._product_folders is None:
            products = await self.pool.fetch(
                f"SELECT DISTINCT folder_id FROM {schema(self.project)}.products"
            )
            self._product_folders = {row["folder_id"].hex for row in products}
        return self._product_folders

    async def tasks(self) -> list[dict[str, Any]]:
        if self._tasks is None:
            rows = await self.pool.fetch(
                f"SELECT * FROM {schema(self.project)}.tasks ORDER BY creation_order"
            )
            self._tasks = [_plain(row) for row in rows]
        return self._tasks

    async def links(self) -> list[dict[str, Any]]:
        if self._links is None:
            rows = await self.pool.fetch(
                f"SELECT * FROM {schema(self.project)}.links ORDER BY creation_order"
            )
            self._links = [_plain(row) for row in rows]
        return self._links

    async def narrowed(
        self, table: str, by: Mapping[str, set[str] | None], *, either: set[str] | None = None
    ) -> list[dict[str, Any]] | None:
        """Rows of ``table`` whose id columns hold the given ids (``either``: links with it as
        input or output), in creation order, selected in SQL as AYON does with its indexes;
        None when nothing narrows the read (the caller takes the whole table)."""
        conditions, params = [], []
        for column, values in by.items():
            if values is not None:
                params.append([uuid.UUID(value) for value in values])
                conditions.append(f"{column} = ANY(${len(params)}::uuid[])")
        if either is not None:
            params.append([uuid.UUID(value) for value in either])
            n = len(params)
            conditions.append(f"(input_id = ANY(${n}::uuid[]) OR output_id = ANY(${n}::uuid[]))")
        if not conditions:
            return None
        rows = await self.pool.fetch(
            f"SELECT * FROM {schema(self.project)}.{table} WHERE {' AND '.join(conditions)} "
            "ORDER BY creation_order",
            *params,
        )
        return [_plain(row) for row in rows]

    @cached_property
    def _children(self) -> dict[str | None, list[str]]:
        assert self._folders is not None
        children: dict[str | None, list[str]] = {}
        for folder_id, row in self._folders.items():
            children.setdefault(row["parent_id"], []).append(folder_id)
        return children

    async def _task_count(self, folder_id: str) -> int:
        if self._task_counts is None:
            self._task_counts = Counter(task["folder_id"] for task in await self.tasks())
        return self._task_counts[folder_id]

    async def _has_tasks(self, folder_id: str) -> bool:
        return await self._task_count(folder_id) > 0

    def chain(self, folder_id: str | None) -> list[dict[str, Any]]:
        """The folder rows from the root down to ``folder_id`` (read already)."""
        rows = []
        while folder_id is not None and folder_id in self._known:
            rows.append(self._known[folder_id])
            folder_id = self._known[folder_id]["parent_id"]
        return rows[::-1]

    async def _child_count(self, folder_id: str) -> int:
        await self.folders()
        return len(self._children.get(folder_id, []))

    async def _has_children(self, folder_id: str) -> bool:
        return await self._child_count(folder_id) > 0

    def descendants(self, folder_ids: Iterable[str]) -> list[str]:
        found: list[str] = []
        pending = list(folder_ids)
        while pending:
            children = self._children.get(pending.pop(), [])
            found += children
            pending += children
        return found

    async def folder_node(self, row: dict[str, Any]) -> _EntityNode:
        chain = self.chain(row["id"])
        names = [item["name"] for item in chain]
        extra = {
            "path": "/" + "/".join(names),
            "parents": names[:-1],
            "parentId": row["parent_id"],
            "folderType": row["folder_type"],
            "childCount": lambda _info: self._child_count(row["id"]),
            "hasChildren": lambda _info: self._has_children(row["id"]),
            "taskCount": lambda _info: self._task_count(row["id"]),
            "hasTasks": lambda _info: self._has_tasks(row["id"]),
            "hasProducts": row["id"] in await self.product_folders(),
            "productCount": 0,
        }
        return _EntityNode(self, "folder", row, [item["attrib"] for item in chain], extra)

    async def know(self, folder_ids: set[str]) -> None:
        """Read these folders and their ancestors, if not read yet (a task's path needs them)."""
        missing = folder_ids - self._known.keys()
        if missing:
            await self.folders_picked(missing, None)

    async def task_node(self, row: dict[str, Any]) -> _EntityNode:
        await self.know({row["folder_id"]})
        chain = self.chain(row["folder_id"])
        names = [item["name"] for item in chain]
        extra = {
            "path": "/" + "/".join([*names, row["name"]]),
            "parents": names,
            "folderId": row["folder_id"],
            "taskType": row["task_type"],
            "assignees": row["assignees"],
        }
        attribs = [item["attrib"] for item in chain] + [row["attrib"]]
        return _EntityNode(self, "task", row, attribs, extra)


# --- nodes --------------------------------------------------------------------------------------


class _EntityNode(dict[str, Any]):
    """A folder or task as GraphQL sees it. graphql-core's default resolver reads keys, and calls
    the callables among them (``attrib``, ``ownAttrib``, ``links``, ``tasks``) with the field's
    arguments, in the order the query asks for the fields."""

    def __init__(
        self,
        snapshot: _Snapshot,
        kind: str,
        row: dict[str, Any],
        attrib_chain: list[dict[str, Any]],
        extra: dict[str, Any],
    ) -> None:
        own = row.get("attrib") or {}
        super().__init__(
            __typename="FolderNode" if kind == "folder" else "TaskNode",
            projectName=snapshot.project,
            id=row["id"],
            name=row["name"],
            label=row.get("label"),
            status=row["status"],
            tags=row["tags"],
            active=row["active"],
            data=_data_string(row.get("data")),
            createdAt=iso(row["created_at"]),
            updatedAt=iso(row["updated_at"]),
            createdBy=row.get("created_by"),
            updatedBy=row.get("updated_by"),
            allAttrib=_data_string(resolve_attrib(snapshot.project_attrib, attrib_chain)) or "{}",
            type=kind,
            **extra,
        )
        self._snapshot, self._kind, self._chain = snapshot, kind, attrib_chain
        self._own = list(own)
        self["attrib"] = self._attrib
        self["ownAttrib"] = lambda _info: list(self._own)
        if kind == "folder":
            self["links"] = self._links
            self["tasks"] = self._tasks

    def _attrib(self, _info: GraphQLResolveInfo) -> dict[str, Any]:
        resolved = resolve_attrib(self._snapshot.project_attrib, self._chain)
        # AYON fills ownAttrib with the inherited keys while it resolves attrib (only when the
        # entity has own attributes): asked after attrib, ownAttrib lists them too.
        if self._own:
            self._own += [k for k in resolved if k in INHERITABLE and k not in self._own]
        return resolved

    async def _tasks(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        return await _tasks_connection(self._snapshot, {**args, "folderIds": [self["id"]]})

    async def _links(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        """``folder.links``: both directions unless ``direction`` says; its own ``first``."""
        direction, types = args.get("direction"), args.get("linkTypes")
        me = self["id"]
        edges = []
        for link in await self._snapshot.links():
            short, input_type, output_type = link["link_type"].split("|")
            if types is not None and short not in types:
                continue
            if link["output_id"] == me and direction in (None, "in"):
                side, other, other_type = "in", link["input_id"], input_type
            elif link["input_id"] == me and direction in (None, "out"):
                side, other, other_type = "out", link["output_id"], output_type
            else:
                continue
            edges.append(
                {
                    "id": link["id"],
                    "projectName": self._snapshot.project,
                    "name": link["name"],
                    "linkType": short,
                    "direction": side,
                    "entityId": other,
                    "entityType": other_type,
                    "author": link["author"],
                    "cursor": str(link["creation_order"]),
                    "description": f"{short} link with input {input_type} and output {output_type}",
                    "data": link["data"],
                    "node": lambda _info, i=other, t=other_type: _node(self._snapshot, t, i),
                    "_order": link["creation_order"],
                }
            )
        return _links_page(edges, args.get("first", DEFAULT_PAGE), args.get("after"))


async def _node(snapshot: _Snapshot, entity_type: str, entity_id: str) -> _EntityNode | None:
    if entity_type == "folder":
        row = (await snapshot.folders()).get(entity_id)
        return None if row is None else await snapshot.folder_node(row)
    for task in await snapshot.tasks():
        if task["id"] == entity_id:
            return await snapshot.task_node(task)
    return None


def _data_string(data: Mapping[str, Any] | None) -> str | None:
    # AYON serialises entity data compactly with sorted keys; empty data reads as null.
    return json.dumps(data, separators=(",", ":"), sort_keys=True) if data else None


# --- pagination ---------------------------------------------------------------------------------


def _encode_cursor(values: list[Any]) -> str:
    return base64.b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.b64decode(cursor, validate=True))
    except ValueError:
        raise GraphQLError("Invalid cursor", extensions={"status": 400}) from None
    if not isinstance(values, list):
        raise GraphQLError("Invalid cursor", extensions={"status": 400})
    return values


def _page(
    items: list[Any], sort_key: Callable[[Any], list[Any]], args: Mapping[str, Any]
) -> dict[str, Any]:
    """A connection over ``items`` (already in default order) as AYON pages it."""
    first, last, after = args.get("first"), args.get("last"), args.get("after")
    if args.get("sortBy") == "name":
        items = sorted(items, key=sort_key)
    if after is not None:
        bound = _decode_cursor(after)
        items = [item for item in items if sort_key(item) > bound]
    if last is not None and first is None:
        page = items[-last:][::-1] if last else []
        edges = [{"cursor": _encode_cursor(sort_key(item)), "node": item} for item in page]
        return _connection(edges, has_next=False, has_previous=True)
    if first == 0:
        page = items[:FIRST_ZERO_LIMIT]
        edges = [{"cursor": _encode_cursor(sort_key(item)), "node": item} for item in page]
        return _connection(edges, has_next=False, has_previous=False, cursors=False)
    limit = DEFAULT_PAGE if first is None else first
    page = items[:limit]
    edges = [{"cursor": _encode_cursor(sort_key(item)), "node": item} for item in page]
    return _connection(edges, has_next=len(page) == limit, has_previous=False)


def _connection(
    edges: list[dict[str, Any]], *, has_next: bool, has_previous: bool, cursors: bool = True
) -> dict[str, Any]:
    return {
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": edges[0]["cursor"] if edges and cursors else None,
            "endCursor": edges[-1]["cursor"] if edges and cursors else None,
        },
        "edges": edges,
    }


def _links_page(edges: list[dict[str, Any]], first: int, after: str | None) -> dict[str, Any]:
    """Links page by decimal ``creation_order``: exact ``hasNextPage``, no start cursor, and a
    cursor that is not a number is ignored."""
    if after is not None and after.isdigit():
        edges = [edge for edge in edges if edge["_order"] > int(after)]
    page = edges[:first]
    return {
        "pageInfo": {
            "hasNextPage": len(edges) > first,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": page[-1]["cursor"] if page else None,
        },
        "edges": page,
    }


# --- filters ------------------------------------------------------------------------------------


def _ids(values: Iterable[str]) -> set[str]:
    found = set()
    for value in values:
        plain = value.replace("-", "")
        if not _HEX.fullmatch(plain):
            raise GraphQLError(f"Invalid entity ID {plain}")
        found.add(plain)
    return found


def _parse_filter(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise GraphQLError(str(error)) from None
    if not isinstance(parsed, dict):
        raise GraphQLError("Invalid filter")
    return parsed


def _matches(entity: str, row: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    results = []
    for condition in query.get("conditions", []):
        if "conditions" in condition:
            results.append(_matches(entity, row, condition))
            continue
        results.append(_condition(entity, row, condition))
    if not results:
        return True
    return any(results) if query.get("operator") == "or" else all(results)


def _condition(entity: str, row: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    key = str(condition.get("key", ""))
    parts = re.split(r"[./]", key)
    column = re.sub(r"(?<!^)(?=[A-Z])", "_", parts[0]).lower()
    value = condition.get("value")
    if column in ("data", "attrib") and len(parts) > 1:
        current: Any = row.get(column) or {}
        for part in parts[1:]:
            current = current.get(part) if isinstance(current, dict) else None
    elif column in _FILTER_COLUMNS[entity]:
        current = row.get(column)
        if isinstance(current, bool) and isinstance(value, bool):
            raise GraphQLError("COALESCE types boolean and jsonb cannot be matched")
    else:
        raise GraphQLError(f"Invalid key: {key}")
    text = None if current is None else _as_text(current)
    operator = condition.get("operator", "eq")
    if operator in ("in", "notin"):
        wanted = {_as_text(item) for item in value or []}
        return (text in wanted) == (operator == "in")
    if operator == "ne":
        return text != _as_text(value)
    return text == _as_text(value)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


# --- resolvers ----------------------------------------------------------------------------------


async def _project(_: None, info: GraphQLResolveInfo, **args: Any) -> _ProjectNode:
    context: _Context = info.context
    name = args.get("name") or args.get("code")
    row = await context.pool.fetchrow("SELECT * FROM public.projects WHERE name = $1", name)
    if row is None:
        raise GraphQLError("Project not found", extensions={"status": 404})
    return _ProjectNode(context, row)


class _ProjectNode(dict[str, Any]):
    """A project: its row's fields at once; anatomy lists, entities and links when asked."""

    def __init__(self, context: _Context, row: asyncpg.Record) -> None:
        attrib = ordered_attrib(row["attrib"])
        super().__init__(
            name=row["name"],
            projectName=row["name"],
            code=row["code"],
            label=row["label"],
            active=row["active"],
            library=row["library"],
            data=_data_string(row["data"]),
            config=_data_string(row["config"]) or "{}",
            attrib=attrib,
            allAttrib=_data_string(attrib) or "{}",
            createdAt=iso(row["created_at"]),
            updatedAt=iso(row["updated_at"]),
        )
        self._context, self._name = context, row["name"]
        self._anatomy: dict[str, Any] | None = None
        for key in ("statuses", "taskTypes", "folderTypes", "tags"):
            self[key] = self._anatomy_list(key)
        self["linkTypes"] = self._link_types
        self["usedTags"] = self._used_tags
        self["folders"] = self._folders
        self["folder"] = self._folder
        self["tasks"] = self._tasks
        self["links"] = self._links

    async def _read_anatomy(self) -> dict[str, Any]:
        if self._anatomy is None:
            self._anatomy = await read_project(self._context.pool, self._name)
        return self._anatomy

    def _anatomy_list(self, key: str) -> Callable[..., Awaitable[list[dict[str, Any]]]]:
        async def resolve(_info: GraphQLResolveInfo, **_: Any) -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await self._read_anatomy())[key]
            return items

        return resolve

    async def _link_types(self, _info: GraphQLResolveInfo, **_: Any) -> list[dict[str, Any]]:
        """Full name, short name, types, and the data's color and style, sorted by name."""
        items = (await self._read_anatomy())["linkTypes"]
        merged = ({**item, **item.get("data", {}), "name": item["name"]} for item in items)
        return sorted(merged, key=lambda item: item["name"])

    async def _snapshot(self) -> _Snapshot:
        return await self._context.snapshot(self._name)

    async def _used_tags(self, _info: GraphQLResolveInfo) -> list[str]:
        snapshot = await self._snapshot()
        rows = [*(await snapshot.folders()).values(), *(await snapshot.tasks())]
        return list(dict.fromkeys(tag for row in rows for tag in row["tags"]))

    async def _folders(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        snapshot = await self._snapshot()
        wanted = _ids(args["ids"]) if args.get("ids") is not None else None
        parents = args.get("parentIds")
        if parents is None and args.get("parentId") is not None:
            parents = [args["parentId"]]
        parent_ids = None
        if parents is not None:
            parent_ids = {None if p == "root" else p.replace("-", "") for p in parents}
        below = args.get("includeFolderChildren")
        if wanted is not None or (parent_ids is not None and not below):
            rows = await snapshot.folders_picked(wanted, None if below else parent_ids)
        else:
            rows = list((await snapshot.folders()).values())
        if parent_ids is not None:
            if below:
                everything = await snapshot.folders()
                under = set(snapshot.descendants(p for p in parent_ids if p is not None))
                if None in parent_ids:
                    under |= set(everything)
                rows = [row for row in rows if row["id"] in under]
            else:
                rows = [row for row in rows if row["parent_id"] in parent_ids]
        if args.get("folderTypes") is not None:
            rows = [row for row in rows if row["folder_type"] in args["folderTypes"]]
        if args.get("names") is not None:
            rows = [row for row in rows if row["name"] in args["names"]]
        if args.get("name") is not None:
            rows = [row for row in rows if row["name"] == args["name"]]
        by_id = {row["id"]: row for row in rows}
        nodes = [await snapshot.folder_node(row) for row in rows]
        if args.get("paths") is not None:
            paths = {"/" + path.lstrip("/") for path in args["paths"]}
            nodes = [node for node in nodes if node["path"] in paths]
        if args.get("pathEx") is not None:
            pattern = re.compile(args["pathEx"])
            nodes = [node for node in nodes if pattern.search(node["path"])]
        if args.get("filter") is not None:
            query = _parse_filter(args["filter"])
            nodes = [node for node in nodes if _matches("folder", by_id[node["id"]], query)]
        return _page(nodes, _folder_sort_key(by_id, args), args)

    async def _folder(self, _info: GraphQLResolveInfo, id: str) -> _EntityNode:
        snapshot = await self._snapshot()
        row = (await snapshot.folders()).get(id.replace("-", ""))
        if row is None:
            raise GraphQLError("Folder not found", extensions={"status": 404})
        return await snapshot.folder_node(row)

    async def _tasks(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        return await _tasks_connection(await self._snapshot(), args)

    async def _links(self, _info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
        snapshot = await self._snapshot()
        ids = _ids(args["ids"]) if args.get("ids") is not None else None
        entities = _ids(args["entityIds"]) if args.get("entityIds") is not None else None
        inputs = _ids(args["inputIds"]) if args.get("inputIds") is not None else None
        outputs = _ids(args["outputIds"]) if args.get("outputIds") is not None else None
        types = args.get("linkTypes")
        edges = []
        narrowed = await snapshot.narrowed(
            "links", {"id": ids, "input_id": inputs, "output_id": outputs}, either=entities
        )
        for link in await snapshot.links() if narrowed is None else narrowed:
            short, input_type, output_type = link["link_type"].split("|")
            if (
                (types is not None and short not in types)
                or (ids is not None and link["id"] not in ids)
                or (inputs is not None and link["input_id"] not in inputs)
                or (outputs is not None and link["output_id"] not in outputs)
                or (
                    entities is not None
                    and link["input_id"] not in entities
                    and link["output_id"] not in entities
                )
                or (args.get("inputTypes") is not None and input_type not in args["inputTypes"])
                or (args.get("outputTypes") is not None and output_type not in args["outputTypes"])
            ):
                continue
            edges.append(
                {
                    "id": link["id"],
                    "projectName": snapshot.project,
                    "name": link["name"],
                    "linkType": short,
                    "inputType": input_type,
                    "outputType": output_type,
                    "inputId": link["input_id"],
                    "outputId": link["output_id"],
                    "author": link["author"],
                    "createdAt": iso(link["created_at"]),
                    "cursor": str(link["creation_order"]),
                    "data": link["data"],
                    "inputNode": lambda _info, i=link["input_id"], t=input_type: _node(
                        snapshot, t, i
                    ),
                    "outputNode": lambda _info, i=link["output_id"], t=output_type: _node(
                        snapshot, t, i
                    ),
                    "_order": link["creation_order"],
                }
            )
        return _links_page(edges, args.get("first", DEFAULT_PAGE), args.get("after"))


def _folder_sort_key(
    folders: Mapping[str, dict[str, Any]], args: Mapping[str, Any]
) -> Callable[[_EntityNode], list[Any]]:
    if args.get("sortBy") == "name":
        return lambda node: [node["name"], node["path"].lstrip("/")]
    return lambda node: [folders[node["id"]]["creation_order"]]


async def _tasks_connection(snapshot: _Snapshot, args: Mapping[str, Any]) -> dict[str, Any]:
    ids = _ids(args["ids"]) if args.get("ids") is not None else None
    folder_ids = _ids(args["folderIds"]) if args.get("folderIds") is not None else None
    narrowed = await snapshot.narrowed("tasks", {"id": ids, "folder_id": folder_ids})
    rows = await snapshot.tasks() if narrowed is None else narrowed
    if args.get("names") is not None:
        rows = [row for row in rows if row["name"] in args["names"]]
    if args.get("taskTypes") is not None:
        rows = [row for row in rows if row["task_type"] in args["taskTypes"]]
    if args.get("assignees") is not None:
        rows = [row for row in rows if set(args["assignees"]) <= set(row["assignees"])]
    if args.get("filter") is not None:
        query = _parse_filter(args["filter"])
        rows = [row for row in rows if _matches("task", row, query)]
    orders = {row["id"]: row["creation_order"] for row in rows}
    if len(rows) > 100:  # many tasks: likely of most folders
        await snapshot.folders()
    await snapshot.know({row["folder_id"] for row in rows})
    nodes = [await snapshot.task_node(row) for row in rows]
    if args.get("sortBy") == "name":
        return _page(nodes, lambda node: [node["name"], node["path"].lstrip("/")], args)
    return _page(nodes, lambda node: [orders[node["id"]]], args)


async def _projects(_: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    context: _Context = info.context
    nodes = [
        _ProjectNode(context, row)
        for row in await context.pool.fetch("SELECT * FROM public.projects ORDER BY name")
        if args.get("name") in (None, row["name"])
    ]
    return _page(nodes, lambda node: [node["name"]], args)


async def _users(_: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    context: _Context = info.context
    rows = await context.pool.fetch("SELECT * FROM public.users ORDER BY name")
    nodes = []
    for row in rows:
        data, attrib = row["data"] or {}, row["attrib"] or {}
        groups = data.get("accessGroups") or {}
        if args.get("name") is not None and row["name"] != args["name"]:
            continue
        if args.get("names") is not None and row["name"] not in args["names"]:
            continue
        if args.get("emails") is not None and attrib.get("email") not in args["emails"]:
            continue
        privileged = bool(data.get("isAdmin") or data.get("isManager"))
        if args.get("projectName") is not None and not (
            privileged or args["projectName"] in groups
        ):
            continue
        nodes.append(
            {
                "name": row["name"],
                "active": row["active"],
                "isService": bool(data.get("isService")),
                "isAdmin": bool(data.get("isAdmin")),
                "isManager": bool(data.get("isManager")),
                "isGuest": bool(data.get("isGuest")),
                "isDeveloper": bool(data.get("isDeveloper")),
                "attrib": attrib,
                "allAttrib": json.dumps(attrib),
                "accessGroups": json.dumps(groups),
                "defaultAccessGroups": data.get("defaultAccessGroups") or [],
                "createdAt": iso(row["created_at"]),
                "updatedAt": iso(row["updated_at"]),
            }
        )
    return _page(nodes, lambda node: [node["name"]], args)


async def _events(_: None, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
    """``events``: log topics (``log.*``) only with ``includeLogs``; oldest first, ``last``
    newest first."""
    context: _Context = info.context
    nodes = []
    for row in await context.pool.fetch("SELECT * FROM public.events ORDER BY creation_order"):
        if (
            (args.get("topics") is not None and row["topic"] not in args["topics"])
            or (args.get("projects") is not None and row["project_name"] not in args["projects"])
            or (args.get("users") is not None and row["user_name"] not in args["users"])
            or (args.get("statuses") is not None and row["status"] not in args["statuses"])
            or (row["topic"].startswith("log.") and not args.get("includeLogs"))
        ):
            continue
        depends_on = row["depends_on"]
        nodes.append(
            {
                "id": row["id"].hex,
                "hash": row["hash"],
                "topic": row["topic"],
                "project": row["project_name"],
                "user": row["user_name"],
                "sender": row["sender"],
                "dependsOn": depends_on.hex if depends_on else None,
                "status": row["status"],
                "retries": row["retries"],
                "description": row["description"],
                "summary": _data_string(row["summary"]) or "{}",
                "payload": _data_string(row["payload"]),
                "createdAt": iso(row["created_at"]),
                "updatedAt": iso(row["updated_at"]),
                "_order": row["creation_order"],
            }
        )
    return _page(nodes, lambda node: [node["_order"]], args)


def _resolve_base_node(value: Mapping[str, Any], *_: Any) -> str:
    return str(value["__typename"])


def _wire_resolvers() -> None:
    query = SCHEMA.query_type
    assert query is not None
    query.fields["project"].resolve = _project
    query.fields["projects"].resolve = _projects
    query.fields["users"].resolve = _users
    query.fields["events"].resolve = _events
    base_node = SCHEMA.get_type("BaseNode")
    base_node.resolve_type = _resolve_base_node  # type: ignore[union-attr]


_wire_resolvers()
