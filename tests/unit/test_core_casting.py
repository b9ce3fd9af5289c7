"""The pure casting diff: Kitsu casting -> breakdown links, exact and without churn."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kitsync.core.casting import (
    CastingDiff,
    casting_of,
    combine,
    diff_casting,
    diff_project_casting,
    project_castings,
)
from kitsync.core.ids import ayon_id, link_id
from kitsync.schemas.ayon import BREAKDOWN, AyonLink
from kitsync.schemas.kitsu import KitsuAsset, KitsuCastingEntry, KitsuEntityLink, parse_record

SHOT = "k-shot"
ASSETS = ("k-hero", "k-sword", "k-tree", "k-lamp")
HERO, SWORD, TREE, LAMP = ASSETS
FOLDERS = {SHOT: ayon_id(SHOT), **{asset: ayon_id(asset) for asset in ASSETS}}
ELSEWHERE = ayon_id("k-other-shot")  # a folder no asset or container of the test owns
TEMPLATE = "template|folder|folder"


def random_id() -> str:
    return uuid.uuid1().hex  # what AYON gives a link created without id (ayon-kitsu's links)


def link(
    input: str,
    *,
    id: str | None = None,
    output: str = FOLDERS[SHOT],
    data: dict[str, Any] | None = None,
    link_type: str = BREAKDOWN,
) -> AyonLink:
    return AyonLink(
        id=id or random_id(),
        link_type=link_type,
        input_id=input,
        output_id=output,
        data=data or {},
    )


def ours(asset: str, k: int, container: str = SHOT) -> AyonLink:
    """A link exactly as kitsync writes it."""
    return link(
        FOLDERS[asset],
        id=link_id(container, asset, k),
        output=FOLDERS[container],
        data={"kitsuAssetId": asset, "kitsuTargetId": container, "occurence": k},
    )


def ayon_kitsu(asset: str, k: int) -> AyonLink:
    """A link as ayon-kitsu left it: a random id, the same data keys."""
    return link(FOLDERS[asset], data={"kitsuAssetId": asset, "kitsuTargetId": SHOT, "occurence": k})


def applied(existing: list[AyonLink], diff: CastingDiff) -> list[AyonLink]:
    """AYON's links after applying the diff: deletes by id, then creates (ids must be free)."""
    state = {existing_link.id: existing_link for existing_link in existing}
    for link_id_ in diff.delete:
        assert link_id_ in state, "deleted a link that is not there"
        del state[link_id_]
    for create in diff.create:
        assert create.id is not None and create.id not in state, "created an id that is taken"
        state[create.id] = AyonLink(
            id=create.id,
            link_type=create.link_type,
            input_id=create.input,
            output_id=create.output,
            data=create.data or {},
        )
    return list(state.values())


# ----------------------------------------------------------------------------- casting input


def entry(asset: str, count: int, **extra: Any) -> KitsuCastingEntry:
    return KitsuCastingEntry.model_validate({"asset_id": asset, "nb_occurences": count, **extra})


def test_casting_of_adds_up_an_asset_and_ignores_labels_and_other_projects() -> None:
    entries = [
        entry(HERO, 2, label="animate", project_id="p1"),
        entry(HERO, 1, label="fixed"),
        entry(SWORD, 0),
        entry(TREE, 1, project_id="p2"),  # a shared asset of another project: no folder here
    ]
    assert casting_of(entries, "p1") == {HERO: 3}
    assert casting_of(entries) == {HERO: 3, TREE: 1}


def test_project_castings_drop_canceled_assets_and_keep_every_container() -> None:
    assets = [
        parse_record(KitsuAsset, {"id": a, "name": a, "entity_type_id": "t", "canceled": a == LAMP})
        for a in ASSETS
    ]
    links = [
        KitsuEntityLink(id="l1", entity_in_id=SHOT, entity_out_id=HERO, nb_occurences=2),
        KitsuEntityLink(id="l2", entity_in_id=SHOT, entity_out_id=LAMP, nb_occurences=1),
        KitsuEntityLink(id="l3", entity_in_id=TREE, entity_out_id=SWORD, nb_occurences=1),
        KitsuEntityLink(id="l4", entity_in_id=SHOT, entity_out_id="k-elsewhere"),
    ]
    assert project_castings(links, assets, [SHOT, "k-empty"]) == {
        SHOT: {HERO: 2},
        "k-empty": {},
        TREE: {SWORD: 1},
    }


