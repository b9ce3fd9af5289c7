"""Deterministic AYON ids derived from Kitsu ids.

Because the id of everything kitsync creates is a pure function of the Kitsu id, a retried create
is a 409 that means "already done", and two workers can never create two copies of one entity.
"""

from __future__ import annotations

import uuid

# Fixed forever: changing it would make kitsync re-create every entity it ever wrote.
NAMESPACE = uuid.UUID("5f1c0d1e-6b7a-4c2e-9a57-6b1d2c3e4f50")


def ayon_id(kitsu_id: str) -> str:
    """The 32-hex AYON id of the folder or task kitsync creates for a Kitsu entity."""
    return uuid.uuid5(NAMESPACE, kitsu_id).hex


def link_id(container_id: str, asset_id: str, occurrence: int) -> str:
    """The 32-hex id of the breakdown link for one occurrence of an asset cast in a container."""
    return uuid.uuid5(NAMESPACE, f"link:{container_id}:{asset_id}:{occurrence}").hex
