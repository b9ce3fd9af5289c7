"""AYON names and labels from Kitsu names.

The name is the slug of the Kitsu name with ``_`` (as ayon-kitsu writes it, so folders it made
keep their names); the label is the Kitsu name as typed. AYON names are unique ignoring case among
active siblings. When the slug is taken, the entity gets a suffix made from its own Kitsu id, so
the suffix never depends on which other siblings exist: it is the same on every run and worker.
Whoever holds a name keeps it (no churn); for siblings planned together the oldest Kitsu entity
claims the bare slug first.
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


def suffixed(name: str, kitsu_id: str, length: int = _SUFFIX_HEX) -> str:
    return f"{name}_{kitsu_id.replace('-', '')[:length].lower()}"


def choose_name(
    kitsu_id: str, kitsu_name: str, taken: Collection[str], current: str | None = None
) -> str:
    """The name an entity should have, given the lower-case names its active siblings hold.

    ``current`` is the entity's present AYON name: kept when it is already one of the two names
    the entity may have and is free, so a settled collision never flips back and forth.
    """
    base = slug(kitsu_name)
    # The whole id as a last resort: unique even when two ids share their first hex digits.
    candidates = (base, suffixed(base, kitsu_id), suffixed(base, kitsu_id, length=32))
    if current in candidates and current.lower() not in taken:
        return current
    return next((name for name in candidates if name.lower() not in taken), candidates[-1])


@dataclass(frozen=True, slots=True)
class Sibling:
    """One Kitsu entity that wants a name under a given AYON parent."""

    kitsu_id: str
    kitsu_name: str
    # Who claims the bare slug first: Kitsu's created_at, then the id.
    created: str = ""


def assign_names(siblings: Iterable[Sibling], taken: Collection[str] = ()) -> dict[str, str]:
    """Unique names for siblings planned together, oldest first; ``taken`` holds names (any
    case) of active siblings that are not among them, e.g. folders made by hand in AYON."""
    occupied = {name.lower() for name in taken}
    names: dict[str, str] = {}
    for sibling in sorted(siblings, key=lambda s: (s.created, s.kitsu_id)):
        name = choose_name(sibling.kitsu_id, sibling.kitsu_name, occupied)
        occupied.add(name.lower())
        names[sibling.kitsu_id] = name
    return names
