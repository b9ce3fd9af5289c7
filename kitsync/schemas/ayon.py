"""AYON payloads: entities as kitsync reads them, and the bodies of the REST calls it makes.

Field names are snake_case in Python and camelCase on the wire (AYON accepts both in requests and
answers in camelCase). :meth:`AyonModel.to_wire` gives a request body with exactly the keys that
were set, so a default of ours never overrides a server default by accident.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass

from kitsync.schemas.kinds import KIND_OF_TYPE_NAME, EntityKind

_ID_PATTERN = r"^[0-9a-f]{32}$"
_LINK_TYPE_PATTERN = re.compile(r"^([^|]+)\|([^|]+)\|([^|]+)$")
_LINK_TYPE_PARTS = (
    ("link_type", "linkType"),
    ("input_type", "inputType"),
    ("output_type", "outputType"),
)


def _uuid_to_hex(value: object) -> object:
    # asyncpg returns uuid columns as uuid.UUID; AYON's wire form is the 32-hex string.
    return value.hex if isinstance(value, uuid.UUID) else value


# The pattern sits on the inner type so pydantic-core checks it: after a before-validator it
# would be checked by a Python function, for every id of every row read.
AyonId = Annotated[
    Annotated[str, StringConstraints(pattern=_ID_PATTERN)], BeforeValidator(_uuid_to_hex)
]
"""An AYON entity id: 32 lowercase hex characters, no dashes (AYON refuses every other form)."""


def _check_link_type(value: str) -> str:
    if not _LINK_TYPE_PATTERN.match(value):
        raise ValueError("link type must be 'name|input_type|output_type'")
    return value


LinkTypeName = Annotated[str, AfterValidator(_check_link_type)]
"""A full link type name such as ``breakdown|folder|folder`` (the form stored in ``links``)."""

EntityType = Literal["folder", "task"]
OperationType = Literal["create", "update", "delete"]
BREAKDOWN = "breakdown|folder|folder"


def _strip_leading_slash(value: object) -> object:
    # REST answers "/a/b", the hierarchy view "a/b"; keep one form so both sources compare equal.
    return value.lstrip("/") if isinstance(value, str) else value


class AyonModel(BaseModel):
    """Base of every AYON payload: camelCase aliases, construction by either name."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body for AYON: camelCase keys, only the fields that were set and not None."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)


# ----------------------------------------------------------------------------- entities (read)


class AyonFolder(AyonModel):
    """A folder row; ``path`` (names from the root joined by ``/``, no leading slash) when read."""

    id: AyonId
    name: str
    label: str | None = None
    folder_type: str
    parent_id: AyonId | None = None
    attrib: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    status: str
    tags: list[str] = Field(default_factory=list)
    active: bool = True
    path: Annotated[str | None, BeforeValidator(_strip_leading_slash)] = None

    @property
    def kitsu_id(self) -> str | None:
        """The Kitsu id written in ``data.kitsuId`` (by kitsync or by ayon-kitsu), if any."""
        value = self.data.get("kitsuId")
        return value if isinstance(value, str) else None

    @property
    def kitsu_kind(self) -> EntityKind | None:
        """The kind of Kitsu entity the folder is of, from ``data.kitsuType`` or, where
        ayon-kitsu wrote none, the folder type; None for roots, asset types and other folders."""
        return KIND_OF_TYPE_NAME.get(str(self.data.get("kitsuType", self.folder_type)))


@dataclass(
    frozen=True,
    slots=True,
    config=ConfigDict(alias_generator=to_camel, populate_by_name=True),
)
class AyonTask:
    """A task row. A slotted dataclass, not a model (read-only, never sent): a long series has
    tens of thousands, about 2 KB each as a model."""

    id: AyonId
    name: str
    folder_id: AyonId
    task_type: str
    status: str
    label: str | None = None
    assignees: list[str] = Field(default_factory=list)
    attrib: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    active: bool = True

    @property
    def kitsu_id(self) -> str | None:
        """The Kitsu id written in ``data.kitsuId`` (by kitsync or by ayon-kitsu), if any."""
        value = self.data.get("kitsuId")
        return value if isinstance(value, str) else None


@dataclass(
    frozen=True,
    slots=True,
    config=ConfigDict(alias_generator=to_camel, populate_by_name=True),
)
class AyonLink:
    """A row of ``links``: ``input_id`` -> ``output_id``, ``link_type`` in its full form.

    A slotted dataclass, not a model (read-only, never sent): a long series has hundreds of
    thousands of breakdown links, about 0.45 KB each this way against 1.5 KB as a model."""

    id: AyonId
    link_type: LinkTypeName
    input_id: AyonId
    output_id: AyonId
    name: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class AyonUser(AyonModel):
    """``GET /api/users/me``: who the API key belongs to."""

    name: str
    attrib: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    active: bool = True

    @property
    def is_service(self) -> bool:
        return self.data.get("isService") is True


# ----------------------------------------------------------------------------- anatomy


class AnatomyItem(AyonModel):
    """A folder type, task type or status: ``name`` plus whatever AYON keeps with it
    (``shortName``, ``color``, ``icon``, ``state``, ``scope`` ...), passed through unchanged."""

    model_config = ConfigDict(extra="allow")

    name: Annotated[str, StringConstraints(min_length=1)]


