"""The Zou plugin's sender, as the benchmark drives it: signed POSTs of pending events to
kitsync's receiver, some of them twice."""

from __future__ import annotations

import asyncio
import heapq
import json
import random
import time
from collections import deque
from contextlib import suppress
from typing import Any

import httpx
from _workers import WEBHOOK_SECRET

from kitsync.receiver import SIGNATURE_HEADER, sign_body

MAX_BATCH = 100  # the Zou plugin's


class Plugin:
    """POSTs events to the receiver as the Zou plugin's sender thread does: whatever is
    pending, at most 100 per signed POST, one POST at a time. A ``duplicates`` fraction of the
    events is POSTed once more up to 1 s later (as a retried POST, or the poller catching up,
    would bring them again)."""

    def __init__(
        self, client: httpx.AsyncClient, url: str, rng: random.Random, duplicates: float
    ) -> None:
        self.client = client
        self.url = f"{url}/kitsu/events"
        self.rng = rng
        self.duplicates = duplicates
        self.pending: deque[dict[str, Any]] = deque()
        self.later: list[tuple[float, int, dict[str, Any]]] = []
        self.wake = asyncio.Event()
        self.closed = False
        self.posts = 0
        self.sent = 0
        self.accepted = 0
        self.refused_as_duplicates = 0
        self.first_post: float | None = None
        self.answered: dict[str, float] = {}  # event id -> when its first POST was answered

    def put(self, events: list[dict[str, Any]]) -> None:
        self.pending.extend(events)
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    async def run(self) -> None:
        sequence = 0
        while True:
            now = time.perf_counter()
            while self.later and self.later[0][0] <= now:
                self.pending.append(heapq.heappop(self.later)[2])
            if self.pending:
                count = min(MAX_BATCH, len(self.pending))
                batch = [self.pending.popleft() for _ in range(count)]
                await self._post(batch)
                for event in batch:
                    if not event.get("_again") and self.rng.random() < self.duplicates:
                        sequence += 1
                        due = time.perf_counter() + self.rng.uniform(0.0, 1.0)
                        heapq.heappush(self.later, (due, sequence, event | {"_again": True}))
                continue
            if self.closed and not self.later:
                return
            self.wake.clear()
            timeout = self.later[0][0] - now if self.later else None
            with suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def _post(self, batch: list[dict[str, Any]]) -> None:
        events = [{k: v for k, v in event.items() if k != "_again"} for event in batch]
        body = json.dumps({"events": events}).encode()
        headers = {
            SIGNATURE_HEADER: sign_body(WEBHOOK_SECRET, body),
            "content-type": "application/json",
        }
        if self.first_post is None:
            self.first_post = time.perf_counter()
        answer = await self.client.post(self.url, content=body, headers=headers)
        if answer.status_code != 202:
            raise RuntimeError(f"receiver answered {answer.status_code}: {answer.text[:300]}")
        counts = answer.json()
        now = time.perf_counter()
        for event in events:
            self.answered.setdefault(event["id"], now)
        self.posts += 1
        self.sent += len(batch)
        self.accepted += counts["accepted"]
        self.refused_as_duplicates += counts["duplicates"]
