"""Read AYON's current state straight from its PostgreSQL database: one query per call."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from pydantic import TypeAdapter

from kitsync.ayon import _sql
from kitsync.ayon._identifiers import project_schema, safe_project_name
from kitsync.ayon.errors import (
    AmbiguousPairing,
    AyonAuthError,
    AyonError,
    AyonNotFound,
    AyonUnavailable,
)
from kitsync.core.ids import ayon_id
from kitsync.gc_pause import collector_paused
from kitsync.heap import trim_after_parsing
from kitsync.schemas.ayon import (
    BREAKDOWN,
    AnatomyItem,
    AyonFolder,
    AyonLink,
    AyonProjectAnatomy,
    AyonTask,
    LinkTypeItem,
)

_Entity = TypeVar("_Entity", AyonFolder, AyonTask)
_Row = TypeVar("_Row", AyonFolder, AyonTask, AyonLink)
_Key = TypeVar("_Key", str, str | None)
_FOLDERS = TypeAdapter(list[AyonFolder])
_TASKS = TypeAdapter(list[AyonTask])
_LINKS = TypeAdapter(list[AyonLink])

# Lost or refused connections, server shutdown, too many clients, timeouts: worth a retry.
# asyncpg reports a session dropped while idle in the pool as a client error on its next use
# ("connection is closed", or "cannot switch to state 12; another operation (2) is in
# progress" when the server's FATAL arrived before its EOF); the pool then replaces it.
_TRANSIENT = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
# A project schema (or one of its tables) that does not exist.
_MISSING = (asyncpg.exceptions.UndefinedTableError, asyncpg.exceptions.InvalidSchemaNameError)
_DATABASE_ERRORS = (*_MISSING, *_TRANSIENT)
# Names kitsync's sessions in pg_stat_activity, so they can be counted against the budget.
APPLICATION_NAME = "kitsync"


async def connect(
    dsn: str, *, min_size: int = 1, max_size: int = 10, command_timeout: float = 10.0
) -> asyncpg.Pool:
    """A pool on AYON's database whose sessions are read-only (kitsync never writes there)."""
    try:
        return await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=command_timeout,
            command_timeout=command_timeout,
            server_settings={
                "application_name": APPLICATION_NAME,
                "default_transaction_read_only": "on",
            },
        )
    # The DSN may hold a password: name the error type only.
    except _TRANSIENT as error:
        raise AyonUnavailable(
            f"cannot connect to AYON's database: {type(error).__name__}"
        ) from None
    except (asyncpg.PostgresError, ValueError) as error:  # a wrong user, password, database
        raise AyonAuthError(
            f"AYON's database refused the connection: {type(error).__name__} "
            "(check AYON_DB_DSN's user, password and database name)"
        ) from None


@dataclass(frozen=True)
class ProjectSummary:
    """One AYON project as pairing sees it: ``kitsu_project_id`` is its ``data.kitsuProjectId``."""

    name: str
    code: str
    active: bool
    label: str | None = None
    kitsu_project_id: str | None = None
    attrib: Mapping[str, Any] = field(default_factory=dict)


