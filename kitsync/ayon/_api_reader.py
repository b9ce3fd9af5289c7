"""Read AYON's current state through its API (GraphQL, and REST for a project's anatomy) with
the service user's key: what any AYON deployment offers, hosted ones included.

Same answers as the SQL reader (:class:`~kitsync.ayon.AyonReader`), in a bounded number of
requests: a whole project is its folders, tasks and links connections read page by page
(``page_size`` items a page, never the server's default), links through ``project.links`` in
one paginated query (never per folder). Per-key reads fetch kitsync's own entities by id, since
their ids derive from Kitsu ids; only when that finds nothing active do they look for an entity
adopted from ayon-kitsu by ``data.kitsuId``.

What GraphQL gives differently is undone here: ``data`` comes as a JSON string, attributes with
every inherited value (kitsync wants the entity's own ones: ``ownAttrib`` names them), link types
by their short name.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import TypeAdapter

from kitsync.ayon._graphql import GraphQL
from kitsync.ayon._identifiers import safe_project_name
from kitsync.ayon._reader import ProjectSummary, _by_kitsu_id, _one_project_each, grouped
from kitsync.core.ids import ayon_id
from kitsync.schemas.ayon import (
    BREAKDOWN,
    AyonFolder,
    AyonLink,
    AyonProject,
    AyonProjectAnatomy,
    AyonTask,
)

_Entity = TypeVar("_Entity", AyonFolder, AyonTask)
_FOLDERS = TypeAdapter(list[AyonFolder])
_TASKS = TypeAdapter(list[AyonTask])
_LINKS = TypeAdapter(list[AyonLink])

_PAGE_INFO = "pageInfo { hasNextPage endCursor }"
# ownAttrib before allAttrib: asked after attrib, AYON lists the inherited keys in it too.
_COMMON_FIELDS = "id name label status tags active data ownAttrib allAttrib"
_FOLDER_FIELDS = f"{_COMMON_FIELDS} folderType parentId path"
_TASK_FIELDS = f"{_COMMON_FIELDS} taskType folderId assignees"
_LINK_FIELDS = "id name linkType inputType outputType inputId outputId data cursor"
_IDS = "[String!]"


def _paged(name: str, connection: str, edge: str, **filters: str) -> str:
    """A query over ``project.<connection>`` taking ``$first``/``$after`` and the given filter
    arguments as variables (name: GraphQL type)."""
    declared = "".join(f", ${key}: {kind}" for key, kind in filters.items())
    passed = "".join(f", {key}: ${key}" for key in filters)
    return (
        f"query {name}($p: String!, $first: Int!, $after: String{declared}) {{"
        f" project(name: $p) {{ {connection}(first: $first, after: $after{passed}) {{"
        f" {_PAGE_INFO} edges {{ {edge} }} }} }} }}"
    )


_FOLDER = f"node {{ {_FOLDER_FIELDS} }}"
_TASK = f"node {{ {_TASK_FIELDS} }}"
_SUBTREE_NODE = "node { id parentId hasProducts }"
_FOLDERS_ALL = _paged("Folders", "folders", _FOLDER)
_FOLDERS_BY_IDS = _paged("FoldersByIds", "folders", _FOLDER, ids=_IDS)
_FOLDERS_FILTERED = _paged("FoldersByKitsuIds", "folders", _FOLDER, filter="String")
_FOLDERS_BY_PARENTS = _paged("FoldersByParents", "folders", _FOLDER, parentIds=_IDS)
_SUBTREE_ROOTS = _paged("SubtreeRoots", "folders", _SUBTREE_NODE, ids=_IDS)
_SUBTREES = _paged(
    "Subtrees", "folders", _SUBTREE_NODE, parentIds=_IDS, includeFolderChildren="Boolean!"
)
_TASKS_ALL = _paged("Tasks", "tasks", _TASK)
_TASKS_BY_IDS = _paged("TasksByIds", "tasks", _TASK, ids=_IDS)
_TASKS_FILTERED = _paged("TasksByKitsuIds", "tasks", _TASK, filter="String")
_TASKS_BY_FOLDERS = _paged("TasksByFolders", "tasks", _TASK, folderIds=_IDS)
_TASK_IDS_BY_FOLDERS = _paged("TaskIds", "tasks", "node { id }", folderIds=_IDS)
_TYPED = {"linkTypes": _IDS, "inputTypes": _IDS, "outputTypes": _IDS}
_LINKS_OF_TYPE = _paged("LinksOfType", "links", _LINK_FIELDS, **_TYPED)
_LINKS_INTO = _paged("LinksInto", "links", _LINK_FIELDS, outputIds=_IDS, **_TYPED)
_LINKS_BY_IDS = _paged("LinksByIds", "links", _LINK_FIELDS, ids=_IDS)
_LINKS_TOUCHING = _paged("LinksTouching", "links", _LINK_FIELDS, entityIds=_IDS)

_PROJECTS = (
    "query Projects($first: Int!, $after: String) { projects(first: $first, after: $after) {"
    f" {_PAGE_INFO} edges {{ node {{ name code label active data allAttrib }} }} }} }}"
)
_USERS = (
    "query Users($first: Int!, $after: String) { users(first: $first, after: $after) {"
    f" {_PAGE_INFO} edges {{ node {{ name active attrib {{ email }} }} }} }} }}"
)


class ApiReader:
    """Batched reads of AYON through its API: the same methods, and the same answers, as the
    SQL :class:`~kitsync.ayon.AyonReader`. Every method validates the project name first."""

    def __init__(self, graphql: GraphQL, *, page_size: int = 2000) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._graphql = graphql
        self._page = page_size

    # ------------------------------------------------------------------ projects and users

    async def paired_projects(self) -> dict[str, str]:
        """``{kitsu project id: AYON project name}`` over the active paired projects."""
        return await self._paired(None)

    async def paired_project(self, kitsu_project_id: str) -> str | None:
        """The active AYON project paired with a Kitsu project, if any (only this Kitsu
        project's pairing must be unambiguous, as with SQL)."""
        return (await self._paired(kitsu_project_id)).get(kitsu_project_id)

    async def _paired(self, kitsu_project_id: str | None) -> dict[str, str]:
        return _one_project_each(
            {"kitsu_id": summary.kitsu_project_id, "name": summary.name}
            for summary in await self.projects()
            if summary.active
            and summary.kitsu_project_id is not None
            and kitsu_project_id in (None, summary.kitsu_project_id)
        )

    async def projects(self) -> list[ProjectSummary]:
        """Every AYON project the service user can see, active or not, by name."""
        edges = await self._graphql.connection(
            "Projects", _PROJECTS, {}, ("projects",), page_size=self._page
        )
        summaries = [_summary(edge["node"]) for edge in edges]
        return sorted(summaries, key=lambda summary: summary.name)

    async def project_summary(self, project: str) -> ProjectSummary:
        """One project's summary; :class:`AyonNotFound` when there is no such project."""
        found = await self._project(project)
        return ProjectSummary(
            name=found.name,
            code=found.code,
            active=found.active,
            label=found.label,
            kitsu_project_id=_kitsu_project_id(found.data),
            attrib=found.attrib,
        )

    async def anatomy(self, project: str) -> AyonProjectAnatomy:
        found = await self._project(project)
        return AyonProjectAnatomy(
            folder_types=found.folder_types,
            task_types=found.task_types,
            statuses=found.statuses,
            # By name, as the SQL reader lists them (REST gives storage order).
            link_types=sorted(found.link_types, key=lambda item: item.name),
        )

    async def _project(self, project: str) -> AyonProject:
        answer = await self._graphql.get(f"/api/projects/{safe_project_name(project)}")
        return AyonProject.model_validate(answer)

    async def user_emails(self, names: Iterable[str]) -> dict[str, str]:
        """``{AYON user name: lower-cased email}`` of the users that have an email."""
        wanted = set(names)
        if not wanted:
            return {}
        return {
            user["name"]: email.lower()
            for user in await self._users()
            if user["name"] in wanted
            and isinstance(email := (user.get("attrib") or {}).get("email"), str)
        }

    async def _users(self) -> list[dict[str, Any]]:
        edges = await self._graphql.connection(
            "Users", _USERS, {}, ("users",), page_size=self._page
        )
        return [edge["node"] for edge in edges]

    async def users_by_email(self, emails: Iterable[str]) -> dict[str, str]:
        """``{lower-cased email: AYON user name}``; an active user wins over an inactive one.
        All users are listed (a studio has hundreds at most): AYON's ``emails`` filter is
        case-sensitive, e-mail addresses are not."""
        wanted = {email.lower() for email in emails}
        if not wanted:
            return {}
        users = sorted(await self._users(), key=lambda user: (not user["active"], user["name"]))
        found: dict[str, str] = {}
        for user in users:
            email = (user.get("attrib") or {}).get("email")
            if isinstance(email, str) and email.lower() in wanted:
                found.setdefault(email.lower(), user["name"])
        return found

    # ------------------------------------------------------------------ folders and tasks

    async def folders_by_kitsu_ids(
        self, project: str, kitsu_ids: Iterable[str]
    ) -> dict[str, AyonFolder]:
        """As the SQL reader's: kitsync's own folder (by its derived id), else the one whose
        ``data.kitsuId`` names it; an active one wins, then kitsync's."""
        return await self._by_kitsu_ids(
            project, kitsu_ids, _FOLDERS, _FOLDERS_BY_IDS, _FOLDERS_FILTERED, "folders"
        )

    async def tasks_by_kitsu_ids(
        self, project: str, kitsu_ids: Iterable[str]
    ) -> dict[str, AyonTask]:
        return await self._by_kitsu_ids(
            project, kitsu_ids, _TASKS, _TASKS_BY_IDS, _TASKS_FILTERED, "tasks"
        )

    async def _by_kitsu_ids(
        self,
        project: str,
        kitsu_ids: Iterable[str],
        adapter: TypeAdapter[list[_Entity]],
        by_ids: str,
        filtered: str,
        connection: str,
    ) -> dict[str, _Entity]:
        wanted = sorted(set(kitsu_ids))
        if not wanted:
            return {}
        by_id = {ayon_id(kitsu_id): kitsu_id for kitsu_id in wanted}
        found = await self._nodes(project, adapter, by_ids, connection, ids=list(by_id))
        # An active entity with kitsync's id cannot be outranked: only the other Kitsu ids
        # may stand for an entity adopted from ayon-kitsu.
        settled = {by_id[entity.id] for entity in found if entity.active}
        others = [kitsu_id for kitsu_id in wanted if kitsu_id not in settled]
        if others:
            condition = {"key": "data.kitsuId", "operator": "in", "value": others}
            found += await self._nodes(
                project,
                adapter,
                filtered,
                connection,
                filter=json.dumps({"conditions": [condition]}),
            )
        return _by_kitsu_id(found, by_id, set(wanted))

    async def project_folders(self, project: str) -> list[AyonFolder]:
        """Every folder of the project, active or not, each with its path."""
        return await self._nodes(project, _FOLDERS, _FOLDERS_ALL, "folders")

    async def project_tasks(self, project: str) -> list[AyonTask]:
        """Every task of the project, active or not."""
        return await self._nodes(project, _TASKS, _TASKS_ALL, "tasks")

    async def folders_by_ids(self, project: str, ids: Iterable[str]) -> dict[str, AyonFolder]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        found = await self._nodes(project, _FOLDERS, _FOLDERS_BY_IDS, "folders", ids=wanted)
        return {folder.id: folder for folder in found}

    async def tasks_by_ids(self, project: str, ids: Iterable[str]) -> dict[str, AyonTask]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        found = await self._nodes(project, _TASKS, _TASKS_BY_IDS, "tasks", ids=wanted)
        return {task.id: task for task in found}

    async def children(
        self, project: str, parent_ids: Iterable[str | None]
    ) -> dict[str | None, list[AyonFolder]]:
        """The folders under each parent (``None``: the root folders), active or not. Every
        requested parent is a key."""
        parents = set(parent_ids)
        if not parents:
            return {}
        wanted = sorted(p for p in parents if p is not None) + (["root"] if None in parents else [])
        rows = await self._nodes(
            project, _FOLDERS, _FOLDERS_BY_PARENTS, "folders", parentIds=wanted
        )
        return grouped(rows, parents, lambda folder: folder.parent_id)

    async def tasks_of_folders(
        self, project: str, folder_ids: Iterable[str]
    ) -> dict[str, list[AyonTask]]:
        wanted = sorted(set(folder_ids))
        if not wanted:
            return {}
        rows = await self._nodes(project, _TASKS, _TASKS_BY_FOLDERS, "tasks", folderIds=wanted)
        return grouped(rows, wanted, lambda task: task.folder_id)

    async def folders_with_products(self, project: str, folder_ids: Iterable[str]) -> set[str]:
        """The given folders that have products in their subtree: never delete those."""
        roots, below = await self._subtrees(project, folder_ids)
        parent = {node["id"]: node["parentId"] for node in roots + below}
        with_products: set[str] = set()
        for node in roots + below:
            if not node["hasProducts"]:
                continue
            folder_id: str | None = node["id"]
            while folder_id is not None and folder_id not in with_products:
                with_products.add(folder_id)
                folder_id = parent.get(folder_id)
        return with_products & {node["id"] for node in roots}

    async def subtree_ids(self, project: str, folder_ids: Iterable[str]) -> set[str]:
        """The given folders, their descendants and the tasks of all of them."""
        roots, below = await self._subtrees(project, folder_ids)
        folders = sorted({node["id"] for node in roots + below})
        if not folders:
            return set()
        edges = await self._graphql.connection(
            "TaskIds",
            _TASK_IDS_BY_FOLDERS,
            {"p": safe_project_name(project), "folderIds": folders},
            ("project", "tasks"),
            page_size=self._page,
        )
        return set(folders) | {edge["node"]["id"] for edge in edges}

    async def _subtrees(
        self, project: str, folder_ids: Iterable[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(the given folders that exist, all their descendants): ``{id, parentId,
        hasProducts}`` each."""
        wanted = sorted(set(folder_ids))
        if not wanted:
            return [], []
        variables = {"p": safe_project_name(project), "ids": wanted}
        roots, below = await asyncio.gather(
            self._graphql.connection(
                "SubtreeRoots",
                _SUBTREE_ROOTS,
                variables,
                ("project", "folders"),
                page_size=self._page,
            ),
            self._graphql.connection(
                "Subtrees",
                _SUBTREES,
                {"p": variables["p"], "parentIds": wanted, "includeFolderChildren": True},
                ("project", "folders"),
                page_size=self._page,
            ),
        )
        return [edge["node"] for edge in roots], [edge["node"] for edge in below]

    # ------------------------------------------------------------------ links

    async def links_into(
        self,
        project: str,
        output_ids: Iterable[str],
        link_type: str = BREAKDOWN,
        *,
        or_ids: Iterable[str] = (),
    ) -> list[AyonLink]:
        """The links of ``link_type`` into the outputs, plus any link whose id is one of
        ``or_ids`` wherever it points."""
        outputs, ids = sorted(set(output_ids)), sorted(set(or_ids))
        reads = []
        if outputs:
            reads.append(self._link_edges(project, _LINKS_INTO, link_type, outputIds=outputs))
        if ids:
            reads.append(self._link_edges(project, _LINKS_BY_IDS, None, ids=ids))
        # Both reads in one list, once each, in creation order (AYON's link cursor) as in SQL.
        edges = {edge["id"]: edge for found in await asyncio.gather(*reads) for edge in found}
        return [_link(edge) for edge in sorted(edges.values(), key=lambda e: int(e["cursor"]))]

    async def links_of_type(self, project: str, link_type: str = BREAKDOWN) -> list[AyonLink]:
        """Every link of ``link_type`` (full name) in the project."""
        return [_link(edge) for edge in await self._link_edges(project, _LINKS_OF_TYPE, link_type)]

    async def links_touching(self, project: str, folder_ids: Iterable[str]) -> list[AyonLink]:
        """Every link, of any type, with one of the given entities as input or output."""
        wanted = sorted(set(folder_ids))
        if not wanted:
            return []
        edges = await self._link_edges(project, _LINKS_TOUCHING, None, entityIds=wanted)
        return [_link(edge) for edge in edges]

    async def _link_edges(
        self, project: str, query: str, link_type: str | None, **filters: Any
    ) -> list[dict[str, Any]]:
        """Link edges in creation order; ``link_type`` (full name) is asked as AYON takes it:
        the short name plus the input and output types."""
        variables: dict[str, Any] = {"p": safe_project_name(project), **filters}
        if link_type is not None:
            short, input_type, output_type = link_type.split("|")
            variables |= {
                "linkTypes": [short],
                "inputTypes": [input_type],
                "outputTypes": [output_type],
            }
        edges = await self._graphql.connection(
            query.split("(", 1)[0].removeprefix("query "),
            query,
            variables,
            ("project", "links"),
            page_size=self._page,
        )
        return edges

    # ------------------------------------------------------------------ plumbing

    async def _nodes(
        self,
        project: str,
        adapter: TypeAdapter[list[_Entity]],
        query: str,
        connection: str,
        **filters: Any,
    ) -> list[_Entity]:
        edges = await self._graphql.connection(
            query.split("(", 1)[0].removeprefix("query "),
            query,
            {"p": safe_project_name(project), **filters},
            ("project", connection),
            page_size=self._page,
        )
        return adapter.validate_python([_entity(edge["node"]) for edge in edges])


def _link(edge: Mapping[str, Any]) -> AyonLink:
    return AyonLink(
        id=edge["id"],
        name=edge.get("name"),
        link_type=f"{edge['linkType']}|{edge['inputType']}|{edge['outputType']}",
        input_id=edge["inputId"],
        output_id=edge["outputId"],
        data=edge.get("data") or {},
    )


def _entity(node: Mapping[str, Any]) -> dict[str, Any]:
    """A folder or task node as the SQL reader gives it: own attributes only, data an object."""
    resolved = json.loads(node.get("allAttrib") or "{}")
    own = {key: resolved[key] for key in node.get("ownAttrib") or () if key in resolved}
    data = json.loads(node["data"]) if node.get("data") else {}
    fields = {k: v for k, v in node.items() if k not in ("allAttrib", "ownAttrib")}
    return {**fields, "attrib": own, "data": data if isinstance(data, dict) else {}}


def _kitsu_project_id(data: Mapping[str, Any]) -> str | None:
    value = data.get("kitsuProjectId")
    # SQL's data->>'kitsuProjectId' gives any JSON value as text.
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _summary(node: Mapping[str, Any]) -> ProjectSummary:
    data = json.loads(node["data"]) if node.get("data") else {}
    return ProjectSummary(
        name=node["name"],
        code=node["code"],
        active=node["active"],
        label=node.get("label"),
        kitsu_project_id=_kitsu_project_id(data if isinstance(data, dict) else {}),
        attrib=json.loads(node.get("allAttrib") or "{}"),
    )
