"""Scenario 7: conflicting edits, made fast and delivered in disorder to three workers while
full project reconciles run.

Several rounds of edits in quick succession, their steps interleaved at random: shots renamed
and moved to another sequence while their casting changes (assets added, removed, occurrence
counts changed), cast assets renamed, two shots swapping names (A -> tmp, B -> A, tmp -> B; AYON
wants unique names among siblings), a shot renamed and moved next to a sibling of the same name
(Kitsu allows it; AYON gets a suffix, dropped again once the sibling is renamed away), a sequence
renamed while its shots move out, cast assets canceled and hard-deleted. Each round's events
arrive one to three times each, shuffled, some through the receiver and some straight into the
ingest task, while the next round is already being made. AYON ends equal to a full sync of
Kitsu's final state, with no dead letter and no key reconciled twice at once.

A second test makes the race a big project's full reconcile runs into every time: its write
stalls in AYON while the entities it read change again and their event reconciles write the
newer state first; its older write must not stay.

Persistent same-name siblings are left out on purpose: kitsync lets whoever holds a name keep
it, so their names depend on the order things happened in, unlike a full sync from scratch.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from kitsync.kitsu import KitsuClient
from kitsync.reconcile import SYNC_TOPIC
from tests.fakes.ayon import inject_delay
from tests.fakes.kitsu import BOT_TOKEN
from tests.faults._bed import FaultBed
from tests.integration.processes import until
from tests.production_generator import GeneratedProduction

pytestmark = pytest.mark.faults

ROUNDS = 4
WORKERS = 3

Step = Callable[[], None]


@dataclass
class Film:
    """What the test knows of the Kitsu production it edits (kept in step with its writes)."""

    bed: FaultBed
    project_id: str
    sequences: dict[str, str]  # id -> name
    shots: dict[str, list[str]]  # id -> [name, sequence id]
    assets: dict[str, str]  # id -> name, live (not canceled, not deleted) ones
    asset_types: dict[str, str]  # id -> asset type id, of every asset Kitsu still lists
    log: list[str] = field(default_factory=list)
    later: dict[str, list[Step]] = field(default_factory=dict)  # shot -> its next round's edit

    def update(self, entity_id: str, **fields: Any) -> None:
        self.bed.kitsu.update_entity(entity_id, **fields)
        if entity_id in self.shots:
            self.shots[entity_id][0] = fields.get("name", self.shots[entity_id][0])
            self.shots[entity_id][1] = fields.get("parent_id", self.shots[entity_id][1])
        elif entity_id in self.sequences:
            self.sequences[entity_id] = fields.get("name", self.sequences[entity_id])
        elif entity_id in self.assets:
            self.assets[entity_id] = fields.get("name", self.assets[entity_id])
        self.log.append(f"update {entity_id} {fields}")

    def in_sequence(self, sequence_id: str) -> list[str]:
        return sorted(s for s, (_, parent) in self.shots.items() if parent == sequence_id)


def _edits(film: Film, rng: random.Random, round_: int) -> list[list[Step]]:
    """This round's edits: each a list of steps made in order, edits interleaved."""
    kitsu, project_id = film.bed.kitsu, film.project_id
    sequences = sorted(film.sequences)
    shots = sorted(film.shots)
    edits: list[list[Step]] = []
    busy = set(film.later)  # shots an edit of this round already renames

    def pick_shots(count: int) -> list[str]:
        free = [s for s in shots if s not in busy]
        chosen = rng.sample(free, min(count, len(free)))
        busy.update(chosen)
        return chosen

    def other_sequence(shot_id: str) -> str:
        return rng.choice([s for s in sequences if s != film.shots[shot_id][1]])

    def recast(shot_id: str) -> Step:
        def step() -> None:
            live = sorted(film.assets)
            casting = [
                {"asset_id": asset_id, "nb_occurences": rng.choice((1, 1, 2, 3))}
                for asset_id in rng.sample(live, rng.randint(0, min(5, len(live))))
            ]
            kitsu.set_casting(project_id, shot_id, casting)
            film.log.append(f"set casting of {shot_id}: {casting}")

        return step

    def cast(asset_id: str, shot_ids: list[str], count: int) -> Step:
        def step() -> None:
            if asset_id in film.assets:
                kitsu.cast_asset(project_id, asset_id, shot_ids, count)
                film.log.append(f"cast {asset_id} x{count} in {shot_ids}")

        return step

    def update(entity_id: str, **fields: Any) -> Step:
        return lambda: film.update(entity_id, **fields)

    # Shots renamed and moved to another sequence while their casting changes.
    for number, shot_id in enumerate(pick_shots(rng.randint(3, 5))):
        name = f"R{round_}M{number:02d}"
        edits.append(
            [update(shot_id, name=name, parent_id=other_sequence(shot_id)), recast(shot_id)]
            if rng.random() < 0.5
            else [recast(shot_id), update(shot_id, name=name, parent_id=other_sequence(shot_id))]
        )
    # Occurrence counts changed (0 uncasts) across shots, one asset at a time.
    for asset_id in rng.sample(sorted(film.assets), 2):
        edits.append([cast(asset_id, rng.sample(shots, 3), rng.randint(0, 3))])
    # Two shots of one sequence swap names through a temporary one, twice.
    for number in range(2):
        crowded = [s for s in sequences if len(set(film.in_sequence(s)) - busy) >= 2]
        if crowded:
            first, second = rng.sample(sorted(set(film.in_sequence(rng.choice(crowded))) - busy), 2)
            busy.update((first, second))
            name_a, name_b = film.shots[first][0], film.shots[second][0]
            edits.append(
                [
                    update(first, name=f"tmp{round_}{number}"),
                    update(second, name=name_a),
                    update(first, name=name_b),
                ]
            )
    # A shot renamed and moved next to a sibling of the same name, which is renamed away in
    # this round or the next; twice.
    edits.extend(film.later.values())
    film.later.clear()
    for number in range(2):
        mover, holder = pick_shots(2)
        name, parent = film.shots[holder]
        edits.append([update(mover, name=name, parent_id=parent)])
        away = [update(holder, name=f"R{round_}H{number}")]
        if rng.random() < 0.5 or round_ == ROUNDS:
            edits.append(away)
        else:
            film.later[holder] = away
    # A sequence renamed while shots move out of it.
    sequence_id = rng.choice(sequences)
    leaving = [s for s in film.in_sequence(sequence_id) if s not in busy][:2]
    busy.update(leaving)
    edits.append(
        [update(sequence_id, name=f"SQR{round_}")]
        + [update(s, parent_id=other_sequence(s)) for s in leaving]
    )
    # A cast asset renamed.
    renamed = rng.choice(sorted(film.assets))
    edits.append([update(renamed, name=f"{film.assets[renamed]} R{round_}")])
    # From the second round: a cast asset canceled, another hard-deleted (one whose type keeps
    # an asset: an asset type folder stays in AYON once its last asset goes, while a full sync
    # from scratch makes none for it).
    if round_ >= 2:
        for force in (False, True):
            doomed = [
                a
                for a in sorted(film.assets)
                if a != renamed
                and (not force or list(film.asset_types.values()).count(film.asset_types[a]) > 1)
            ]
            if len(film.assets) <= 4 or not doomed:
                continue
            asset_id = rng.choice(doomed)
            film.assets.pop(asset_id)
            if force:
                film.asset_types.pop(asset_id)

            def delete(asset_id: str = asset_id, force: bool = force) -> None:
                kitsu.delete_entity(asset_id, force=force)
                film.log.append(f"delete {asset_id} force={force}")

            edits.append([cast(asset_id, rng.sample(shots, 2), 1), delete])
    return edits


