"""Pairing's pure rules: names, codes, and which pairings are refused."""

from __future__ import annotations

import pytest

from kitsync.ayon import ProjectSummary
from kitsync.reconcile.pairing import PairingRefused, _target, project_name, unique_code
from kitsync.schemas import KitsuProject

KITSU = KitsuProject(id="k-1", name="My Show: Season 2")


def test_names_and_codes_are_valid_and_unique() -> None:
    assert project_name(KITSU) == "my_show_season_2"
    assert project_name(KitsuProject(id="k", name="!!!")) == "unnamed"
    assert len(project_name(KitsuProject(id="k", name="x" * 200))) == 64
    assert unique_code("My Show", []) == "my_show"
    assert unique_code("My Show", ["MY_SHOW", "my_show_2"]) == "my_show_3"
    long = unique_code("a very long project name", ["a_very_long_proj"])
    assert long == "a_very_long_pr_2" and len(long) <= 16


def _summary(name: str, kitsu: str | None = None, active: bool = True) -> ProjectSummary:
    return ProjectSummary(name=name, code=name, active=active, kitsu_project_id=kitsu)


def test_target_pairs_or_creates() -> None:
    assert _target([], KITSU, None) is None  # create my_show_season_2
    assert _target([_summary("Other")], KITSU, "mine") is None
    existing = _summary("Mine")
    assert _target([existing], KITSU, "mine") == existing  # unpaired: pair it (its own case)
    paired = _summary("show", kitsu="k-1")
    assert _target([paired], KITSU, None) == paired
    assert _target([paired], KITSU, "SHOW") == paired  # already paired there: idempotent


@pytest.mark.parametrize(
    ("projects", "wanted", "words"),
    [
        ([_summary("show", kitsu="k-1")], "elsewhere", "already paired with AYON project show"),
        ([_summary("mine", kitsu="k-2")], "mine", r"paired with another Kitsu project \(k-2\)"),
        ([_summary("mine", active=False)], "mine", "inactive"),
        ([], "no-dashes", "cannot be an AYON project name"),
        ([], "x" * 65, "cannot be an AYON project name"),
    ],
)
def test_target_refusals(projects: list[ProjectSummary], wanted: str, words: str) -> None:
    with pytest.raises(PairingRefused, match=words):
        _target(projects, KITSU, wanted)
