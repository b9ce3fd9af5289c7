"""What a Kitsu task type or status asks of an AYON anatomy list."""

from __future__ import annotations

from kitsync.core.anatomy import item_to_write, status_item, task_type_item
from kitsync.schemas import AnatomyItem, KitsuTaskStatus, KitsuTaskType

LAYOUT = KitsuTaskType(id="t", name="Layout", short_name="LAY", color="#aa0000")
WIP = KitsuTaskStatus(id="s", name="WIP", short_name="wip", color="#00aa00", is_wip=True)


def test_a_name_the_list_lacks_is_added_whole() -> None:
    wanted = task_type_item(LAYOUT)
    assert item_to_write([AnatomyItem(name="Modeling")], wanted) is wanted
    assert status_item(WIP).model_dump(by_alias=True) == {
        "name": "WIP",
        "shortName": "wip",
        "state": "in_progress",
        "scope": ["task"],
        "color": "#00aa00",
    }


def test_a_recoloured_item_gets_its_colour_under_ayons_spelling_of_the_name() -> None:
    have = [AnatomyItem(name="layout", shortName="LAY", color="#000000", icon="x")]
    update = item_to_write(have, task_type_item(LAYOUT))
    assert update is not None
    assert update.model_dump(by_alias=True) == {"name": "layout", "color": "#aa0000"}


def test_an_item_in_step_asks_for_nothing_whatever_its_state_or_scope() -> None:
    have = [AnatomyItem(name="WIP", shortName="wip", color="#00aa00", state="done", scope=[])]
    assert item_to_write(have, status_item(WIP)) is None
