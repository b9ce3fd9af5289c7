"""The AYON trees the recorded productions must give: path -> (folder type, label, active).

Written out by hand from the Kitsu fixtures' README (builds and mutation steps), so the unit
tests of the planner and the integration tests of the reconcilers check against the same truth.
"""

from __future__ import annotations

FILM_TREE = {
    "assets": ("Folder", "Assets", True),
    "assets/character": ("Folder", "Character", True),
    "assets/character/hero": ("Asset", "Hero", True),
    "assets/character/sidekick": ("Asset", "Sidekick", True),
    "assets/character/villain": ("Asset", "Villain", True),
    "assets/environment": ("Folder", "Environment", True),
    "assets/environment/castle": ("Asset", "Castle", True),
    "assets/environment/forest": ("Asset", "Forest", True),
    "assets/fx": ("Folder", "FX", True),
    "assets/fx/fire": ("Asset", "Fire", True),
    "assets/fx/smoke": ("Asset", "Smoke", True),
    "assets/prop": ("Folder", "Prop", True),
    "assets/prop/chair": ("Asset", "Chair", True),
    "assets/prop/goblet": ("Asset", "Goblet", True),
    "assets/prop/lantern": ("Asset", "Lantern", True),
    "assets/prop/sword": ("Asset", "Sword", True),
    "concepts": ("Folder", "Concepts", True),
    "concepts/hero_sketch": ("Concept", "Hero sketch", True),
    "edits": ("Folder", "Edits", True),
    "edits/trailer": ("Edit", "Trailer", True),
    "sequences": ("Folder", "Sequences", True),
    "sequences/sq010": ("Sequence", "SQ010", True),
    "sequences/sq010/sh0010": ("Shot", "SH0010", True),
    "sequences/sq010/sh0020": ("Shot", "SH0020", True),
    "sequences/sq010/sh0030": ("Shot", "SH0030", True),
    "sequences/sq010/sh0040": ("Shot", "SH0040", True),
    "sequences/sq020": ("Sequence", "SQ020", True),
    "sequences/sq020/sh0050": ("Shot", "SH0050", True),
    "sequences/sq020/sh0060": ("Shot", "SH0060", True),
    "sequences/sq020/sh0070": ("Shot", "SH0070", True),
    "sequences/sq020/sh0080": ("Shot", "SH0080", True),
}

# After M01-M25: Villain renamed, SH0030 renamed, SQ020 renamed, SH0080 moved to SQ010, Goblet
# deleted, Smoke and SH0060 canceled, SH0070 force-deleted, SH0090 created.
FILM_TREE_AFTER = {
    path: value
    for path, value in FILM_TREE.items()
    if not path.startswith(("assets/prop/goblet", "sequences/sq020", "sequences/sq010/sh0030"))
    and path != "assets/character/villain"
} | {
    "assets/character/villainess": ("Asset", "Villainess", True),
    "assets/fx/smoke": ("Asset", "Smoke", False),
    "sequences/sq010/sh0035": ("Shot", "SH0035", True),
    "sequences/sq010/sh0080": ("Shot", "SH0080", True),
    "sequences/sq025": ("Sequence", "SQ025", True),
    "sequences/sq025/sh0050": ("Shot", "SH0050", True),
    "sequences/sq025/sh0060": ("Shot", "SH0060", False),
    "sequences/sq025/sh0090": ("Shot", "SH0090", True),
}
