"""Casting -> breakdown links: what a container's AYON links should be, and the diff to get there.

A container (shot, episode, or an asset holding assets) casts assets, each ``nb_occurences``
times. In AYON that is one ``breakdown|folder|folder`` link per occurrence, from the asset's
folder (input) to the container's folder (output), with kitsync's id ``link_id(container, asset,
k)`` and ``data = {kitsuAssetId, kitsuTargetId, occurence: k}`` (ayon-kitsu's keys and spelling).

The diff is an exact set difference on (asset, occurrence): a link already right is never
touched, whoever wrote it. Links written by ayon-kitsu (random ids, same data keys) count for the
occurrence they name; links without those keys count for their input folder's asset, taking its
lowest free occurrence. Whatever is left over (surplus, duplicates, wrong input) is deleted.
Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from kitsync.core.ids import link_id
from kitsync.schemas.ayon import BREAKDOWN, AyonLink, LinkCreate
from kitsync.schemas.kitsu import KitsuAsset, KitsuCastingEntry, KitsuEntityLink

ASSET_KEY = "kitsuAssetId"
TARGET_KEY = "kitsuTargetId"
OCCURRENCE_KEY = "occurence"  # sic: ayon-kitsu's spelling, kept for compatibility

CastCounts = Mapping[str, int]
"""A container's casting: Kitsu asset id -> number of occurrences."""

_Key = tuple[str, int]  # (Kitsu asset id, occurrence)


@dataclass(frozen=True)
class CastingDiff:
    """Links to create, links to remove (by id, in ``delete``), and the Kitsu ids (containers
    or cast assets) that have no AYON folder yet, so their links could not be planned."""

    create: tuple[LinkCreate, ...] = ()
    removed: tuple[AyonLink, ...] = ()  # whole, to tell what each connects
    missing: tuple[str, ...] = ()

    @property
    def delete(self) -> tuple[str, ...]:
        return tuple(link.id for link in self.removed)

    @property
    def empty(self) -> bool:
        return not self.create and not self.removed


def casting_of(
    entries: Iterable[KitsuCastingEntry], project_id: str | None = None
) -> dict[str, int]:
    """A container's casting from its Kitsu casting read. Entries of one asset add up; assets of
    another project (``project_id`` given) are left out: they have no folder in this project."""
    counts: defaultdict[str, int] = defaultdict(int)
    for entry in entries:
        if project_id is None or entry.project_id in (None, project_id):
            counts[entry.asset_id] += max(entry.nb_occurences, 0)
    return {asset: count for asset, count in counts.items() if count}


def project_castings(
    links: Iterable[KitsuEntityLink],
    assets: Iterable[KitsuAsset],
    containers: Iterable[str] = (),
) -> dict[str, dict[str, int]]:
    """Every container's casting from the project's entity links, as the casting reads show it:
    links to canceled assets and to assets outside ``assets`` are left out. Each of
    ``containers`` is a key (an empty casting when it casts nothing), as is every container of
    a kept link."""
    active = {asset.id for asset in assets if not asset.canceled}
    castings: dict[str, defaultdict[str, int]] = {c: defaultdict(int) for c in containers}
    for link in links:
        casting = castings.setdefault(link.entity_in_id, defaultdict(int))
        if link.entity_out_id in active and link.nb_occurences > 0:
            casting[link.entity_out_id] += link.nb_occurences
    return {container: dict(casting) for container, casting in castings.items()}


def diff_casting(
    container_id: str,
    casting: CastCounts,
    folders: Mapping[str, str],
    existing: Iterable[AyonLink],
) -> CastingDiff:
    """What to create and delete so the links into the container's folder equal its casting.

    ``folders`` maps Kitsu ids (the container and its cast assets) to AYON folder ids.
    ``existing`` holds the breakdown links into the container's folder, and may hold links
    elsewhere that carry one of the ids this container's links get: one whose id is about to
    be created is deleted first; other links elsewhere are ignored.
    """
    return _diff_casting(container_id, casting, folders, existing, _link_ids(container_id, casting))


