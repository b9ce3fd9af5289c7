"""Apply a plan: anatomy additions through the project PATCH first, then the operations."""

from __future__ import annotations

from kitsync.ayon import AyonWriter
from kitsync.core.plan import Plan


async def apply_plan(writer: AyonWriter, project: str, plan: Plan) -> None:
    if plan.anatomy_changes:
        # Read fresh and sent whole by the writer: a partial list would delete items.
        await writer.add_anatomy_items(
            project,
            folder_types=plan.folder_types,
            task_types=plan.task_types,
            statuses=plan.statuses,
        )
    if plan.operations:
        await writer.operations(project, plan.operations)
