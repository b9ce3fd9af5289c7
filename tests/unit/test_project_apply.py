"""Applying a full reconcile's operations: chunks, one refused entity, refused requests."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from kitsync.ayon import AyonBadRequest, AyonUnavailable, OperationFailed
from kitsync.core.ids import ayon_id
from kitsync.reconcile._project_apply import apply_steps
from kitsync.reconcile._project_plan import Step
from kitsync.schemas import Operation, OperationResult


class FakeWriter:
    """Atomic chunks like AYON's /operations: ``refuse`` ids fail their op (the chunk rolls
    back), ``refuse_whole`` ids make the whole request a 400 without naming the op."""

    def __init__(
        self,
        chunk_size: int = 4,
        refuse: frozenset[str] = frozenset(),
        refuse_whole: frozenset[str] = frozenset(),
        down: bool = False,
    ) -> None:
        self.chunk_size = chunk_size
        self.refuse = refuse
        self.refuse_whole = refuse_whole
        self.down = down
        self.calls: list[list[str]] = []
        self.committed: list[str] = []

    async def operations(self, project: str, ops: Sequence[Operation]) -> list[OperationResult]:
        assert len(ops) <= self.chunk_size
        ids = [str(op.entity_id) for op in ops]
        self.calls.append(ids)
        if self.down:
            raise AyonUnavailable("POST /operations -> 503")
        if self.refuse_whole & set(ids):
            raise AyonBadRequest("POST /operations -> 400: bad", status=400, detail="bad")
        for index, op in enumerate(ops):
            if str(op.entity_id) in self.refuse:
                result = OperationResult(
                    id=ayon_id("r"),
                    type=op.type,
                    entity_type=op.entity_type,
                    entity_id=op.entity_id,
                    success=False,
                    status=409,
                    error_code="unique-violation",
                    detail="taken",
                )
                raise OperationFailed(
                    "failed", index=index, operation=op, result=result, committed=0
                )
        self.committed.extend(ids)
        return []


def _folder(key: str, parent: str | None = None) -> Step:
    data = {"name": key, "folderType": "Shot", **({"parentId": ayon_id(parent)} if parent else {})}
    op = Operation(type="create", entity_type="folder", entity_id=ayon_id(key), data=data)
    return Step(op, f"create folder {key}", key)


def _task(key: str, folder: str) -> Step:
    data = {"name": key, "taskType": "Layout", "folderId": ayon_id(folder)}
    op = Operation(type="create", entity_type="task", entity_id=ayon_id(key), data=data)
    return Step(op, f"create task {key}", key)


STEPS = [
    _folder("root"),
    _folder("sq1", "root"),
    _folder("sq2", "root"),
    _folder("sh1", "sq1"),
    _folder("sh2", "sq2"),
    _folder("sh3", "sq2"),
    _task("t1", "sh1"),
    _task("t2", "sh2"),
    _task("t3", "sh3"),
]


async def _apply(writer: FakeWriter) -> tuple[list[str], list[tuple[str, bool]], list[int]]:
    progress: list[int] = []
    applied, failures = await apply_steps(writer, "p", STEPS, progress.append)  # type: ignore[arg-type]
    return (
        [str(step.kitsu_id) for step in applied],
        [(str(f.kitsu_id), f.skipped) for f in failures],
        progress,
    )


async def test_chunks_in_order() -> None:
    writer = FakeWriter()
    applied, failures, progress = await _apply(writer)
    assert applied == [str(step.kitsu_id) for step in STEPS] and failures == []
    assert [len(call) for call in writer.calls] == [4, 4, 1] and progress == [4, 4, 1]


async def test_a_refused_folder_skips_what_needs_it_and_nothing_else() -> None:
    writer = FakeWriter(refuse=frozenset({ayon_id("sq2")}))
    applied, failures, _ = await _apply(writer)
    assert failures == [("sq2", False), ("sh2", True), ("sh3", True), ("t2", True), ("t3", True)]
    assert applied == ["root", "sq1", "sh1", "t1"]
    assert writer.committed == [ayon_id(k) for k in applied]
    # The refused chunk is sent again without the culprit; then only what can still go.
    assert writer.calls[1] == [ayon_id(k) for k in ("root", "sq1", "sh1")]


async def test_a_request_refused_whole_is_halved_down_to_the_culprit() -> None:
    writer = FakeWriter(refuse_whole=frozenset({ayon_id("sh3")}))
    applied, failures, _ = await _apply(writer)
    assert failures == [("sh3", False), ("t3", True)]
    assert applied == ["root", "sq1", "sq2", "sh1", "sh2", "t1", "t2"]
    assert writer.committed == [ayon_id(k) for k in applied]


async def test_transient_errors_stop_everything() -> None:
    writer = FakeWriter(down=True)
    with pytest.raises(AyonUnavailable):
        await _apply(writer)
    assert len(writer.calls) == 1
