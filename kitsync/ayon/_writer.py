"""Write to AYON through its REST API, over one shared HTTP client."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx
from pydantic import TypeAdapter

from kitsync.ayon._http import ayon_client, parse, send
from kitsync.ayon._identifiers import safe_project_name
from kitsync.ayon.errors import AyonConflict, AyonError, AyonNotFound, OperationFailed
from kitsync.budget import Budget
from kitsync.concurrency import task_group
from kitsync.schemas.ayon import (
    AnatomyItem,
    AyonEvent,
    AyonEventRecord,
    AyonId,
    AyonProject,
    AyonUser,
    CreatedId,
    EnrolledJob,
    EnrollRequest,
    LinkCreate,
    LinksBulkRequest,
    LinksBulkResponse,
    LinkTypeItem,
    Operation,
    OperationResult,
    OperationsRequest,
    OperationsResponse,
)

_Item = TypeVar("_Item", AnatomyItem, LinkTypeItem)
_ID = TypeAdapter(AyonId)

SENDER = "kitsync"
SENDER_TYPE = "kitsu"


class AyonWriter:
    """AYON's REST writes. Use as ``async with AyonWriter(url, key) as ayon: ...``.

    Every request carries ``x-api-key``, ``X-Sender: kitsync`` and ``X-Sender-Type: kitsu`` (so an
    AYON -> Kitsu direction can ignore kitsync's own changes). With a ``budget``, every request
    waits for one of its slots (see ``kitsync.budget``).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        chunk_size: int = 200,
        max_connections: int = 20,
        budget: Budget | None = None,
    ) -> None:
        if chunk_size < 1 or max_connections < 1:
            raise ValueError("chunk_size and max_connections must be at least 1")
        self._base_url = base_url.rstrip("/")
        self._secret = api_key
        self._chunk_size = chunk_size
        self._client = ayon_client(
            base_url,
            {"x-api-key": api_key, "X-Sender": SENDER, "X-Sender-Type": SENDER_TYPE},
            timeout=timeout,
            transport=transport,
            budget=budget,
            max_connections=max_connections,
        )
        # Every request waits for a slot here rather than in httpx's pool, whose wait counts
        # against the timeout: one limit for the whole process, so a fan-out of thousands (the
        # records of a storm of events) queues instead of timing out.
        self._slots = asyncio.Semaphore(max_connections)
        # A PATCH of anatomy lists replaces them whole: read-modify-write one at a time.
        self._anatomy_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def __repr__(self) -> str:
        return f"AyonWriter({self._base_url!r})"

    @property
    def chunk_size(self) -> int:
        """Operations per atomic ``/operations`` call."""
        return self._chunk_size

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ entities

    async def operations(self, project: str, ops: Sequence[Operation]) -> list[OperationResult]:
        """Apply ``ops`` in order, in atomic chunks of ``chunk_size`` (parents before children is
        the caller's job). A failing operation raises :class:`OperationFailed`: its chunk is
        rolled back, earlier chunks stay applied."""
        path = f"/api/projects/{safe_project_name(project)}/operations"
        results: list[OperationResult] = []
        for start, chunk in _chunks(ops, self._chunk_size):
            body = OperationsRequest(operations=chunk, can_fail=False).to_wire()
            answer = parse(OperationsResponse, "POST", path, await self._call("POST", path, body))
            if not answer.success:
                raise _operation_failed(path, chunk, start, answer)
            results.extend(answer.operations)
        return results

    # ------------------------------------------------------------------ links

    async def create_links(self, project: str, links: Sequence[LinkCreate]) -> list[str]:
        """Create ``links`` through ``/links/bulk`` (each chunk all-or-nothing); their ids."""
        path = f"/api/projects/{safe_project_name(project)}/links/bulk"
        ids: list[str] = []
        # An empty bulk call still writes a links.created event in AYON, so none is made.
        for _, chunk in _chunks(links, self._chunk_size):
            body = LinksBulkRequest(links=chunk).to_wire()
            answer = parse(LinksBulkResponse, "POST", path, await self._call("POST", path, body))
            ids.extend(link.id for link in answer.created)
        return ids

    async def delete_link(self, project: str, link_id: str) -> bool:
        """Delete one link. A link that is already gone is not an error (deletes are retried and
        may race): the answer is then False."""
        path = f"/api/projects/{safe_project_name(project)}/links/{_ID.validate_python(link_id)}"
        try:
            await self._call("DELETE", path)
        except AyonNotFound:
            return False
        return True

    async def delete_links(self, project: str, link_ids: Iterable[str]) -> int:
        """Delete links concurrently (AYON has no bulk delete); how many were still there."""

        async with task_group() as group:
            tasks = [
                group.create_task(self.delete_link(project, i)) for i in dict.fromkeys(link_ids)
            ]
        return sum(task.result() for task in tasks)

    # ------------------------------------------------------------------ events

    async def emit_event(
        self,
        topic: str,
        *,
        project: str | None,
        hash: str | None,
        description: str = "",
        summary: Mapping[str, Any] | None = None,
        payload: Mapping[str, Any] | None = None,
        finished: bool = True,
    ) -> str | None:
        """Record an event; its id, or None when an event with this ``hash`` already exists."""
        event = AyonEvent(
            topic=topic,
            hash=hash,
            project=project,
            description=description,
            summary=dict(summary or {}),
            payload=dict(payload or {}),
            finished=finished,
        )
        try:
            response = await self._call("POST", "/api/events", event.to_wire())
        except AyonConflict:
            if hash is None:
                raise
            return None  # AYON's only 409 here: this hash is recorded already.
        return parse(CreatedId, "POST", "/api/events", response).id

    async def update_event(
        self,
        event_id: str,
        *,
        status: Literal["in_progress", "finished", "failed"],
        summary: Mapping[str, Any] | None = None,
        description: str | None = None,
        sender: str | None = None,
    ) -> None:
        """``PATCH /api/events/{id}``: move a job event on (``summary`` replaces the old one).

        An enrolled job is patched with the ``sender`` it enrolled as: AYON overwrites the
        event's sender with X-Sender, and enroll recognises a job as its own by that.
        """
        body: dict[str, Any] = {"status": status}
        if summary is not None:
            body["summary"] = dict(summary)
        if description is not None:
            body["description"] = description
        path = f"/api/events/{_ID.validate_python(event_id)}"
        await self._call("PATCH", path, body, sender=sender)

    async def enroll(self, request: EnrollRequest, *, sender: str) -> EnrolledJob | None:
        """``POST /api/enroll`` as ``sender``: the next job, or None when there is none.

        AYON hands the same sender its own unfinished job again (and its failed one, restarted),
        so a worker that died mid-job gets it back under the same sender name.
        """
        path = "/api/enroll"
        response = await self._call("POST", path, request.to_wire(), sender=sender)
        if response.status_code == 204:
            return None
        return parse(EnrolledJob, "POST", path, response)

    async def event(self, event_id: str) -> AyonEventRecord:
        """``GET /api/events/{id}``."""
        path = f"/api/events/{_ID.validate_python(event_id)}"
        return parse(AyonEventRecord, "GET", path, await self._call("GET", path))

    # ------------------------------------------------------------------ projects

    async def create_project(self, project: str, code: str, *, label: str | None = None) -> None:
        """``POST /api/projects``: deploy a project with AYON's default anatomy. A name or code
        already used (ignoring case) is an :class:`AyonConflict`."""
        body = {"name": safe_project_name(project), "code": code}
        if label:
            body["label"] = label
        await self._call("POST", "/api/projects", body)

    async def get_project(self, project: str) -> AyonProject:
        path = f"/api/projects/{safe_project_name(project)}"
        return parse(AyonProject, "GET", path, await self._call("GET", path))

    async def update_project(self, project: str, patch: Mapping[str, Any]) -> None:
        """``PATCH /api/projects/{p}``. ``attrib``/``data`` merge key by key; anatomy lists in it
        REPLACE the project's lists (use :meth:`add_anatomy_items` to add to them)."""
        path = f"/api/projects/{safe_project_name(project)}"
        await self._call("PATCH", path, dict(patch))

    async def add_anatomy_items(
        self,
        project: str,
        *,
        folder_types: Iterable[AnatomyItem] = (),
        task_types: Iterable[AnatomyItem] = (),
        statuses: Iterable[AnatomyItem] = (),
        link_types: Iterable[LinkTypeItem] = (),
        update_existing: bool = False,
    ) -> bool:
        """Add the items the project lacks; True if it sent a change. ``update_existing``: an
        item the project has gets the other fields of the wanted one too (a Kitsu colour),
        keeping its name and whatever the wanted one does not say.

        The project's lists are read fresh and each changed list is sent whole (current items,
        untouched, plus the additions): AYON deletes whatever a list leaves out, and a link
        type's links with it. Folder/task types and statuses match ignoring case (AYON keeps
        those names unique ignoring case), link types by full name. Only this writer's own
        calls are serialised; callers on several processes need a per-project lock.
        """
        async with self._anatomy_locks[safe_project_name(project)]:
            current = await self.get_project(project)
            patch: dict[str, list[dict[str, Any]]] = {}
            for key, have, wanted in (
                ("folderTypes", current.folder_types, folder_types),
                ("taskTypes", current.task_types, task_types),
                ("statuses", current.statuses, statuses),
            ):
                _add_missing(patch, key, have, wanted, str.casefold, update_existing)
            _add_missing(patch, "linkTypes", current.link_types, link_types, str)
            if not patch:
                return False
            await self.update_project(project, patch)
            return True

    async def create_user(
        self, name: str, *, attrib: Mapping[str, Any], data: Mapping[str, Any]
    ) -> bool:
        """Create a user without a password (``PUT /api/users/{name}``); False if it exists."""
        try:
            await self._call(
                "PUT", f"/api/users/{name}", {"attrib": dict(attrib), "data": dict(data)}
            )
        except AyonConflict:
            return False
        return True

    async def me(self) -> AyonUser:
        """The user the API key belongs to (``is_service`` tells a service user)."""
        return parse(AyonUser, "GET", "/api/users/me", await self._call("GET", "/api/users/me"))

    # ------------------------------------------------------------------ plumbing

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        sender: str | None = None,
    ) -> httpx.Response:
        headers = {"X-Sender": sender} if sender else None
        async with self._slots:
            return await send(self._client, method, path, self._secret, body=body, headers=headers)


