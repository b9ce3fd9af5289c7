"""Kitsu persons -> AYON users, matched by e-mail; optionally created (without a password)."""

from __future__ import annotations

from collections.abc import Iterable

from slugify import slugify

from kitsync.reconcile.context import SyncContext
from kitsync.schemas import KitsuPerson


def user_name(person: KitsuPerson) -> str:
    """``first.last`` as ayon-kitsu names the users it makes (accents and spaces dropped)."""
    full = slugify(f"{person.first_name} {person.last_name}", separator=".")
    return full or slugify(person.email or person.id, separator=".")


def user_names(person: KitsuPerson) -> tuple[str, str, str]:
    """The names to try for a person's new AYON user, in order: :func:`user_name`, then with a
    short, then the whole, Kitsu id (two Kitsu people of one name get distinct users, each
    always the same name: it depends on the person alone, never on the order they came in)."""
    name = user_name(person)
    kitsu_id = person.id.replace("-", "").lower()
    return name, f"{name}.{kitsu_id[:8]}", f"{name}.{kitsu_id}"


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
        for name in user_names(person):
            if await ctx.writer.create_user(name, attrib=attrib, data={"kitsuId": person.id}):
                made += 1
                break
            # Taken (409): by another person of the same name, or by this person's own user,
            # just made by another worker (a new person's task keys run side by side).
            if email in await ctx.reader.users_by_email([email]):
                break
    return made
