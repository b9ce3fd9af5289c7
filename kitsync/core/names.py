"""AYON names and labels from Kitsu names.

The name is the slug of the Kitsu name with ``_`` (as ayon-kitsu writes it, so existing folders
keep their names); the label is the Kitsu name as typed. AYON names are unique ignoring case among
active siblings, so Kitsu siblings whose slugs collide get a suffix taken from their Kitsu id: the
suffix of an entity never depends on which other siblings exist, so it is stable across runs and
across workers. Only the oldest member of a collision keeps the bare slug.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from slugify import slugify

AYON_NAME = re.compile(r"^[a-zA-Z0-9_]([a-zA-Z0-9_.-]*[a-zA-Z0-9_])?$")
FALLBACK_NAME = "unnamed"
_SUFFIX_HEX = 8


def slug(kitsu_name: str) -> str:
    """The AYON name for a Kitsu name, before any collision suffix."""
    name = slugify(kitsu_name, separator="_")
    return name if name else FALLBACK_NAME


def is_valid_name(name: str) -> bool:
    return AYON_NAME.match(name) is not None


@dataclass(frozen=True, slots=True)
class Sibling:
    """One Kitsu entity that wants a name under a given AYON parent."""

    kitsu_id: str
    kitsu_name: str
    # Sort key deciding who keeps the bare slug: Kitsu's created_at, then the id.
    created: str = ""


def suffixed(name: str, kitsu_id: str) -> str:
    return f"{name}_{kitsu_id.replace('-', '')[:_SUFFIX_HEX].lower()}"


def assign_names(siblings: Iterable[Sibling], taken: Collection[str] = ()) -> dict[str, str]:
    """Map each sibling's Kitsu id to a unique AYON name.

    ``taken`` holds names (any case) that active AYON siblings not managed here already use,
    e.g. folders made by hand; a sibling whose slug hits one is suffixed too.
    """
    occupied = {name.lower() for name in taken}
    groups: dict[str, list[Sibling]] = {}
    for sibling in siblings:
        groups.setdefault(slug(sibling.kitsu_name).lower(), []).append(sibling)
    names: dict[str, str] = {}
    for members in groups.values():
        members.sort(key=lambda s: (s.created, s.kitsu_id))
        for index, member in enumerate(members):
            base = slug(member.kitsu_name)
            keep_bare = index == 0 and base.lower() not in occupied
            names[member.kitsu_id] = base if keep_bare else suffixed(base, member.kitsu_id)
    return names