def _chunks(items: Sequence[Any], size: int) -> Iterable[tuple[int, list[Any]]]:
    for start in range(0, len(items), size):
        yield start, list(items[start : start + size])


def _operation_failed(
    path: str, chunk: list[Operation], start: int, answer: OperationsResponse
) -> AyonError:
    failed = next(
        ((i, r) for i, r in enumerate(answer.operations) if not r.success and i < len(chunk)),
        None,
    )
    if failed is None:
        return AyonError(f"POST {path}: success false but no operation failed")
    position, result = failed
    operation = chunk[position]
    target = result.entity_id or operation.entity_id or (operation.data or {}).get("id")
    return OperationFailed(
        f"POST {path}: operation {start + position} ({operation.type} {operation.entity_type} "
        f"{target}) failed -> {result.status} {result.error_code}: {result.detail}; "
        f"its chunk of {len(chunk)} was rolled back, {start} earlier operations were applied",
        index=start + position,
        operation=operation,
        result=result,
        committed=start,
    )


def _add_missing(
    patch: dict[str, list[dict[str, Any]]],
    key: str,
    have: Sequence[_Item],
    wanted: Iterable[_Item],
    fold: Callable[[str], str],
    update_existing: bool = False,
) -> None:
    """Put ``key`` in ``patch`` as the full current list plus the wanted items it lacks (and,
    ``update_existing``, with the wanted fields of those it has), if that changes it."""
    # Items go back exactly as AYON gave them, but for an update: a PATCH replaces the list.
    items = [item.model_dump(mode="json", by_alias=True) for item in have]
    position = {fold(item["name"]): index for index, item in enumerate(items)}
    changed = False
    for item in wanted:
        fields = item.model_dump(mode="json", by_alias=True)
        index = position.get(fold(item.name))
        if index is None:
            position[fold(item.name)] = len(items)
            items.append(fields)
            changed = True
        elif update_existing:
            merged = items[index] | {k: v for k, v in fields.items() if k != "name"}
            changed |= merged != items[index]
            items[index] = merged
    if changed:
        patch[key] = items
