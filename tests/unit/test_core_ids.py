"""The ids kitsync derives from Kitsu ids: fixed forever (a changed id re-creates every entity)."""

from __future__ import annotations

import uuid

import pytest

from kitsync.core.ids import NAMESPACE, ayon_id, link_id

SHOT = "6018366c-f658-47a7-9ed3-4fe53a096533"
ASSET = "0b9e2b44-2c3b-4bb8-8a4e-1f0c2f7d9d10"


def test_ids_are_the_ones_kitsync_always_wrote() -> None:
    assert ayon_id(SHOT) == "d638a419a1ab5a6f9690c386680eff1b"
    assert ayon_id("asset") == "c74961b4c02b5059844aab5d58dca2bb"  # a root folder's key
    assert link_id(SHOT, ASSET, 2) == "7bbe4552ed9e5c83b03df8b7505f3c1d"


@pytest.mark.parametrize(
    "name", ["", "asset", SHOT, SHOT.upper(), "Épisode 1 / séq. 10", "角色", "x" * 1000]
)
def test_ids_are_uuid5_of_the_namespace(name: str) -> None:
    assert ayon_id(name) == uuid.uuid5(NAMESPACE, name).hex
    assert link_id(name, ASSET, 7) == uuid.uuid5(NAMESPACE, f"link:{name}:{ASSET}:7").hex
