"""What kitsync reads from AYON, whichever way it reads it: the Protocol both readers follow.

:class:`~kitsync.ayon.ApiReader` reads through AYON's GraphQL and REST API with the service
user's key (the default: any AYON offers it); :class:`~kitsync.ayon.AyonReader` reads AYON's
PostgreSQL directly when ``AYON_DB_DSN`` is given (faster on large projects, see the README).
Both give the same answers; the integration tests run the reconcilers against each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from kitsync.ayon._reader import ProjectSummary
from kitsync.schemas.ayon import BREAKDOWN, AyonFolder, AyonLink, AyonProjectAnatomy, AyonTask


class AyonReads(Protocol):
    """Batched reads of AYON's current state. Inactive entities are included everywhere."""

    async def paired_projects(self) -> dict[str, str]:
        """``{kitsu project id: AYON project name}`` over the active paired projects;
        :class:`~kitsync.ayon.AmbiguousPairing` when one Kitsu id has several."""
        ...

    async def paired_project(self, kitsu_project_id: str) -> str | None: ...

    async def projects(self) -> list[ProjectSummary]: ...

    async def project_summary(self, project: str) -> ProjectSummary: ...

    async def users_by_email(self, emails: Iterable[str]) -> dict[str, str]: ...

    async def user_emails(self, names: Iterable[str]) -> dict[str, str]:
        """``{AYON user name: lower-cased email}`` of the named users that have one."""
        ...

    async def anatomy(self, project: str) -> AyonProjectAnatomy: ...

    async def folders_by_kitsu_ids(
        self, project: str, kitsu_ids: Iterable[str]
    ) -> dict[str, AyonFolder]: ...

    async def tasks_by_kitsu_ids(
        self, project: str, kitsu_ids: Iterable[str]
    ) -> dict[str, AyonTask]: ...

    async def project_folders(self, project: str) -> list[AyonFolder]: ...

    async def project_tasks(self, project: str) -> list[AyonTask]: ...

    async def folders_by_ids(self, project: str, ids: Iterable[str]) -> dict[str, AyonFolder]: ...

    async def tasks_by_ids(self, project: str, ids: Iterable[str]) -> dict[str, AyonTask]: ...

    async def children(
        self, project: str, parent_ids: Iterable[str | None]
    ) -> dict[str | None, list[AyonFolder]]: ...

    async def tasks_of_folders(
        self, project: str, folder_ids: Iterable[str]
    ) -> dict[str, list[AyonTask]]: ...

    async def folders_with_products(self, project: str, folder_ids: Iterable[str]) -> set[str]: ...

    async def subtree_ids(self, project: str, folder_ids: Iterable[str]) -> set[str]: ...

    async def links_into(
        self,
        project: str,
        output_ids: Iterable[str],
        link_type: str = BREAKDOWN,
        *,
        or_ids: Iterable[str] = (),
    ) -> list[AyonLink]: ...

    async def links_of_type(self, project: str, link_type: str = BREAKDOWN) -> list[AyonLink]: ...

    async def links_touching(self, project: str, folder_ids: Iterable[str]) -> list[AyonLink]: ...