class AyonReader:
    """Batched reads of AYON entities. Every method validates the project name before any SQL.
    A whole project's folders, tasks or links are read ``page_size`` rows a query."""

    def __init__(self, pool: asyncpg.Pool, *, page_size: int = _sql.PAGE_ROWS) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._pool = pool
        self._page = page_size

    # ------------------------------------------------------------------ projects and users

    async def paired_projects(self) -> dict[str, str]:
        """``{kitsu project id: AYON project name}`` over the active paired projects."""
        rows = await self._fetch("paired_projects", _sql.PAIRED_PROJECTS)
        return _one_project_each(rows)

    async def paired_project(self, kitsu_project_id: str) -> str | None:
        """The active AYON project paired with a Kitsu project (``data.kitsuProjectId``), if any."""
        rows = await self._fetch("paired_project", _sql.PAIRED_PROJECT, kitsu_project_id)
        return _one_project_each(rows).get(kitsu_project_id)

    async def projects(self) -> list[ProjectSummary]:
        """Every AYON project, active or not, by name."""
        return [_summary(row) for row in await self._fetch("projects", _sql.PROJECTS)]

    async def project_summary(self, project: str) -> ProjectSummary:
        """One project's summary; :class:`AyonNotFound` when there is no such project."""
        rows = await self._fetch(
            "project_summary", _sql.PROJECT, safe_project_name(project), project=project
        )
        if not rows:
            raise AyonNotFound(f"AyonReader.project_summary ({project}): no such AYON project")
        return _summary(rows[0])

    async def kitsync_connections(self) -> int:
        """Sessions other kitsync processes hold on AYON's database now."""
        rows = await self._fetch("kitsync_connections", _sql.KITSYNC_CONNECTIONS, APPLICATION_NAME)
        return int(rows[0]["sessions"])

    async def users_by_email(self, emails: Iterable[str]) -> dict[str, str]:
        """``{lower-cased email: AYON user name}``; an active user wins over an inactive one."""
        wanted = sorted({email.lower() for email in emails})
        if not wanted:
            return {}
        rows = await self._fetch("users_by_email", _sql.USERS_BY_EMAIL, wanted)
        found: dict[str, str] = {}
        for row in rows:
            found.setdefault(row["email"], row["name"])
        return found

    async def user_emails(self, names: Iterable[str]) -> dict[str, str]:
        """``{AYON user name: lower-cased email}`` of the users that have an email."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        rows = await self._fetch("user_emails", _sql.USER_EMAILS, wanted)
        return {row["name"]: row["email"] for row in rows}

    async def anatomy(self, project: str) -> AyonProjectAnatomy:
        schema = project_schema(project)
        rows = await self._fetch("anatomy", _sql.anatomy(schema), project=project)
        lists: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            lists[row["kind"]].append(json.loads(row["item"]))
        return AyonProjectAnatomy(
            folder_types=[AnatomyItem.model_validate(i) for i in lists["folder_types"]],
            task_types=[AnatomyItem.model_validate(i) for i in lists["task_types"]],
            statuses=[AnatomyItem.model_validate(i) for i in lists["statuses"]],
            link_types=[LinkTypeItem.model_validate(i) for i in lists["link_types"]],
        )

    # ------------------------------------------------------------------ folders and tasks

    async def folders_by_kitsu_ids(
        self, project: str, kitsu_ids: Iterable[str]
    ) -> dict[str, AyonFolder]:
        """The folder of each Kitsu id: the one with kitsync's id (``ayon_id``) or the one whose
        ``data.kitsuId`` names it (ayon-kitsu's random ids). Inactive folders are included; when
        both exist, an active one wins, then kitsync's id."""
        sql = _sql.folders(project_schema(project), _sql.FOLDERS_BY_KITSU_IDS)
        return await self._by_kitsu_ids("folders_by_kitsu_ids", sql, _FOLDERS, project, kitsu_ids)

    async def tasks_by_kitsu_ids(
        self, project: str, kitsu_ids: Iterable[str]
    ) -> dict[str, AyonTask]:
        """As :meth:`folders_by_kitsu_ids`, for tasks."""
        sql = _sql.tasks(project_schema(project), _sql.TASKS_BY_KITSU_IDS)
        return await self._by_kitsu_ids("tasks_by_kitsu_ids", sql, _TASKS, project, kitsu_ids)

    async def _by_kitsu_ids(
        self,
        method: str,
        sql: str,
        adapter: TypeAdapter[list[_Entity]],
        project: str,
        kitsu_ids: Iterable[str],
    ) -> dict[str, _Entity]:
        wanted = sorted(set(kitsu_ids))
        if not wanted:
            return {}
        by_id = {ayon_id(kitsu_id): kitsu_id for kitsu_id in wanted}
        found = await self._entities(method, adapter, sql, list(by_id), wanted, project=project)
        return _by_kitsu_id(found, by_id, set(wanted))

    async def project_folders(self, project: str) -> list[AyonFolder]:
        """Every folder of the project, active or not, each with its path (the full
        reconcile's read; pair with :func:`index_by_kitsu_id`)."""
        sql = _sql.folders(project_schema(project), _sql.EVERY_FOLDER, page=1)
        return await self._pages("project_folders", _FOLDERS, sql, project=project)

    async def project_tasks(self, project: str) -> list[AyonTask]:
        """Every task of the project, active or not."""
        sql = _sql.tasks(project_schema(project), _sql.EVERY_TASK, page=1)
        return await self._pages("project_tasks", _TASKS, sql, project=project)

    async def folders_by_ids(self, project: str, ids: Iterable[str]) -> dict[str, AyonFolder]:
        schema = project_schema(project)
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        sql = _sql.folders(schema, _sql.FOLDERS_BY_IDS)
        found = await self._entities("folders_by_ids", _FOLDERS, sql, wanted, project=project)
        return {folder.id: folder for folder in found}

    async def tasks_by_ids(self, project: str, ids: Iterable[str]) -> dict[str, AyonTask]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        sql = _sql.tasks(project_schema(project), _sql.TASKS_BY_IDS)
        found = await self._entities("tasks_by_ids", _TASKS, sql, wanted, project=project)
        return {task.id: task for task in found}

    async def children(
        self, project: str, parent_ids: Iterable[str | None]
    ) -> dict[str | None, list[AyonFolder]]:
        """The folders under each parent (``None``: the root folders), active or not: the
        siblings a name must not collide with. Every requested parent is a key."""
        schema = project_schema(project)
        parents = set(parent_ids)
        if not parents:
            return {}
        ids = sorted(p for p in parents if p is not None)
        sql = _sql.folders(schema, _sql.FOLDERS_BY_PARENTS)
        rows = await self._entities(
            "children", _FOLDERS, sql, ids, None in parents, project=project
        )
        return grouped(rows, parents, lambda folder: folder.parent_id)

    async def tasks_of_folders(
        self, project: str, folder_ids: Iterable[str]
    ) -> dict[str, list[AyonTask]]:
        """The tasks of each folder, active or not (task names are unique per folder). Every
        requested folder is a key."""
        schema = project_schema(project)
        wanted = sorted(set(folder_ids))
        if not wanted:
            return {}
        sql = _sql.tasks(schema, _sql.TASKS_BY_FOLDERS)
        rows = await self._entities("tasks_of_folders", _TASKS, sql, wanted, project=project)
        return grouped(rows, wanted, lambda task: task.folder_id)

    async def folders_with_products(self, project: str, folder_ids: Iterable[str]) -> set[str]:
        """The given folders that have products in their subtree: never delete those."""
        schema = project_schema(project)
        wanted = sorted(set(folder_ids))
        if not wanted:
            return set()
        sql = _sql.folders_with_products(schema)
        rows = await self._fetch("folders_with_products", sql, wanted, project=project)
        return {row["id"].hex for row in rows}

    async def subtree_ids(self, project: str, folder_ids: Iterable[str]) -> set[str]:
        """The given folders, their descendants and the tasks of all of them: what deleting
        the folders removes."""
        schema = project_schema(project)
        wanted = sorted(set(folder_ids))
        if not wanted:
            return set()
        rows = await self._fetch("subtree_ids", _sql.subtree_ids(schema), wanted, project=project)
        return {row["id"].hex for row in rows}

    # ------------------------------------------------------------------ links

    async def links_of_outputs(
        self, project: str, output_ids: Iterable[str], link_type: str = BREAKDOWN
    ) -> dict[str, list[AyonLink]]:
        """The links of ``link_type`` (full name) into each output; every requested id is a key."""
        schema = project_schema(project)
        wanted = sorted(set(output_ids))
        if not wanted:
            return {}
        sql = _sql.links(schema, _sql.LINKS_OF_OUTPUTS)
        rows = await self._entities(
            "links_of_outputs", _LINKS, sql, wanted, link_type, project=project
        )
        return grouped(rows, wanted, lambda link: link.output_id)

    async def links_into(
        self,
        project: str,
        output_ids: Iterable[str],
        link_type: str = BREAKDOWN,
        *,
        or_ids: Iterable[str] = (),
    ) -> list[AyonLink]:
        """The links of ``link_type`` into the outputs, plus any link whose id is one of
        ``or_ids`` wherever it points: all that can stand in the way of creating those ids."""
        schema = project_schema(project)
        outputs, ids = sorted(set(output_ids)), sorted(set(or_ids))
        if not outputs and not ids:
            return []
        sql = _sql.links(schema, _sql.LINKS_INTO_OR_IDS)
        return await self._entities(
            "links_into", _LINKS, sql, outputs, link_type, ids, project=project
        )

    async def links_of_type(self, project: str, link_type: str = BREAKDOWN) -> list[AyonLink]:
        """Every link of ``link_type`` (full name) in the project."""
        schema = project_schema(project)
        sql = _sql.links(schema, _sql.LINKS_OF_TYPE, page=2)
        return await self._pages("links_of_type", _LINKS, sql, link_type, project=project)

    async def links_touching(self, project: str, folder_ids: Iterable[str]) -> list[AyonLink]:
        """Every link, of any type, with one of the given entities as input or output."""
        schema = project_schema(project)
        wanted = sorted(set(folder_ids))
        if not wanted:
            return []
        sql = _sql.links(schema, _sql.LINKS_TOUCHING)
        return await self._entities("links_touching", _LINKS, sql, wanted, project=project)

    # ------------------------------------------------------------------ plumbing

    async def _entities(
        self,
        method: str,
        adapter: TypeAdapter[list[_Row]],
        sql: str,
        *args: object,
        project: str,
    ) -> list[_Row]:
        """The entities of a folders, tasks or links query (its one JSON array, see ``_sql``)."""
        found = await self._fetch(method, sql, *args, project=project)
        return _parsed(adapter, found[0])

    async def _pages(
        self,
        method: str,
        adapter: TypeAdapter[list[_Row]],
        sql: str,
        *args: object,
        project: str,
    ) -> list[_Row]:
        """Every entity of a paged query (its page's start and size after ``args``), all pages
        in one snapshot, as one query would see them (a repeatable-read transaction)."""
        rows: list[_Row] = []
        after = 0  # creation orders start at 1
        try:
            async with (
                self._pool.acquire() as connection,
                connection.transaction(isolation="repeatable_read", readonly=True),
            ):
                while True:
                    found = await connection.fetchrow(sql, *args, after, self._page)
                    page = _parsed(adapter, found)
                    rows += page
                    if len(page) < self._page:
                        return rows
                    after = found[_sql.LAST]
        except _DATABASE_ERRORS as error:
            raise _gateway_error(method, project, error) from None

    async def _fetch(
        self, method: str, sql: str, *args: object, project: str | None = None
    ) -> list[Any]:
        try:
            return list(await self._pool.fetch(sql, *args))
        except _DATABASE_ERRORS as error:
            raise _gateway_error(method, project, error) from None


def _gateway_error(method: str, project: str | None, error: Exception) -> AyonError:
    where = f"AyonReader.{method}" + (f" ({project})" if project else "")
    if isinstance(error, _MISSING):
        return AyonNotFound(f"{where}: {error}")
    return AyonUnavailable(f"{where}: AYON's database is unreachable: {error}")


def _parsed(adapter: TypeAdapter[list[_Row]], found: Mapping[str, Any]) -> list[_Row]:
    body = found[_sql.ROWS]
    with collector_paused():
        rows = adapter.validate_json(body)
    trim_after_parsing(len(body))
    return rows


def _json(text: str | None) -> dict[str, Any]:
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


def _summary(row: Mapping[str, Any]) -> ProjectSummary:
    return ProjectSummary(
        name=row["name"],
        code=row["code"],
        active=row["active"],
        label=row["label"],
        kitsu_project_id=row["kitsu_id"],
        attrib=_json(row["attrib"]),
    )


def grouped(
    rows: Iterable[_Row], keys: Iterable[_Key], key: Callable[[_Row], _Key]
) -> dict[_Key, list[_Row]]:
    """``rows`` by ``key``, in their order; every one of ``keys`` is a key, maybe of nothing."""
    found: dict[_Key, list[_Row]] = {wanted: [] for wanted in keys}
    for row in rows:
        found[key(row)].append(row)
    return found


def index_by_kitsu_id(entities: Iterable[_Entity], kitsu_ids: Iterable[str]) -> dict[str, _Entity]:
    """The entity standing for each Kitsu id among ``entities``, by the rules of
    :meth:`AyonReader.folders_by_kitsu_ids` (kitsync's derived id or ``data.kitsuId``; an active
    one wins, then kitsync's id). For matching entities read in bulk."""
    wanted = set(kitsu_ids)
    return _by_kitsu_id(entities, {ayon_id(kitsu_id): kitsu_id for kitsu_id in wanted}, wanted)


def _by_kitsu_id(
    entities: Iterable[_Entity], by_id: Mapping[str, str], wanted: Collection[str]
) -> dict[str, _Entity]:
    """Assign each entity to the Kitsu id(s) it stands for, preferring active, then kitsync's id."""
    best: dict[str, tuple[tuple[bool, bool], _Entity]] = {}
    for entity in entities:
        claims = {by_id[entity.id]: True} if entity.id in by_id else {}
        named = entity.kitsu_id
        if named is not None and named in wanted:
            claims.setdefault(named, False)
        for kitsu_id, ours in claims.items():
            rank = (entity.active, ours)
            if kitsu_id not in best or rank > best[kitsu_id][0]:
                best[kitsu_id] = (rank, entity)
    return {kitsu_id: entity for kitsu_id, (_, entity) in best.items()}


def _one_project_each(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    names: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        names[row["kitsu_id"]].append(row["name"])
    ambiguous = {kitsu_id: found for kitsu_id, found in names.items() if len(found) > 1}
    if ambiguous:
        described = "; ".join(f"{k} -> {', '.join(v)}" for k, v in sorted(ambiguous.items()))
        raise AmbiguousPairing(
            f"Kitsu projects paired with several active AYON projects: {described}"
        )
    return {kitsu_id: found[0] for kitsu_id, found in names.items()}