def _diff_casting(
    container_id: str,
    casting: CastCounts,
    folders: Mapping[str, str],
    existing: Iterable[AyonLink],
    ids: Mapping[_Key, str],
) -> CastingDiff:
    """:func:`diff_casting`, given the container's :func:`_link_ids`."""
    cast = {asset: count for asset, count in casting.items() if count > 0}
    output = folders.get(container_id)
    missing = tuple(sorted(asset for asset in cast if asset not in folders))
    if output is None:
        return CastingDiff(missing=(container_id, *missing) if cast else ())
    inputs = {asset: folders[asset] for asset in cast if asset in folders}
    wanted = {key: link for key, link in ids.items() if key[0] in inputs}
    ours = {link: key for key, link in wanted.items()}
    asset_of_input = {folder: asset for asset, folder in inputs.items()}

    kept: dict[_Key, AyonLink] = {}
    surplus: list[AyonLink] = []
    unkeyed: list[AyonLink] = []
    elsewhere: dict[str, AyonLink] = {}
    # kitsync's own links claim their occurrence first: a duplicate of one is the one to go.
    for link in sorted(existing, key=lambda link: link.id not in ours):
        if link.output_id != output or link.link_type != BREAKDOWN:
            elsewhere[link.id] = link
            continue
        key = ours.get(link.id) or _data_key(link)
        if key is None:
            unkeyed.append(link)
        elif key in wanted and key not in kept and inputs[key[0]] == link.input_id:
            kept[key] = link
        else:
            surplus.append(link)
    for link in unkeyed:
        key = _free_key(asset_of_input.get(link.input_id), cast, kept)
        if key is None:
            surplus.append(link)
        else:
            kept[key] = link

    create = tuple(
        LinkCreate(
            id=wanted[asset, k],
            input=inputs[asset],
            output=output,
            link_type=BREAKDOWN,
            data={ASSET_KEY: asset, TARGET_KEY: container_id, OCCURRENCE_KEY: k},
        )
        for asset, k in sorted(wanted.keys() - kept.keys())
    )
    # A link elsewhere with an id about to be created: it goes first, so the id is free.
    surplus.extend(elsewhere[c.id] for c in create if c.id in elsewhere)
    removed = {link.id: link for link in surplus}
    return CastingDiff(
        create=create, removed=tuple(removed[i] for i in sorted(removed)), missing=missing
    )


def diff_project_casting(
    castings: Mapping[str, CastCounts],
    folders: Mapping[str, str],
    existing: Iterable[AyonLink],
    cleared: Collection[str] = (),
) -> CastingDiff:
    """:func:`diff_casting` for every container of ``castings`` at once, from all the project's
    breakdown links. The breakdown links into the ``cleared`` folders (ids) go too; links into
    any other folder are left alone."""
    by_output = {folders[c]: c for c in castings if c in folders}
    # Each id is derived once: a project has tens of thousands.
    ids = {c: _link_ids(c, casting) for c, casting in castings.items() if c in folders}
    owner = {link: container for container, keys in ids.items() for link in keys.values()}
    groups: defaultdict[str, list[AyonLink]] = defaultdict(list)
    clear: list[AyonLink] = []
    for link in existing:
        container = owner.get(link.id)
        if container is None and link.link_type == BREAKDOWN:
            container = by_output.get(link.output_id)
        if container is not None:
            groups[container].append(link)
        elif link.link_type == BREAKDOWN and link.output_id in cleared:
            clear.append(link)
    diffs = (
        _diff_casting(
            container, castings[container], folders, groups[container], ids.get(container, {})
        )
        for container in sorted(castings)
    )
    return combine([*diffs, CastingDiff(removed=tuple(clear))])


def combine(diffs: Iterable[CastingDiff]) -> CastingDiff:
    create: list[LinkCreate] = []
    removed: dict[str, AyonLink] = {}
    missing: set[str] = set()
    for diff in diffs:
        create.extend(diff.create)
        for link in diff.removed:
            removed.setdefault(link.id, link)
        missing.update(diff.missing)
    return CastingDiff(tuple(create), tuple(removed.values()), tuple(sorted(missing)))


def _link_ids(container_id: str, casting: CastCounts) -> dict[_Key, str]:
    """kitsync's link id of each (asset, occurrence) the container casts."""
    return {
        (asset, k): link_id(container_id, asset, k)
        for asset, count in casting.items()
        for k in range(1, count + 1)
    }


def _data_key(link: AyonLink) -> _Key | None:
    asset = link.data.get(ASSET_KEY)
    occurrence = link.data.get(OCCURRENCE_KEY)
    if isinstance(asset, str) and type(occurrence) is int and occurrence >= 1:
        return asset, occurrence
    return None


def _free_key(asset: str | None, casting: CastCounts, kept: Collection[_Key]) -> _Key | None:
    """The asset's lowest occurrence no link holds yet, if any."""
    if asset is None:
        return None
    return next(((asset, k) for k in range(1, casting[asset] + 1) if (asset, k) not in kept), None)