# ----------------------------------------------------------------------------- one container


def test_desired_links_one_per_occurrence_with_kitsyncs_ids_and_ayon_kitsus_data() -> None:
    diff = diff_casting(SHOT, {HERO: 2, SWORD: 1}, FOLDERS, [])

    assert diff.delete == () and diff.missing == ()
    assert [c.id for c in diff.create] == [
        link_id(SHOT, HERO, 1),
        link_id(SHOT, HERO, 2),
        link_id(SHOT, SWORD, 1),
    ]
    first = diff.create[0]
    assert (first.input, first.output, first.link_type) == (FOLDERS[HERO], FOLDERS[SHOT], BREAKDOWN)
    assert first.data == {"kitsuAssetId": HERO, "kitsuTargetId": SHOT, "occurence": 1}
    assert diff_casting(SHOT, {HERO: 2, SWORD: 1}, FOLDERS, applied([], diff)).empty


def test_in_step_is_an_empty_diff() -> None:
    existing = [ours(HERO, 1), ours(HERO, 2), ours(SWORD, 1)]
    diff = diff_casting(SHOT, {HERO: 2, SWORD: 1}, FOLDERS, existing)
    assert diff == CastingDiff()
    assert diff.empty


def test_occurrence_count_up_then_down_touches_only_the_difference() -> None:
    existing = [ours(HERO, 1)]
    up = diff_casting(SHOT, {HERO: 3}, FOLDERS, existing)
    assert up.delete == ()
    assert [c.id for c in up.create] == [link_id(SHOT, HERO, 2), link_id(SHOT, HERO, 3)]

    down = diff_casting(SHOT, {HERO: 1}, FOLDERS, applied(existing, up))
    assert down.create == ()
    assert set(down.delete) == {link_id(SHOT, HERO, 2), link_id(SHOT, HERO, 3)}


def test_uncast_asset_loses_its_links_and_a_new_one_gains_them() -> None:
    existing = [ours(HERO, 1), ours(SWORD, 1), ours(SWORD, 2)]
    diff = diff_casting(SHOT, {HERO: 1, TREE: 1}, FOLDERS, existing)
    assert set(diff.delete) == {link_id(SHOT, SWORD, 1), link_id(SHOT, SWORD, 2)}
    assert [c.id for c in diff.create] == [link_id(SHOT, TREE, 1)]


def test_ayon_kitsu_links_are_adopted_and_only_the_surplus_goes() -> None:
    hero_1, hero_2, hero_3, sword_1 = (
        ayon_kitsu(HERO, 1),
        ayon_kitsu(HERO, 2),
        ayon_kitsu(HERO, 3),
        ayon_kitsu(SWORD, 1),
    )
    diff = diff_casting(
        SHOT, {HERO: 2, SWORD: 1, TREE: 1}, FOLDERS, [hero_1, hero_2, hero_3, sword_1]
    )

    assert diff.delete == (hero_3.id,)  # the surplus only: no churn of links already right
    assert [c.id for c in diff.create] == [link_id(SHOT, TREE, 1)]


def test_links_without_data_are_matched_by_their_input_folder() -> None:
    bare_hero_a, bare_hero_b = link(FOLDERS[HERO]), link(FOLDERS[HERO], data={"note": "x"})
    bare_stranger = link(ELSEWHERE)  # from a folder no cast asset owns
    keyed = ayon_kitsu(HERO, 1)
    existing = [bare_hero_a, bare_stranger, keyed, bare_hero_b]

    diff = diff_casting(SHOT, {HERO: 3}, FOLDERS, existing)

    # The keyed link holds occurrence 1; the bare ones take 2 and 3, whatever their order.
    assert diff.delete == (bare_stranger.id,)
    assert diff.create == ()
    fewer = diff_casting(SHOT, {HERO: 2}, FOLDERS, existing)
    assert set(fewer.delete) == {bare_stranger.id, bare_hero_b.id}  # the younger bare one