def _interleave(rng: random.Random, edits: list[list[Step]]) -> Iterator[Step]:
    """The steps of all edits, each edit's in order, the edits mixed at random."""
    pending = [list(steps) for steps in edits if steps]
    while pending:
        steps = rng.choice(pending)
        yield steps.pop(0)
        if not steps:
            pending.remove(steps)


async def _deliver(bed: FaultBed, rng: random.Random, events: list[dict[str, Any]]) -> None:
    """Each event one to three times, shuffled, in batches to the receiver or the ingest task."""
    deliveries = [event for event in events for _ in range(rng.randint(1, 3))]
    rng.shuffle(deliveries)
    while deliveries:
        size = rng.randint(1, 12)
        batch, deliveries = deliveries[:size], deliveries[size:]
        if rng.random() < 0.5:
            answer = await bed.post(batch)
            assert answer.status_code == 202, answer.text
        else:
            bed.celery.send_task("kitsync.ingest", args=(batch, "test"))
        await asyncio.sleep(rng.uniform(0, 0.05))


async def _film(bed: FaultBed, production: GeneratedProduction) -> Film:
    async with KitsuClient(bed.kitsu_url, bot_token=BOT_TOKEN) as kitsu:
        sequences = await kitsu.sequences(production.project_id)
        shots = await kitsu.shots(production.project_id)
        assets = await kitsu.assets(production.project_id)
    return Film(
        bed,
        production.project_id,
        {s.id: s.name for s in sequences},
        {s.id: [s.name, s.parent_id or ""] for s in shots},
        {a.id: a.name for a in assets},
        {a.id: a.entity_type_id for a in assets},
    )


def _full_reconcile(bed: FaultBed, production: GeneratedProduction) -> None:
    bed.celery.send_task("kitsync.reconcile_project", args=(production.project_id,))


