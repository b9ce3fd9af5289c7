"""Deterministic AYON ids derived from Kitsu ids.

Because the id of everything kitsync creates is a pure function of the Kitsu id, a retried create
is a 409 that means "already done", and two workers can never create two copies of one entity.
"""

from __future__ import annotations

import hashlib
import uuid

# Fixed forever: changing it would make kitsync re-create every entity it ever wrote.
NAMESPACE = uuid.UUID("5f1c0d1e-6b7a-4c2e-9a57-6b1d2c3e4f50")
_NAMESPACE_BYTES = NAMESPACE.bytes


def ayon_id(kitsu_id: str) -> str:
    """The 32-hex AYON id of the folder or task kitsync creates for a Kitsu entity."""
    return _uuid5_hex(kitsu_id)


def link_id(container_id: str, asset_id: str, occurrence: int) -> str:
    """The 32-hex id of the breakdown link for one occurrence of an asset cast in a container."""
    return _uuid5_hex(f"link:{container_id}:{asset_id}:{occurrence}")


def _uuid5_hex(name: str) -> str:
    """``uuid.uuid5(NAMESPACE, name).hex``, without building a ``UUID`` (a full reconcile
    derives tens of thousands of ids; the ``UUID`` object was most of their cost)."""
    # SHA-1 is what RFC 4122 defines version 5 on: an id derivation, not a security use.
    sha1 = hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False)
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    return digest.hex()
