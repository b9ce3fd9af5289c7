"""AYON names and labels from Kitsu names.

The name is the slug of the Kitsu name with ``_`` (as ayon-kitsu writes it, so folders it made
keep their names); the label is the Kitsu name as typed. AYON names are unique ignoring case among
active siblings. When the slug is taken, the entity gets a suffix made from its own Kitsu id, so
the suffix never depends on which other siblings exist: it is the same on every run and worker.
Whoever holds a name keeps it (no churn); for siblings planned together the oldest Kitsu entity
claims the bare slug first. A suffix lasts only while the bare name is taken: once its holder
lets it go (renamed, moved, deleted), the next plan of the suffixed entity takes it back, so
AYON's names do not depend on the order in which renames were seen (``better_name_free`` tells
which entities that is).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Container, Iterable
from dataclasses import dataclass
from functools import lru_cache

from slugify import slugify

AYON_NAME = re.compile(r"^[a-zA-Z0-9_]([a-zA-Z0-9_.-]*[a-zA-Z0-9_])?$")
FALLBACK_NAME = "unnamed"
_SUFFIX_HEX = 8


# Slugifying is costly and names repeat: every task of a type has the type's name.
@lru_cache(maxsize=16384)
def slug(kitsu_name: str) -> str:
    """The AYON name for a Kitsu name, before any collision suffix."""
    name = slugify(kitsu_name, separator="_")
    return name if name else FALLBACK_NAME


def is_valid_name(name: str) -> bool:
    return AYON_NAME.match(name) is not None


def suffixed(name: str, kitsu_id: str, length: int = _SUFFIX_HEX) -> str:
    return f"{name}_{kitsu_id.replace('-', '')[:length].lower()}"


def choose_name(kitsu_id: str, kitsu_name: str, taken: Container[str]) -> str:
    """The name an entity should have, given the lower-case names its active siblings hold:
    the first free of the slug, the slug with a short suffix of its Kitsu id, with the whole id.

    The first free one, not the one the entity holds: a suffix taken while the holder of the
    bare name was on its way out (two shots swapping names) goes at the next plan. A settled
    collision does not flip, since the holder of the bare name keeps holding it.
    """
    candidates = _candidates(kitsu_id, slug(kitsu_name))
    return next((name for name in candidates if name.lower() not in taken), candidates[-1])


def _candidates(kitsu_id: str, base: str) -> tuple[str, str, str]:
    # The whole id as a last resort: unique even when two ids share their first hex digits.
    return base, suffixed(base, kitsu_id), suffixed(base, kitsu_id, length=32)


def better_name_free(name: str, kitsu_id: str, taken: Collection[str]) -> bool:
    """Whether ``name`` wears a collision suffix of ``kitsu_id`` while a name ``choose_name``
    prefers to it is free (``taken``: the lower-case names of its active siblings), so that a
    plan of its entity would rename it. Read from the name alone: no Kitsu read needed."""
    lowered = name.lower()
    for length in (_SUFFIX_HEX, 32):
        tail = suffixed("", kitsu_id, length)
        if len(lowered) > len(tail) and lowered.endswith(tail):
            preferred = _candidates(kitsu_id, lowered[: -len(tail)])
            return any(c not in taken for c in preferred[: 1 if length == _SUFFIX_HEX else 2])
    return False


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