async def _full_reconciles_ended(
    bed: FaultBed, project: str, count: int, production: GeneratedProduction
) -> None:
    """Until ``count`` full reconciles of the project have ended (each shows as an AYON event)
    or found another one running (then it stops at once, with a line in its worker's log: the
    running one hands back what changed meanwhile): the key queue being idle says nothing of
    them, and one may still write."""
    skipped = f"full reconcile of {production.project_id} is running elsewhere"

    async def ended() -> bool:
        rows = await bed.pool.fetch(
            "SELECT status FROM public.events WHERE topic = $1 AND project_name = $2",
            SYNC_TOPIC,
            project,
        )
        statuses = [row["status"] for row in rows]
        stopped = sum(log.read_text().count(skipped) for log in bed.logs.glob("*.log"))
        return len(statuses) + stopped >= count and all(
            s in ("finished", "failed") for s in statuses
        )

    await until(ended, bed.logs, 90)


async def test_conflicting_edits_converge(bed: FaultBed, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(WORKERS):
        await bed.start_worker(concurrency=2)
    production = bed.new_production(shots=24, seed=seed)
    project = await bed.pair(production)
    film = await _film(bed, production)

    # The first sync: the build's events and a full reconcile at once.
    deliveries = [asyncio.create_task(_deliver(bed, rng, bed.events(production)))]
    _full_reconcile(bed, production)
    full_rounds = set(rng.sample(range(1, ROUNDS + 1), 2))
    for round_ in range(1, ROUNDS + 1):
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        since = len(bed.kitsu.events())
        for step in _interleave(rng, _edits(film, rng, round_)):
            step()
        if round_ in full_rounds:
            _full_reconcile(bed, production)
        deliveries.append(asyncio.create_task(_deliver(bed, rng, bed.events(production, since))))
    await asyncio.gather(*deliveries)

    try:
        await _full_reconciles_ended(bed, project, 1 + len(full_rounds), production)
        await bed.converged(production, project, seconds=90)
    except AssertionError as failure:
        edits = "\n".join(film.log)
        raise AssertionError(f"seed {seed}: {failure}\nedits:\n{edits}") from None


async def test_a_slow_full_reconcile_undoes_no_newer_edit(bed: FaultBed, seed: int) -> None:
    """A full reconcile reads Kitsu, then its write stalls in AYON; meanwhile the same entities
    change again and their event reconciles write the newer state. The full reconcile's write
    lands last with the older state: kitsync must notice and reconcile those keys again."""
    rng = random.Random(seed)
    await bed.start_worker(concurrency=2)
    production = bed.new_production(shots=16, seed=seed + 1)
    project = await bed.pair(production)
    film = await _film(bed, production)
    _full_reconcile(bed, production)
    await _full_reconciles_ended(bed, project, 1, production)
    await until(bed.idle, bed.logs, 30)
    async with KitsuClient(bed.kitsu_url, bot_token=BOT_TOKEN) as kitsu:
        tasks = await kitsu.tasks(production.project_id)
        statuses = [status.id for status in await kitsu.task_statuses(production.project_id)]
    shot, mover = rng.sample(sorted(film.shots), 2)
    types = list(film.asset_types.values())  # not the last of its type (see _edits)
    doomed = rng.choice(sorted(a for a, kind in film.asset_types.items() if types.count(kind) > 1))
    asset = rng.choice(sorted(set(film.assets) - {doomed}))
    task = rng.choice([t for t in tasks if t.entity_id != doomed])
    sequences = sorted(film.sequences)

    # Made while no event reaches kitsync: only the full reconcile sees them.
    since = len(bed.kitsu.events())
    film.update(shot, name="First")
    film.update(mover, parent_id=next(s for s in sequences if s != film.shots[mover][1]))
    film.update(asset, name="First asset")
    film.update(doomed, name="Doomed asset")
    bed.kitsu.set_task_status(task.id, next(s for s in statuses if s != task.task_status_id))
    inject_delay(bed.ayon_app, 3.0, 1, method="POST", path=f"/api/projects/{project}/operations")
    before = len(bed.ayon_app.state.requests)
    _full_reconcile(bed, production)

    async def full_reconcile_writing() -> bool:
        return ("POST", f"/api/projects/{project}/operations") in bed.ayon_app.state.requests[
            before:
        ]

    await until(full_reconcile_writing, bed.logs, 30)
    # While its write stalls: newer edits, whose events come in at once.
    film.update(shot, name="Second")
    film.update(mover, parent_id=next(s for s in sequences if s != film.shots[mover][1]))
    film.update(asset, name="Second asset")
    bed.kitsu.delete_entity(doomed, force=True)
    bed.kitsu.set_task_status(task.id, rng.choice(statuses))
    await _deliver(bed, rng, bed.events(production, since))
    await _full_reconciles_ended(bed, project, 2, production)
    await bed.converged(production, project, seconds=60)