def test_duplicates_keep_one_preferring_kitsyncs_id_then_the_oldest() -> None:
    older, younger = ayon_kitsu(HERO, 1), ayon_kitsu(HERO, 1)
    assert diff_casting(SHOT, {HERO: 1}, FOLDERS, [older, younger]).delete == (younger.id,)

    mine = ours(HERO, 1)
    diff = diff_casting(SHOT, {HERO: 1}, FOLDERS, [older, mine, younger])
    assert set(diff.delete) == {older.id, younger.id} and diff.create == ()


def test_a_link_from_the_wrong_folder_is_replaced() -> None:
    wrong = link(FOLDERS[SWORD], id=link_id(SHOT, HERO, 1), data=ours(HERO, 1).data)
    diff = diff_casting(SHOT, {HERO: 1}, FOLDERS, [wrong])
    assert diff.delete == (wrong.id,)
    assert [c.id for c in diff.create] == [wrong.id]  # same id: deletes are applied first
    assert diff_casting(SHOT, {HERO: 1}, FOLDERS, applied([wrong], diff)).empty


def test_a_link_elsewhere_holding_one_of_our_ids_is_removed_and_others_are_ignored() -> None:
    holder = link(FOLDERS[HERO], id=link_id(SHOT, HERO, 1), output=ELSEWHERE)
    unrelated = link(FOLDERS[HERO], output=ELSEWHERE)
    template = link(FOLDERS[TREE], link_type=TEMPLATE)  # another link type into the shot

    diff = diff_casting(SHOT, {HERO: 1}, FOLDERS, [holder, unrelated, template])

    assert diff.delete == (holder.id,)
    assert [c.id for c in diff.create] == [holder.id]


def test_missing_folders_are_reported_not_linked() -> None:
    folders = {k: v for k, v in FOLDERS.items() if k != SWORD}
    diff = diff_casting(SHOT, {HERO: 1, SWORD: 2}, folders, [ayon_kitsu(SWORD, 1)])
    assert diff.missing == (SWORD,)
    assert [c.id for c in diff.create] == [link_id(SHOT, HERO, 1)]
    assert len(diff.delete) == 1  # its input is not the asset's folder, whatever it is

    no_container = {k: v for k, v in FOLDERS.items() if k != SHOT}
    assert diff_casting(SHOT, {HERO: 1}, no_container, []) == CastingDiff(missing=(SHOT,))
    assert diff_casting(SHOT, {}, no_container, []) == CastingDiff()


def test_a_gone_container_loses_every_breakdown_link() -> None:
    existing = [ours(HERO, 1), ayon_kitsu(SWORD, 1), link(FOLDERS[TREE])]
    diff = diff_casting(SHOT, {}, FOLDERS, existing)
    assert set(diff.delete) == {existing_link.id for existing_link in existing}


# ----------------------------------------------------------------------------- whole project


def test_project_diff_is_the_per_container_diffs_together() -> None:
    other = "k-shot-2"
    folders = {**FOLDERS, other: ayon_id(other), "k-uncast": ayon_id("k-uncast")}
    castings = {SHOT: {HERO: 2}, other: {SWORD: 1, HERO: 1}, "k-uncast": {}}
    into_other = link(FOLDERS[TREE], output=folders[other])
    into_uncast = link(FOLDERS[TREE], output=folders["k-uncast"])
    not_a_container = link(FOLDERS[TREE], output=ELSEWHERE)
    dangling_holder = link(FOLDERS[HERO], id=link_id(other, HERO, 1), output=ayon_id("gone"))
    existing = [ours(HERO, 1), into_other, into_uncast, not_a_container, dangling_holder]

    diff = diff_project_casting(castings, folders, existing)

    assert set(diff.delete) == {into_other.id, into_uncast.id, dangling_holder.id}
    assert sorted(c.id or "" for c in diff.create) == sorted(
        [link_id(SHOT, HERO, 2), link_id(other, SWORD, 1), link_id(other, HERO, 1)]
    )
    # The same as each container's diff from the links into its folder (and, for the
    # container whose id it holds, the dangling link).
    groups = {c: [x for x in existing if x.output_id == folders[c]] for c in castings}
    groups[other].append(dangling_holder)
    per_container = combine(diff_casting(c, castings[c], folders, groups[c]) for c in castings)
    assert set(per_container.delete) == set(diff.delete)
    assert sorted(c.id or "" for c in per_container.create) == sorted(
        c.id or "" for c in diff.create
    )
    assert diff_project_casting(castings, folders, applied(existing, diff)).empty

    # Outputs the caller clears (gone folders, containers Kitsu no longer has) lose their links.
    cleared = diff_project_casting(castings, folders, existing, cleared=[ELSEWHERE])
    assert set(cleared.delete) == {*diff.delete, not_a_container.id}