class LinkTypeItem(AyonModel):
    """A link type; ``link_type``, ``input_type``, ``output_type`` default to parts of ``name``."""

    name: LinkTypeName
    link_type: str
    input_type: str
    output_type: str
    data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _parts_from_name(cls, value: Any) -> Any:
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            return value
        match = _LINK_TYPE_PATTERN.match(value["name"])
        if match is None:
            return value  # the field validator reports the bad name
        filled = dict(value)
        for (snake, camel), part in zip(_LINK_TYPE_PARTS, match.groups(), strict=True):
            if snake not in filled and camel not in filled:
                filled[camel] = part
        return filled


class AyonProjectAnatomy(AyonModel):
    """A project's four anatomy lists in AYON's order, as ``GET /api/projects/{p}`` has them."""

    folder_types: list[AnatomyItem] = Field(default_factory=list)
    task_types: list[AnatomyItem] = Field(default_factory=list)
    statuses: list[AnatomyItem] = Field(default_factory=list)
    link_types: list[LinkTypeItem] = Field(default_factory=list)


class AyonProject(AyonProjectAnatomy):
    """``GET /api/projects/{p}`` (the parts kitsync uses)."""

    name: str
    code: str
    label: str | None = None
    library: bool = False
    attrib: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    active: bool = True


# ----------------------------------------------------------------------------- writes


class Operation(AyonModel):
    """One entry of ``POST /api/projects/{p}/operations``.

    A create may carry its id as ``entity_id`` or as ``data["id"]``; update and delete need
    ``entity_id``. ``data`` keys are AYON's (camelCase); a None value in it deletes that key.
    """

    type: OperationType
    entity_type: EntityType
    entity_id: AyonId | None = None
    data: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _needs_target(self) -> Self:
        if self.type != "create" and self.entity_id is None:
            raise ValueError(f"a {self.type} operation needs entity_id")
        if (self.type == "delete") != (self.data is None):
            raise ValueError("delete takes no data; create and update need data")
        return self


class OperationsRequest(AyonModel):
    operations: list[Operation]
    can_fail: bool = False
    raise_on_error: bool = False


class OperationResult(AyonModel):
    id: AyonId
    type: OperationType
    entity_type: EntityType
    entity_id: AyonId | None = None
    success: bool
    status: int
    error_code: str | None = None
    detail: str | None = None


class OperationsResponse(AyonModel):
    operations: list[OperationResult]
    success: bool


@dataclass(
    frozen=True,
    slots=True,
    kw_only=True,
    config=ConfigDict(alias_generator=to_camel, populate_by_name=True),
)
class LinkCreate:
    """A link to create (``POST .../links`` or one item of ``.../links/bulk``). A slotted
    dataclass, not a model: a long series' first sync plans 175,000 at once, about 0.75 KB each
    as models."""

    id: AyonId | None = None
    input: AyonId
    output: AyonId
    link_type: LinkTypeName
    name: str | None = None
    data: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _not_self(self) -> Self:
        if self.input == self.output:
            raise ValueError("a link cannot connect an entity to itself")
        return self

    def to_wire(self) -> dict[str, Any]:
        """The JSON body for AYON, as :meth:`AyonModel.to_wire` gives it."""
        wire: dict[str, Any] = _LINK_CREATE.dump_python(
            self, mode="json", by_alias=True, exclude_none=True
        )
        return wire


_LINK_CREATE = TypeAdapter(LinkCreate)


class LinksBulkRequest(AyonModel):
    links: list[LinkCreate]


class CreatedLink(AyonModel):
    """An item of the bulk answer's ``created`` list: the link as stored. kitsync reads its id;
    the rest is kept as AYON sent it."""

    model_config = ConfigDict(extra="allow")

    id: AyonId


class LinksBulkResponse(AyonModel):
    created: list[CreatedLink]


class AyonEvent(AyonModel):
    """The body of ``POST /api/events``. ``hash`` is unique over all of AYON's events."""

    topic: Annotated[str, StringConstraints(min_length=3)]
    sender: str | None = None
    hash: str | None = None
    project: str | None = None
    description: str = ""
    summary: dict[str, Any] = Field(default_factory=dict)
    payload: dict[str, Any] = Field(default_factory=dict)
    finished: bool = True


class EnrollRequest(AyonModel):
    """The body of ``POST /api/enroll``: take the oldest ``source_topic`` event that has no
    finished ``target_topic`` event yet (AYON's job queue over its events)."""

    source_topic: list[str]
    target_topic: Annotated[str, StringConstraints(min_length=3, pattern=r"^[^*]+$")]
    description: str = ""
    sequential: bool = False
    max_retries: int = 3
    # Events written with these X-Sender-Type values are never handed out.
    ignore_sender_types: list[str] = Field(default_factory=list)
    # Days; AYON's default is 3, 0 means no limit.
    ignore_older_than: int = 3


class EnrolledJob(AyonModel):
    """``POST /api/enroll``'s answer: the target event (the job) and the source it is for."""

    id: AyonId
    depends_on: AyonId
    hash: str
    status: str


class AyonEventRecord(AyonModel):
    """``GET /api/events/{id}``: one event as AYON stored it."""

    id: AyonId
    topic: str
    sender: str | None = None
    sender_type: str | None = None
    project: str | None = None
    user: str | None = None
    status: str
    description: str = ""
    summary: dict[str, Any] = Field(default_factory=dict)
    payload: dict[str, Any] | None = None
    created_at: datetime


class CreatedId(AyonModel):
    """``{"id": ...}``: the answer of single creates (links, events)."""

    id: AyonId
