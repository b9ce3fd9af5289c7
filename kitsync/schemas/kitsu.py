"""What Zou (Kitsu's server) returns, checked against the Zou 1.0.97 recordings: records (what
Zou stores under an id) as slotted pydantic dataclasses, events and casting entries as models.

Each accepts every route shape recorded in ``tests/fixtures/kitsu``: unknown keys are
ignored and keys that some route omits are optional. Zou's type quirks are normalised here, once:

- ``"None"`` or ``""`` where an id should be null (``GET /data/assets/<id>``, the
  ``with-tasks`` lists) become ``None``;
- ``data: null`` becomes ``{}``;
- fps may be a JSON number or a string (``"24"``, ``"23.976"``) and frame numbers may be sent as
  strings: they are parsed leniently into ``float`` / ``int``, and a value that does not parse
  becomes ``None`` (the raw value stays in ``data``);
- some routes rename a column (``asset_type_id`` for ``entity_type_id``, ``episode_id`` for
  ``source_id`` / ``parent_id``): both spellings fill the same field.

Ids stay strings (Zou's dashed UUIDs). Timestamps are naive UTC datetimes, second precision
(the plain ``entity-links`` list alone carries microseconds).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar, get_args

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    model_validator,
)
from pydantic.dataclasses import dataclass

from kitsync.schemas.kinds import EntityKind

KitsuKind = Literal[
    EntityKind, "project", "asset_type", "task", "task_type", "task_status", "person"
]
"""What ``KitsuClient.get_entity`` reads by id."""

ForwardedEventName = Literal[
    "asset:new",
    "asset:update",
    "asset:delete",
    "episode:new",
    "episode:update",
    "episode:delete",
    "sequence:new",
    "sequence:update",
    "sequence:delete",
    "shot:new",
    "shot:update",
    "shot:delete",
    "edit:new",
    "edit:update",
    "edit:delete",
    "concept:new",
    "concept:update",
    "concept:delete",
    "task:new",
    "task:update",
    "task:delete",
    "task:assign",
    "task:unassign",
    "task:status-changed",
    "asset:casting-update",
    "episode:casting-update",
    "sequence:casting-update",
    "shot:casting-update",
    "edit:casting-update",
    "entity-link:new",
    "entity-link:update",
    "entity-link:delete",
    "asset-type:new",
    "asset-type:update",
    "asset-type:delete",
    "task-type:new",
    "task-type:update",
    "task-type:delete",
    "task-status:new",
    "task-status:update",
    "task-status:delete",
    "person:new",
    "person:update",
    "person:delete",
    "project:new",
    "project:update",
    "project:delete",
]
"""The events the Zou plugin forwards; what kitsync does with each, or why it ignores it, is the
table "Events" of docs/DESIGN.md (``kitsync.core.routing`` implements it)."""
FORWARDED_EVENT_NAMES: frozenset[str] = frozenset(get_args(ForwardedEventName))

_RESOLUTION = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def _null_id(value: object) -> object:
    # Zou serialises some missing ids as the strings "None" or "".
    return None if value in ("", "None") else value


def _empty_if_none(value: object) -> object:
    return {} if value is None else value


def _text_or_empty(value: object) -> object:
    return "" if value is None else value


def _lenient_float(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _lenient_int(value: object) -> int | None:
    number = _lenient_float(value)
    if number is None or not number.is_integer():
        return None
    return int(number)


NullableId = Annotated[str | None, BeforeValidator(_null_id)]
JsonDict = Annotated[dict[str, JsonValue], BeforeValidator(_empty_if_none)]
Fps = Annotated[float | None, BeforeValidator(_lenient_float)]
Frame = Annotated[int | None, BeforeValidator(_lenient_int)]
Text = Annotated[str, BeforeValidator(_text_or_empty)]
IdList = tuple[str, ...]


class _KitsuModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# Records are slotted dataclasses, not models: a whole project is read at once and a long
# series holds tens of thousands of tasks; a task takes about 0.45 KB this way against 2.2 KB as
# a model (its ``__dict__`` and fields-set set; bench/RESULTS.md, worker memory). Keyword-only,
# so a subclass's required fields may follow its base's defaults.
_RECORD = ConfigDict(extra="ignore")


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuRecord:
    """Base of every record Zou stores under an id (parse one with :func:`parse_record`)."""

    id: str


class KitsuEvent(_KitsuModel):
    """One item of ``/data/events/last``. ``project_id`` is null for ``project:new``,
    ``project:delete`` and the ``project:update`` of ``PUT /data/projects/<id>``: those carry
    the project only in ``data.project_id``."""

    id: str
    name: str
    created_at: datetime
    project_id: str | None = None
    user_id: str | None = None
    data: JsonDict = Field(default_factory=dict)

    @property
    def forwarded(self) -> bool:
        """Whether the Zou plugin forwards events of this name (whether kitsync acts on one
        is for ``kitsync.core.routing``: some forwarded events dirty no key)."""
        return self.name in FORWARDED_EVENT_NAMES


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuProject(KitsuRecord):
    """``fps`` arrives as a string (``"24"``) and is parsed to a float; ``resolution`` is
    ``"WxH"`` (see ``resolution_size``). The id lists are only on ``GET /data/projects/<id>``
    (``None`` elsewhere, meaning "not returned", not "empty")."""

    name: str
    code: str | None = None
    description: str | None = None
    fps: Fps = None
    ratio: str | None = None
    resolution: str | None = None
    production_type: str | None = None
    production_style: str | None = None
    project_status_id: str | None = None
    project_status_name: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    data: JsonDict = Field(default_factory=dict)
    team: IdList | None = None
    asset_types: IdList | None = None
    task_types: IdList | None = None
    task_statuses: IdList | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def resolution_size(self) -> tuple[int, int] | None:
        match = _RESOLUTION.match(self.resolution or "")
        return (int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuAssetType(KitsuRecord):
    name: str
    short_name: str | None = None
    description: str | None = None
    archived: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuTaskType(KitsuRecord):
    name: str
    short_name: Text = ""
    color: str | None = None
    for_entity: str | None = None
    priority: int | None = None
    archived: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuTaskStatus(KitsuRecord):
    name: str
    short_name: Text = ""
    color: str | None = None
    priority: int | None = None
    is_done: bool = False
    is_wip: bool = False
    is_retake: bool = False
    is_feedback_request: bool = False
    is_default: bool = False
    archived: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuPerson(KitsuRecord):
    """``email`` (and ``archived``) are missing from the minimal shape Zou gives to
    user-role accounts."""

    first_name: Text = ""
    last_name: Text = ""
    full_name: str | None = None
    email: str | None = None
    desktop_login: str | None = None
    role: str | None = None
    active: bool = True
    archived: bool = False
    is_bot: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class _KitsuEntity(KitsuRecord):
    """Columns shared by Zou's ``entity`` table rows (asset, episode, sequence, shot, edit,
    concept). ``project_id`` is missing only from the ``with-tasks`` lists."""

    kind: ClassVar[EntityKind]

    name: str
    description: str | None = None
    project_id: str | None = None
    canceled: bool = False
    data: JsonDict = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuAsset(_KitsuEntity):
    """``entity_type_id`` is the asset type (``asset_type_id`` on by-id and with-tasks
    routes); ``source_id`` is the asset's episode in a tvshow (``episode_id`` there)."""

    kind: ClassVar[EntityKind] = "asset"

    entity_type_id: str = Field(validation_alias=AliasChoices("entity_type_id", "asset_type_id"))
    asset_type_name: str | None = None
    source_id: NullableId = Field(
        default=None, validation_alias=AliasChoices("source_id", "episode_id")
    )

    @property
    def asset_type_id(self) -> str:
        return self.entity_type_id

    @property
    def episode_id(self) -> str | None:
        return self.source_id


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuEpisode(_KitsuEntity):
    kind: ClassVar[EntityKind] = "episode"


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuSequence(_KitsuEntity):
    """``parent_id`` is the episode in a tvshow (``episode_id`` on ``with-tasks``)."""

    kind: ClassVar[EntityKind] = "sequence"

    parent_id: NullableId = Field(
        default=None, validation_alias=AliasChoices("parent_id", "episode_id")
    )

    @property
    def episode_id(self) -> str | None:
        return self.parent_id


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuShot(_KitsuEntity):
    """``parent_id`` is the sequence. ``fps`` / ``frame_in`` / ``frame_out`` are read from
    ``data``, where every route keeps them, and parsed (``GET /data/shots/<id>`` also flattens
    them). The ``sequence_*`` / ``episode_*`` names that route adds are not modelled: Zou serves
    them from a cache that renaming the sequence or episode does not clear. ``nb_frames`` is a
    separate column Zou never recomputes."""

    kind: ClassVar[EntityKind] = "shot"

    parent_id: NullableId = Field(
        default=None, validation_alias=AliasChoices("parent_id", "sequence_id")
    )
    source_id: NullableId = None
    nb_frames: Frame = None
    fps: Fps = None
    frame_in: Frame = None
    frame_out: Frame = None

    @model_validator(mode="before")
    @classmethod
    def _frame_range_from_data(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
            return raw
        data = raw["data"]
        return raw | {key: data[key] for key in ("fps", "frame_in", "frame_out") if key in data}

    @property
    def sequence_id(self) -> str | None:
        return self.parent_id


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuEdit(_KitsuEntity):
    """``parent_id`` is the episode the edit belongs to, if any."""

    kind: ClassVar[EntityKind] = "edit"

    parent_id: NullableId = Field(
        default=None, validation_alias=AliasChoices("parent_id", "episode_id")
    )


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuConcept(_KitsuEntity):
    kind: ClassVar[EntityKind] = "concept"


@dataclass(frozen=True, slots=True, kw_only=True, config=_RECORD)
class KitsuTask(KitsuRecord):
    """``assignees`` is ``None`` when the route does not return it: ``GET /data/tasks``
    (filtered) and ``/data/{shots,assets}/<id>/tasks`` omit it, so ``None`` never means
    "nobody is assigned". ``project_id`` and ``name`` are missing from tasks nested in the
    ``with-tasks`` lists."""

    task_type_id: str
    task_status_id: str
    entity_id: str
    project_id: str | None = None
    name: str | None = None
    assignees: IdList | None = None
    data: JsonDict = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class KitsuCastingEntry(_KitsuModel):
    """One cast asset of a container (shot, episode or asset). ``nb_occurences`` keeps
    Zou's spelling. Canceled assets are absent from casting reads."""

    asset_id: str
    nb_occurences: int = 1
    label: Text = ""
    asset_name: str | None = None
    asset_type_name: str | None = None
    episode_id: NullableId = None
    project_id: str | None = None
    is_shared: bool = False


@dataclass(frozen=True, slots=True, config=_RECORD)
class KitsuEntityLink:
    """A row of ``/data/projects/<id>/entity-links``: ``entity_in_id`` is the container
    (shot, episode, asset), ``entity_out_id`` the cast asset. Links of canceled assets are
    still listed here, unlike the casting routes.

    Only the columns kitsync reads: a long series lists hundreds of thousands of these, about
    0.2 KB each this way against 1.3 KB as a model (bench/RESULTS.md, worker memory)."""

    id: str
    entity_in_id: str
    entity_out_id: str
    nb_occurences: int = 1
    label: Text = ""


KitsuEntity = KitsuAsset | KitsuEpisode | KitsuSequence | KitsuShot | KitsuEdit | KitsuConcept
"""Anything Zou keeps in its ``entity`` table that becomes an AYON folder."""


T = TypeVar("T")  # a record, a link or a model of this module


def parse_record(model: type[T], raw: object) -> T:
    """``raw`` (decoded JSON) as a ``model``; pydantic's ``ValidationError`` if it is not one."""
    return _adapter(model).validate_python(raw)  # type: ignore[no-any-return]


def parse_records_json(model: type[T], body: bytes) -> list[T]:
    """A JSON list of ``model`` in one pass from bytes to records, in pydantic-core (whole
    projects are listed: decoding to Python objects first, then validating row by row, took
    about half the CPU of a no-op full reconcile)."""
    return _adapter(list[model]).validate_json(body)  # type: ignore[valid-type,no-any-return]


_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def _adapter(shape: Any) -> TypeAdapter[Any]:
    """One adapter per shape: building one costs more than a small parse."""
    adapter = _ADAPTERS.get(shape)
    if adapter is None:
        adapter = _ADAPTERS[shape] = TypeAdapter(shape)
    return adapter
