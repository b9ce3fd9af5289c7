"""The AYON trees the recorded productions must give: path -> (folder type, label, active);
and the AYON users of their persons.

Written out by hand from the Kitsu fixtures' README (builds and mutation steps), so the unit
tests of the planner and the integration tests of the reconcilers check against the same truth.
"""

from __future__ import annotations

# AYON users for the persons of the recorded Kitsu data (kitsync matches them by e-mail), so
# that tasks get their assignees.
USERS = {"alice": "alice.anders@example.com", "bruno": "bruno.baptiste@example.com"}

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


TV_TREE = {
    "assets": ("Folder", "Assets", True),
    "assets/character": ("Folder", "Character", True),
    "assets/character/leo": ("Asset", "Leo", True),
    "assets/character/mia": ("Asset", "Mia", True),
    "assets/environment": ("Folder", "Environment", True),
    "assets/environment/park": ("Asset", "Park", True),
    "assets/environment/school": ("Asset", "School", True),
    "assets/fx": ("Folder", "FX", True),
    "assets/fx/rain": ("Asset", "Rain", True),
    "assets/prop": ("Folder", "Prop", True),
    "assets/prop/ball": ("Asset", "Ball", True),
    "assets/prop/kite": ("Asset", "Kite", True),
    "assets/prop/umbrella": ("Asset", "Umbrella", True),
    "episodes": ("Folder", "Episodes", True),
    "episodes/e01": ("Episode", "E01", True),
    "episodes/e01/e01_animatic": ("Edit", "E01 Animatic", True),  # an edit of the episode
    "episodes/e01/sq010": ("Sequence", "SQ010", True),
    "episodes/e01/sq010/sh010": ("Shot", "SH010", True),
    "episodes/e01/sq010/sh020": ("Shot", "SH020", True),
    "episodes/e01/sq010/sh030": ("Shot", "SH030", True),
    "episodes/e01/sq020": ("Sequence", "SQ020", True),
    "episodes/e01/sq020/sh010": ("Shot", "SH010", True),
    "episodes/e01/sq020/sh020": ("Shot", "SH020", True),
    "episodes/e02": ("Episode", "E02", True),
    "episodes/e02/sq010": ("Sequence", "SQ010", True),
    "episodes/e02/sq010/sh010": ("Shot", "SH010", True),
    "episodes/e02/sq010/sh020": ("Shot", "SH020", True),
    "episodes/e02/sq010/sh030": ("Shot", "SH030", True),
}

# After T01-T15: Leo renamed, E01/SQ010/SH030 renamed, E02/SQ010/SH030 moved to E01/SQ020,
# Umbrella deleted, E01/SQ020/SH020 canceled, E02 renamed E02_pilot, E01/SQ020 renamed SQ025.
TV_TREE_AFTER = {
    "assets": ("Folder", "Assets", True),
    "assets/character": ("Folder", "Character", True),
    "assets/character/leon": ("Asset", "Leon", True),
    "assets/character/mia": ("Asset", "Mia", True),
    "assets/environment": ("Folder", "Environment", True),
    "assets/environment/park": ("Asset", "Park", True),
    "assets/environment/school": ("Asset", "School", True),
    "assets/fx": ("Folder", "FX", True),
    "assets/fx/rain": ("Asset", "Rain", True),
    "assets/prop": ("Folder", "Prop", True),
    "assets/prop/ball": ("Asset", "Ball", True),
    "assets/prop/kite": ("Asset", "Kite", True),
    "episodes": ("Folder", "Episodes", True),
    "episodes/e01": ("Episode", "E01", True),
    "episodes/e01/e01_animatic": ("Edit", "E01 Animatic", True),  # an edit of the episode
    "episodes/e01/sq010": ("Sequence", "SQ010", True),
    "episodes/e01/sq010/sh010": ("Shot", "SH010", True),
    "episodes/e01/sq010/sh020": ("Shot", "SH020", True),
    "episodes/e01/sq010/sh035": ("Shot", "SH035", True),
    "episodes/e01/sq025": ("Sequence", "SQ025", True),
    "episodes/e01/sq025/sh010": ("Shot", "SH010", True),
    "episodes/e01/sq025/sh020": ("Shot", "SH020", False),
    "episodes/e01/sq025/sh030": ("Shot", "SH030", True),
    "episodes/e02_pilot": ("Episode", "E02_pilot", True),
    "episodes/e02_pilot/sq010": ("Sequence", "SQ010", True),
    "episodes/e02_pilot/sq010/sh010": ("Shot", "SH010", True),
    "episodes/e02_pilot/sq010/sh020": ("Shot", "SH020", True),
}
