"""Creating AYON users for Kitsu persons (``KITSYNC_CREATE_USERS``), as workers race to."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kitsync.reconcile.users import ensure_users
from kitsync.schemas import KitsuPerson

JOHN = KitsuPerson(
    id="7d3b5a1e-0000-4000-8000-000000000001",
    first_name="John",
    last_name="Doe",
    email="john@example.com",
)


class _Ayon:
    """Users by name; ``made_by_another`` is created by "another worker" just before this one's
    first create (it read no user for the e-mail a moment earlier)."""

    def __init__(self, made_by_another: dict[str, str]) -> None:
        self.users: dict[str, str] = {}  # name -> email
        self.pending = made_by_another

    async def users_by_email(self, emails: Any) -> dict[str, str]:
        wanted = {email.lower() for email in emails}
        return {e: name for name, e in self.users.items() if e in wanted}

    async def create_user(self, name: str, *, attrib: dict[str, Any], data: Any) -> bool:
        self.users |= self.pending
        self.pending = {}
        if name in self.users:
            return False  # 409
        self.users[name] = attrib["email"]
        return True


async def test_a_user_another_worker_just_made_is_not_made_again() -> None:
    ayon = _Ayon(made_by_another={"john.doe": "john@example.com"})
    ctx: Any = SimpleNamespace(create_users=True, reader=ayon, writer=ayon)
    assert await ensure_users(ctx, [JOHN]) == 0
    assert ayon.users == {"john.doe": "john@example.com"}


async def test_a_namesake_gets_a_user_of_its_own() -> None:
    ayon = _Ayon(made_by_another={"john.doe": "other.john@example.com"})
    ctx: Any = SimpleNamespace(create_users=True, reader=ayon, writer=ayon)
    assert await ensure_users(ctx, [JOHN]) == 1
    assert ayon.users == {
        "john.doe": "other.john@example.com",
        "john.doe.7d3b5a1e": "john@example.com",
    }