# ----------------------------------------------------------------------------- properties

_INPUTS = (*(FOLDERS[a] for a in ASSETS), ELSEWHERE)
_OUTPUTS = (FOLDERS[SHOT], FOLDERS[SHOT], FOLDERS[SHOT], ELSEWHERE)


@st.composite
def existing_links(draw: st.DrawFn) -> AyonLink:
    asset = draw(st.sampled_from(ASSETS))
    k = draw(st.integers(1, 5))
    link_id_ = draw(st.sampled_from([link_id(SHOT, asset, k), None]))
    datas: list[dict[str, Any]] = [
        {},
        {"kitsuAssetId": asset, "kitsuTargetId": SHOT, "occurence": k},
        {"kitsuAssetId": asset, "occurence": str(k)},  # not a usable key
    ]
    data = draw(st.sampled_from(datas))
    return link(
        draw(st.sampled_from(_INPUTS)),
        id=link_id_ or uuid.UUID(int=draw(st.integers(1, 2**64))).hex,
        output=draw(st.sampled_from(_OUTPUTS)),
        data=data,
        link_type=draw(st.sampled_from([BREAKDOWN, BREAKDOWN, BREAKDOWN, TEMPLATE])),
    )


castings = st.dictionaries(st.sampled_from(ASSETS), st.integers(0, 4))
folder_maps = st.sets(st.sampled_from(ASSETS)).map(
    lambda without: {k: v for k, v in FOLDERS.items() if k not in without}
)


def _into_shot(links: list[AyonLink]) -> list[AyonLink]:
    return [x for x in links if x.output_id == FOLDERS[SHOT] and x.link_type == BREAKDOWN]


@settings(max_examples=400, deadline=None)
@given(
    casting=castings,
    folders=folder_maps,
    existing=st.lists(existing_links(), max_size=12, unique_by=lambda x: x.id),
)
def test_applying_the_diff_gives_exactly_the_casting_minimally_and_idempotently(
    casting: dict[str, int], folders: dict[str, str], existing: list[AyonLink]
) -> None:
    diff = diff_casting(SHOT, casting, folders, existing)
    after = applied(existing, diff)

    # Exactly the casting: per cast asset with a folder, one link per occurrence from it.
    linked = Counter(x.input_id for x in _into_shot(after))
    expected = Counter({folders[a]: n for a, n in casting.items() if n and a in folders})
    assert linked == expected
    assert diff.missing == tuple(sorted(a for a, n in casting.items() if n and a not in folders))
    # Applying it again, or diffing again, changes nothing.
    assert diff_casting(SHOT, casting, folders, after) == CastingDiff(missing=diff.missing)

    # Minimal: nothing outside the shot is touched unless it holds an id we create, and no
    # link that already stood for a wanted occurrence is deleted while that one is created.
    created_ids = {c.id for c in diff.create}
    created = {((c.data or {})["kitsuAssetId"], (c.data or {})["occurence"]) for c in diff.create}
    ours = {link_id(SHOT, a, k): (a, k) for a, n in casting.items() for k in range(1, n + 1)}
    asset_of = {folder: asset for asset, folder in folders.items() if casting.get(asset)}
    by_id = {x.id: x for x in existing}
    for deleted in (by_id[i] for i in diff.delete):
        if deleted not in _into_shot(existing) or deleted.id in created_ids:
            assert deleted.id in created_ids
            continue
        key = ours.get(deleted.id) or _data_key(deleted)
        if key is None:  # matched by input: deleted only when its asset needs no more links
            assert asset_of.get(deleted.input_id) not in {a for a, _ in created}
        elif folders.get(key[0]) == deleted.input_id:
            assert key not in created


def _data_key(x: AyonLink) -> tuple[str, int] | None:
    asset, k = x.data.get("kitsuAssetId"), x.data.get("occurence")
    return (asset, k) if isinstance(asset, str) and type(k) is int else None
