"""Links AYON leaves behind when it deletes folders.

Deleting a folder removes the folder's own links, but its descendants (and their tasks) go by
cascade and their links stay in the table, dangling (AYON fixture folders_delete_with_children).
So before a plan deletes folders, find those links; once the delete is applied, remove them.
"""

from __future__ import annotations

from collections.abc import Collection

from kitsync.ayon import AyonReads


async def links_to_remove_with(
    reader: AyonReads, project: str, folder_ids: Collection[str]
) -> list[str]:
    """The ids of the links to delete after deleting ``folder_ids``: every link, of any type,
    touching a descendant folder or a task of those subtrees. Read it before the delete (the
    subtree is gone afterwards); links touching the folders themselves are AYON's to remove."""
    if not folder_ids:
        return []
    roots = set(folder_ids)
    descendants = await reader.subtree_ids(project, roots) - roots
    links = await reader.links_touching(project, descendants)
    return [link.id for link in links if link.input_id not in roots and link.output_id not in roots]
