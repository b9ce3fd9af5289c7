"""The workload: changes made to the fake Kitsu as a studio makes them (shot updates, casting
changes), each leaving a marker in the AYON writes that carry it; and ``Commits``, which reads
those markers back from the fake AYON's write log to tell when AYON had each change.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass
from typing import Any

import _common  # noqa: F401 - puts the repository root on sys.path
from _write_log import Write, WriteLog

from kitsync.core.casting import ASSET_KEY, TARGET_KEY
from kitsync.schemas import BREAKDOWN, FORWARDED_EVENT_NAMES
from tests.integration.sync_bed import SyncBed
from tests.production_generator import GeneratedProduction

MARKER = re.compile(r"bench shot (\d+) change (\d+)")
# Share of changes by kind: shot updates, then casting through set_casting or cast_asset.
KINDS = (("shot update", 0.6), ("set casting", 0.2), ("cast asset", 0.2))


@dataclass
class Change:
    """One change made to Kitsu, and when AYON had it."""

    index: int  # increasing over the run
    kind: str
    stream: tuple[str, str]  # ("shot" | "casting", shot id): the marker's sequence
    at: float  # perf_counter right after the fake Kitsu's write returned
    event_ids: tuple[str, ...]
    accepted: float | None = None  # the receiver answered the POST of its last event
    sent: float | None = None  # the committing write reached AYON
    committed: float | None = None  # AYON answered it

    @property
    def events(self) -> int:
        return len(self.event_ids)

    def stages(self) -> tuple[float, float, float] | None:
        """Seconds from the event to the receiver's answer, from there to the committing
        write reaching AYON, and that write's time in AYON (None if not committed)."""
        if self.accepted is None or self.sent is None or self.committed is None:
            return None
        return self.accepted - self.at, self.sent - self.accepted, self.committed - self.sent


class Changes:
    """Makes changes to the fake Kitsu and reads their events, as the Zou plugin sees them."""

    def __init__(
        self, generated: GeneratedProduction, castings: dict[str, dict[str, int]], seed: int
    ) -> None:
        self.kitsu = generated.kitsu
        self.project_id = generated.project_id
        self.shots = generated.shot_ids
        self.assets = generated.asset_ids
        self.castings = castings  # shot id -> asset id -> occurrences, as Kitsu has it now
        self.rng = random.Random(seed)
        self.markers: dict[tuple[str, str], int] = {}  # (shot id, cast asset id) -> change
        self.count = 0
        self._mark = self._log_length()

    def make(self, shot: int) -> tuple[Change, list[dict[str, Any]]]:
        """One change of a random kind to shot number ``shot``; its forwarded events."""
        index = self.count
        self.count += 1
        kind = self.rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        shot_id = self.shots[shot]
        if kind == "shot update":
            data: dict[str, Any] = {"frame_out": 1000 + self.rng.randint(24, 240)}
            if self.rng.random() < 0.3:
                data["fps"] = self.rng.choice(("24", "25"))
            description = f"bench shot {shot} change {index}"
            self.kitsu.update_entity(shot_id, description=description, data=data)
            stream = ("shot", shot_id)
        else:
            self._recast(shot_id, index, use_set=kind == "set casting")
            stream = ("casting", shot_id)
        at = time.perf_counter()
        events = self.new_events()
        return Change(index, kind, stream, at, tuple(e["id"] for e in events)), events

    def _recast(self, shot_id: str, index: int, *, use_set: bool) -> None:
        """Take one cast asset out of the shot and cast one never cast there in this run."""
        current = self.castings.setdefault(shot_id, {})
        removed = self.rng.choice(sorted(current)) if current else None
        while True:
            added = self.rng.choice(self.assets)
            if added not in current and (shot_id, added) not in self.markers:
                break
        occurrences = self.rng.choice((1, 1, 2, 3))
        after = {asset: n for asset, n in current.items() if asset != removed}
        after[added] = occurrences
        self.markers[(shot_id, added)] = index
        if use_set:
            casting = [{"asset_id": asset, "nb_occurences": n} for asset, n in after.items()]
            self.kitsu.set_casting(self.project_id, shot_id, casting)
        else:
            if removed is not None:
                self.kitsu.cast_asset(self.project_id, removed, [shot_id], 0)
            self.kitsu.cast_asset(self.project_id, added, [shot_id], occurrences)
        self.castings[shot_id] = after

    def new_events(self) -> list[dict[str, Any]]:
        """The events logged since the last call that the Zou plugin forwards.

        ``FakeKitsu.events()`` copies the whole log (0.4 s at the default production's
        23,000 events), so the new tail is read from the fake's log directly.
        """
        state = self.kitsu._state
        with state.lock:
            tail = state.log.events[self._mark :]
            self._mark += len(tail)
            shown = [event.to_json() for event in tail]
        return [event for event in shown if event["name"] in FORWARDED_EVENT_NAMES]

    def _log_length(self) -> int:
        state = self.kitsu._state
        with state.lock:
            return len(state.log.events)


async def kitsu_castings(bed: SyncBed) -> dict[str, dict[str, int]]:
    """Every shot's casting (asset -> occurrences), read from the AYON links of the first sync
    (the same as Kitsu's, which the fake serves only entity by entity)."""
    rows = await bed.pool.fetch(
        f"SELECT data->>'{TARGET_KEY}' AS target, data->>'{ASSET_KEY}' AS asset, count(*) AS n "
        f"FROM project_{bed.project}.links WHERE link_type = $1 GROUP BY 1, 2",
        BREAKDOWN,
    )
    castings: dict[str, dict[str, int]] = {}
    for row in rows:
        castings.setdefault(row["target"], {})[row["asset"]] = int(row["n"])
    return castings


class Commits:
    """The markers AYON committed, per stream, from the fake AYON's write log."""

    def __init__(self, log: WriteLog, changes: Changes) -> None:
        self.log = log
        self.changes = changes
        self.seen = 0
        # stream -> (answered, received, change index) of each write carrying a marker
        self.by_stream: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
        self.top: dict[tuple[str, str], int] = {}

    def update(self) -> None:
        writes = self.log.writes[self.seen :]
        self.seen += len(writes)
        for write in writes:
            if write.status >= 300 or not write.body:
                continue
            if write.path.endswith("/operations"):
                if not json.loads(write.answer).get("success", False):
                    continue  # rolled back; kitsync plans again
                for match in MARKER.finditer(write.body.decode()):
                    shot_id = self.changes.shots[int(match[1])]
                    self._add(("shot", shot_id), write, int(match[2]))
            elif write.path.endswith("/links/bulk"):
                for link in json.loads(write.body)["links"]:
                    data = link.get("data") or {}
                    target = str(data.get(TARGET_KEY))
                    index = self.changes.markers.get((target, str(data.get(ASSET_KEY))))
                    if index is not None:
                        self._add(("casting", target), write, index)

    def _add(self, stream: tuple[str, str], write: Write, index: int) -> None:
        self.by_stream.setdefault(stream, []).append((write.answered, write.received, index))
        self.top[stream] = max(self.top.get(stream, -1), index)

    def applied(self, change: Change) -> bool:
        return self.top.get(change.stream, -1) >= change.index

    def settle(self, change: Change) -> None:
        """Set ``change.committed``: the first commit of its stream that includes it."""
        for answered, received, index in sorted(self.by_stream.get(change.stream, ())):
            if index >= change.index and answered >= change.at:
                change.committed, change.sent = answered, received
                return
