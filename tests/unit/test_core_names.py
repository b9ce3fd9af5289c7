"""Names: slugs as ayon-kitsu writes them, deterministic collision suffixes."""

from __future__ import annotations

from kitsync.core.names import better_name_free, choose_name, slug


def test_slug_matches_ayon_kitsu_convention() -> None:
    assert slug("SH0010") == "sh0010"
    assert slug("Hero sketch") == "hero_sketch"
    assert slug("Épisode 1!") == "episode_1"
    assert slug("!!!") == "unnamed"


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
