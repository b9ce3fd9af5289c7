"""Names: slugs as ayon-kitsu writes them, deterministic collision suffixes."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from kitsync.core.names import (
    Sibling,
    assign_names,
    better_name_free,
    choose_name,
    is_valid_name,
    slug,
)


def test_slug_matches_ayon_kitsu_convention() -> None:
    assert slug("SH0010") == "sh0010"
    assert slug("Hero sketch") == "hero_sketch"
    assert slug("Épisode 1!") == "episode_1"
    assert slug("!!!") == "unnamed"


def test_collision_suffix_is_deterministic_and_oldest_keeps_bare_name() -> None:
    old = Sibling("0a8ff8f8-d355-47f8-a24d-3882adcf978d", "Hero", "2026-01-01T00:00:00")
    new = Sibling("72d417a5-c4eb-4529-a3e5-0df589228e8c", "HERO", "2026-01-02T00:00:00")
    first = assign_names([old, new])
    assert first == {old.kitsu_id: "hero", new.kitsu_id: "hero_72d417a5"}
    assert assign_names([new, old]) == first  # order of arrival does not matter


def test_names_taken_by_unmanaged_folders_are_avoided() -> None:
    hero = Sibling("0a8ff8f8-d355-47f8-a24d-3882adcf978d", "Hero")
    assert assign_names([hero], taken={"HERO"}) == {hero.kitsu_id: "hero_0a8ff8f8"}


def test_a_suffix_is_only_worn_while_the_bare_name_is_taken() -> None:
    hero = "72d417a5-c4eb-4529-a3e5-0df589228e8c"
    assert choose_name(hero, "Hero", taken={"hero"}) == "hero_72d417a5"
    assert choose_name(hero, "Hero", taken={"villain"}) == "hero"  # whatever it holds now
    assert choose_name(hero, "Hero", taken={"hero", "hero_72d417a5"}) == (
        "hero_72d417a5c4eb4529a3e50df589228e8c"
    )
    assert better_name_free("hero_72d417a5", hero, taken={"villain"})
    assert better_name_free("HERO_72D417A5", hero, taken=set())
    assert not better_name_free("hero_72d417a5", hero, taken={"hero"})
    assert not better_name_free("hero", hero, taken=set())
    assert not better_name_free("hero_0a8ff8f8", hero, taken=set())  # not its own suffix
    whole = "hero_72d417a5c4eb4529a3e50df589228e8c"
    assert better_name_free(whole, hero, taken={"hero"})  # the short suffix is free
    assert not better_name_free(whole, hero, taken={"hero", "hero_72d417a5"})


names = st.text(min_size=0, max_size=12)


@given(st.lists(names, min_size=1, max_size=30))
def test_assigned_names_are_valid_and_unique_ignoring_case(kitsu_names: list[str]) -> None:
    siblings = [Sibling(str(uuid.uuid4()), n, f"{i:04d}") for i, n in enumerate(kitsu_names)]
    assigned = assign_names(siblings)
    lowered = [name.lower() for name in assigned.values()]
    assert len(set(lowered)) == len(siblings)
    assert all(is_valid_name(name) for name in assigned.values())
