"""Applying a full reconcile's operations: atomic chunks, and one bad entity never stops the rest.

Operations go in plan order (removals, folders parents first, tasks), in chunks of the writer's
size, each chunk one atomic ``/operations`` call. When AYON refuses one operation of a chunk, it
says which (the chunk is rolled back): that one is recorded as failed and the rest of the chunk is
sent again. When AYON refuses a whole request without naming an operation, the chunk is split in
halves until the culprit is alone. Whatever needs a folder that could not be created (its
children, its tasks) is not sent, and is reported as skipped. Transient errors (AYON down,
timeouts) are not failures of an entity: they stop the reconcile, to be retried whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kitsync.ayon import AyonBadRequest, AyonConflict, AyonError, AyonWriter, OperationFailed
from kitsync.reconcile._project_plan import Step


@dataclass(frozen=True)
class Failure:
    """Something the reconcile could not write. ``skipped``: not even sent, because what it
    needs (its parent folder) failed."""

    what: str
    reason: str
    kitsu_id: str | None = None
    skipped: bool = False

    def describe(self) -> str:
        where = f" [kitsu {self.kitsu_id}]" if self.kitsu_id else ""
        return f"{self.what}{where}: {self.reason}"


async def apply_steps(
    writer: AyonWriter, project: str, steps: Sequence[Step], advance: Callable[[int], None]
) -> tuple[list[Step], list[Failure]]:
    """Apply the steps; those applied and the failures. ``advance(n)`` after each chunk."""
    applier = _Applier(writer, project)
    size = writer.chunk_size
    for start in range(0, len(steps), size):
        chunk = steps[start : start + size]
        await applier.send(applier.runnable(chunk))
        advance(len(chunk))
    return applier.applied, applier.failures


class _Applier:
    def __init__(self, writer: AyonWriter, project: str) -> None:
        self.writer = writer
        self.project = project
        self.applied: list[Step] = []
        self.failures: list[Failure] = []
        # id of a folder that was not created -> what it was
        self.lost: dict[str, str] = {}

    def runnable(self, steps: Sequence[Step]) -> list[Step]:
        """The steps whose folder exists or will; the others are recorded as skipped."""
        kept: list[Step] = []
        for step in steps:
            parent_key = "parentId" if step.operation.entity_type == "folder" else "folderId"
            needs = (step.operation.data or {}).get(parent_key)
            if needs in self.lost:
                reason = f"not sent: {self.lost[needs]} failed"
                self._lose(step, Failure(step.what, reason, step.kitsu_id, skipped=True))
            else:
                kept.append(step)
        return kept

    async def send(self, steps: list[Step]) -> None:
        while steps:
            try:
                await self.writer.operations(self.project, [step.operation for step in steps])
            except OperationFailed as error:
                self._lose(steps[error.index], _failure(steps[error.index], error))
                steps = self.runnable(steps[: error.index] + steps[error.index + 1 :])
                continue
            except (AyonBadRequest, AyonConflict) as error:
                # Refused whole, no operation named: find the culprit by halves.
                if len(steps) == 1:
                    self._lose(steps[0], _failure(steps[0], error))
                    return
                half = len(steps) // 2
                await self.send(steps[:half])
                await self.send(self.runnable(steps[half:]))
                return
            self.applied.extend(steps)
            return

    def _lose(self, step: Step, failure: Failure) -> None:
        self.failures.append(failure)
        op = step.operation
        if op.type == "create" and op.entity_type == "folder" and op.entity_id:
            self.lost[op.entity_id] = step.what


def _failure(step: Step, error: AyonError) -> Failure:
    reason = f"AYON answered {error.status}: {error.detail}" if error.status else str(error)
    return Failure(step.what, reason, step.kitsu_id)
