"""AYON names and labels from Kitsu names.

The name is the slug of the Kitsu name with ``_`` (as ayon-kitsu writes it, so folders it made
keep their names); the label is the Kitsu name as typed. AYON names are unique ignoring case among
active siblings. When the slug is taken, the entity gets a suffix made from its own Kitsu id, so
the suffix never depends on which other siblings exist: it is the same on every run and worker.
Whoever holds a name keeps it (no churn); for siblings planned together the oldest Kitsu entity
claims the bare slug first (``kitsync.core.plan`` plans them in that order). A suffix lasts only
while the bare name is taken: once its holder lets it go (renamed, moved, deleted), the next plan
of the suffixed entity takes it back, so AYON's names do not depend on the order in which renames
were seen (``better_name_free`` tells which entities that is).

Tasks follow ayon-kitsu's rule instead (their names are in work-file and publish paths): the slug
of the task's own name; a collision among one folder's tasks is told apart readably by the task
type, then a number, never by an id, and a task keeps such a name (``choose_task_name``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Container
from functools import lru_cache

from slugify import slugify

FALLBACK_NAME = "unnamed"
_SUFFIX_HEX = 8


# Slugifying is costly and names repeat: every task of a type has the type's name.
@lru_cache(maxsize=16384)
def slug(kitsu_name: str) -> str:
    """The AYON name for a Kitsu name, before any collision suffix."""
    name = slugify(kitsu_name, separator="_")
    return name if name else FALLBACK_NAME


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


def choose_task_name(
    kitsu_name: str, task_type: str, taken: Container[str], holds: str | None = None
) -> str:
    """A task's name, given the lower-case names its folder's other tasks hold: the name it
    ``holds`` while that is still one of its own, else the first free of the slug
    (``blocking``), the slug and its type's (``blocking_animation``), that with 2, 3...
    (``blocking_animation_2``). A sibling coming or going never renames a task (its path is in
    work files), and tasks planned together claim in age order."""
    base = slug(kitsu_name)
    kind = slug(task_type)
    typed = base if kind == base else f"{base}_{kind}"
    if holds is not None and holds.lower() not in taken:
        numbered_own = re.fullmatch(re.escape(typed) + r"_([2-9]|[1-9][0-9]+)", holds)
        if holds in (base, typed) or numbered_own:
            return holds
    numbered = (f"{typed}_{number}" for number in itertools.count(2))
    return next(n for n in itertools.chain((base, typed), numbered) if n.lower() not in taken)


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
