"""Kitsu persons -> AYON users, matched by e-mail; optionally created (without a password)."""

from __future__ import annotations

from collections.abc import Iterable

from slugify import slugify

from kitsync.schemas import KitsuPerson
from kitsync.tasks.context import SyncContext


def user_name(person: KitsuPerson) -> str:
    """``first.last`` as ayon-kitsu names the users it makes (accents and spaces dropped)."""
    full = slugify(f"{person.first_name} {person.last_name}", separator=".")
    return full or slugify(person.email or person.id, separator=".")


async def ensure_users(ctx: SyncContext, persons: Iterable[KitsuPerson]) -> int:
    """Create the AYON users missing for these persons when ``create_users`` is on; how many
    were made. Off (the default), a person with no AYON user is reported by the plan instead."""
    with_email = {p.email.lower(): p for p in persons if p.email and not p.is_bot}
    if not ctx.create_users or not with_email:
        return 0
    known = await ctx.reader.users_by_email(with_email)
    made = 0
    for email, person in sorted(with_email.items()):
        if email in known:
            continue
        attrib = {"email": person.email, "fullName": f"{person.first_name} {person.last_name}"}
        made += await ctx.writer.create_user(
            user_name(person), attrib=attrib, data={"kitsuId": person.id}
        )
    return made
