"""The latency recorder around the fake AYON (a ``WriteLog`` notes when each write's answer
starts: its transaction has committed) and the reference it is compared with: single bare
writes sent straight to the fake AYON.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import _common  # noqa: F401 - puts the repository root on sys.path
import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.fakes.ayon import SERVICE_KEY
from tests.integration.sync_bed import SyncBed


@dataclass(frozen=True)
class Write:
    """One write request the fake AYON answered."""

    received: float  # perf_counter when it came in
    answered: float  # when its answer started: the write is committed
    method: str
    path: str
    status: int
    body: bytes  # kept for /operations and /links/bulk only
    answer: bytes


class WriteLog:
    """ASGI wrapper of the fake AYON that records every non-GET request it answers."""

    KEEP = ("/operations", "/links/bulk")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.writes: list[Write] = []  # appended on the server's thread

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "GET":
            await self.app(scope, receive, send)
            return
        received = time.perf_counter()
        keep = str(scope["path"]).endswith(self.KEEP)
        body: list[bytes] = []
        answer: list[bytes] = []
        started: dict[str, Any] = {}

        async def receiving() -> Message:
            message = await receive()
            if keep and message["type"] == "http.request":
                body.append(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(at=time.perf_counter(), status=message["status"])
            elif message["type"] == "http.response.body":
                if keep:
                    answer.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self.writes.append(
                        Write(
                            received,
                            started["at"],
                            scope["method"],
                            scope["path"],
                            started["status"],
                            b"".join(body),
                            b"".join(answer),
                        )
                    )
            await send(message)

        await self.app(scope, receiving, sending)


def request_kinds(writes: list[Write]) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for write in writes:
        if write.path.startswith("/api/events"):
            kind = "event record" if write.method == "POST" else "event update"
        elif write.path.endswith("/operations"):
            kind = "operations"
        elif write.path.endswith("/links/bulk"):
            kind = "links bulk"
        elif "/links/" in write.path and write.method == "DELETE":
            kind = "link delete"
        else:
            kind = f"{write.method} other"
        kinds[kind] += 1
    return dict(sorted(kinds.items()))


async def bare_writes(bed: SyncBed, log: WriteLog, count: int) -> tuple[list[float], list[float]]:
    """``count`` single-folder ``/operations`` updates straight to the fake AYON (one client,
    one at a time): the round trips, and the server's own times (the WriteLog's)."""
    folder = await bed.pool.fetchval(
        f"SELECT id FROM project_{bed.project}.folders WHERE folder_type = 'Shot' "
        "ORDER BY name LIMIT 1"
    )
    path = f"/api/projects/{bed.project}/operations"
    round_trips: list[float] = []
    mark = len(log.writes)
    headers = {"x-api-key": SERVICE_KEY}
    async with httpx.AsyncClient(base_url=bed.ayon_url, headers=headers, timeout=30) as client:
        for number in range(count):
            operation = {
                "type": "update",
                "entityType": "folder",
                "entityId": folder.hex,
                "data": {"attrib": {"description": f"bare write {number}"}},
            }
            started = time.perf_counter()
            answer = await client.post(path, json={"operations": [operation]})
            round_trips.append(time.perf_counter() - started)
            answer.raise_for_status()
    served = [w.answered - w.received for w in log.writes[mark:] if w.path == path]
    return round_trips, served
