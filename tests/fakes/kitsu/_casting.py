"""Casting reads (breakdown) and the three modes of ``/data/projects/<id>/entity-links``.

A cast is an ``entity_link`` from a container (shot, episode, asset) to an asset. Casting
reads hide canceled assets; ``/entity-links`` still lists their links.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from ._clock import show, show_us
from ._errors import bad_request, forbidden, not_found, server_error
from ._store import ASSET, Link, Row, Store

DEFAULT_PAGE_LIMIT = 100


def _asset_sort_key(store: Store, link: Link) -> tuple[str, str]:
    asset = store.entities[link.entity_out_id]
    return store.entity_type_name(asset), asset["name"]


def _visible(store: Store, links: Iterable[Link]) -> list[Link]:
    """Links to non-canceled assets, ordered by asset type name then asset name."""
    kept = [link for link in links if not store.entities[link.entity_out_id]["canceled"]]
    return sorted(kept, key=lambda link: _asset_sort_key(store, link))


def _cast(store: Store, link: Link) -> Row:
    asset = store.entities[link.entity_out_id]
    return {
        "asset_id": asset["id"],
        "asset_name": asset["name"],
        "asset_type_name": store.entity_type_name(asset),
        "ready_for": asset["ready_for"],
        "episode_id": asset["source_id"],
        "preview_file_id": asset["preview_file_id"],
        "nb_occurences": link.nb_occurences,
        "label": link.label,
        "is_shared": asset["is_shared"],
        "project_id": asset["project_id"],
    }


def entity_casting(store: Store, entity_id: str) -> list[Row]:
    """``GET /data/projects/<p>/entities/<id>/casting`` and ``/data/assets/<id>/casting``."""
    return [_cast(store, link) for link in _visible(store, store.links_out(entity_id))]


def _grouped(
    store: Store,
    containers: list[Row],
    item: Callable[[Link, Row], Row],
) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {}
    for container in containers:
        links = _visible(store, store.links_out(container["id"]))
        if links:
            grouped[container["id"]] = [item(link, container) for link in links]
    return grouped


def _named(store: Store, link: Link) -> Row:
    asset = store.entities[link.entity_out_id]
    return {
        "asset_id": asset["id"],
        "name": asset["name"],
        "asset_name": asset["name"],
        "asset_type_name": store.entity_type_name(asset),
    }


def asset_type_casting(store: Store, project_id: str, asset_type_id: str) -> dict[str, list[Row]]:
    """``GET /data/projects/<p>/asset-types/<id>/casting``: keyed by container asset id."""

    def item(link: Link, _container: Row) -> Row:
        asset = store.entities[link.entity_out_id]
        return {
            **_named(store, link),
            "preview_file_id": asset["preview_file_id"],
            "nb_occurences": link.nb_occurences,
            "label": link.label,
        }

    containers = [
        asset
        for asset in store.entities_of(ASSET, project_id)
        if asset["entity_type_id"] == asset_type_id
    ]
    return _grouped(store, containers, item)


def cast_assets(store: Store, shot_id: str) -> list[Row]:
    """``GET /data/shots/<id>/assets``: raw rows of every asset linked from the shot."""
    return [copy.deepcopy(store.entities[link.entity_out_id]) for link in store.links_out(shot_id)]


# -- /data/projects/<id>/entity-links ----------------------------------------------------
def project_links(store: Store, project_id: str) -> list[Link]:
    return [
        link
        for link in store.links.values()
        if store.entities[link.entity_in_id]["project_id"] == project_id
    ]


def _link_row(link: Link, *, precise: bool) -> Row:
    fmt = show_us if precise else show
    return {
        "entity_in_id": link.entity_in_id,
        "entity_out_id": link.entity_out_id,
        "data": link.data,
        "nb_occurences": link.nb_occurences,
        "label": link.label,
        "id": link.id,
        "created_at": fmt(link.created_at),
        "updated_at": fmt(link.updated_at),
        "type": "EntityLink",
    }


def _int_param(params: dict[str, str], key: str, default: int) -> int:
    value = params.get(key)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"{key} must be an integer.") from None


def entity_links(store: Store, project_id: str, params: dict[str, str]) -> Any:
    """The three modes: plain list, ``page`` (offset pages) and ``cursor_created_at``."""
    links = sorted(project_links(store, project_id), key=lambda link: (link.created_at, link.id))
    page = _int_param(params, "page", 0)
    limit = _int_param(params, "limit", DEFAULT_PAGE_LIMIT)
    cursor = params.get("cursor_created_at")
    if cursor is not None:
        try:
            after = datetime.fromisoformat(cursor)
        except ValueError:
            raise server_error() from None  # Zou hands the raw string to Postgres
        newer = [link for link in links if link.created_at > after]
        return {
            "data": [_link_row(link, precise=True) for link in newer[:limit]],
            "total": len(links),
            "limit": limit,
        }
    if page >= 1:
        offset = (page - 1) * limit
        return {
            "data": [_link_row(link, precise=False) for link in links[offset : offset + limit]],
            "total": len(links),
            "nb_pages": math.ceil(len(links) / limit) if limit else 0,
            "limit": limit,
            "offset": offset,
            "page": page,
        }
    return [
        {
            "id": link.id,
            "entity_in_id": link.entity_in_id,
            "entity_out_id": link.entity_out_id,
            "nb_occurences": link.nb_occurences,
            "label": link.label,
            "data": link.data,
            "created_at": show_us(link.created_at),
            "type": "EntityLink",
        }
        for link in sorted(links, key=lambda link: link.created_at)
    ]


def check_container(store: Store, project_id: str, entity_id: str) -> Row:
    """The casting routes' access rule: unknown entity 404, other project's entity 403."""
    entity = store.entities.get(entity_id)
    if entity is None:
        raise not_found()
    if entity["project_id"] != project_id:
        raise forbidden()
    return entity
