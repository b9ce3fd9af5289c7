"""Wire format of AYON 1.16: error bodies, request validation in pydantic-v1 wording, ids, casing.

AYON validates request bodies with pydantic v1; its 400 bodies quote v1's messages and types, so
the fake validates by hand against small field tables instead of using pydantic v2.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

ErrorItem = dict[str, Any]

# AYON's body id regex is "[0-f]", a range that also admits ":;<=>?@", upper case and "[\]^_`".
BODY_ID_PATTERN = "^[0-f]{32}$"
HEX_ID = re.compile("^[0-9a-f]{32}$")
FIELD_REQUIRED = ("field required", "value_error.missing")
NAME_PATTERN = r"^[a-zA-Z0-9_]([a-zA-Z0-9_\.\-]*[a-zA-Z0-9_])?$"

# What AYON answers when a statement failed inside its transaction and the next one ran anyway.
ABORTED_TRANSACTION = (
    "asyncpg.exceptions.InFailedSQLTransactionError: current transaction is aborted, "
    "commands ignored until end of transaction block"
)


def new_id() -> str:
    """A server-generated id: a time-based uuid1 in 32 hex characters, as AYON makes them."""
    return uuid.uuid1().hex


def as_uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def without_nulls(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Entity GETs leave out null fields."""
    return {key: value for key, value in payload.items() if value is not None}


def json_response(payload: Any, status: int = 200) -> Response:
    return JSONResponse(payload, status_code=status)


def no_content(media_type: str | None = None) -> Response:
    """A 204. Project PATCH answers one that still says it is JSON; other 204s carry no type."""
    return Response(status_code=204, media_type=media_type)


# --- errors ----------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer: 4xx ``{code, detail}``. ``error_code`` is what /operations reports."""

    def __init__(self, status: int, detail: str, *, error_code: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.error_code = error_code or _DEFAULT_ERROR_CODES.get(status, "error")

    def body(self) -> dict[str, Any]:
        return {"code": self.status, "detail": self.detail}


_DEFAULT_ERROR_CODES = {400: "bad-request", 404: "not-found", 409: "conflict"}


def not_found(entity_id: str) -> ApiError:
    return ApiError(404, f"Entity {entity_id} not found")


class RequestValidationError(ApiError):
    """A request-validation 400 (``path``, ``traceback``, ``errors``); AYON logs it as log.error."""

    def __init__(self, method: str, path: str, errors: list[ErrorItem]) -> None:
        super().__init__(400, f"Request validation error in [{method}] {path}")
        self.path = path
        self.errors = errors
        self.traceback = "\n".join(f"{_dotted(item['loc'][1:])}: {item['msg']}" for item in errors)

    def body(self) -> dict[str, Any]:
        return {
            "code": 400,
            "detail": self.detail,
            "path": self.path,
            "traceback": self.traceback,
            "errors": self.errors,
        }


class ServerError(Exception):
    """A 500: AYON answers ``{status, detail, traceback}`` and logs it as log.error."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return {
            "status": 500,
            "detail": self.detail,
            "traceback": "(fake AYON server: no traceback)",
        }


def _dotted(loc: list[Any] | tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc)


def invalid_data_detail(model: str, errors: list[ErrorItem], loc_start: int) -> str:
    """pydantic v1's ``str(ValidationError)``, as /operations quotes it for ``invalid_data``."""
    count = len(errors)
    lines = [f"{count} validation error{'s' if count > 1 else ''} for {model}"]
    for item in errors:
        ctx = "".join(f"; {key}={value}" for key, value in item.get("ctx", {}).items())
        lines.append(_dotted(item["loc"][loc_start:]))
        lines.append(f"  {item['msg']} (type={item['type']}{ctx})")
    return "\n".join(lines)


# --- validation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One request field. ``name`` is the camelCase wire name; snake_case is accepted too."""

    name: str
    kind: str = "str"  # str | int | float | bool | dict | list | strlist | datetime | any
    required: bool = False
    nullable: bool = True
    regex: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    choices: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return snake(self.name)


@dataclass(frozen=True)
class Model:
    name: str
    fields: tuple[Field, ...] = field(default_factory=tuple)

    def get(self, key: str) -> Field:
        return next(item for item in self.fields if item.key == key)


def validate(
    model: Model, body: Any, loc: tuple[Any, ...] = ("body",)
) -> tuple[dict[str, Any], list[ErrorItem]]:
    """(values the client set, keyed by snake_case name; errors). Unknown keys are ignored."""
    if not isinstance(body, dict):
        return {}, [error_item(loc, "value is not a valid dict", "type_error.dict")]
    values: dict[str, Any] = {}
    errors: list[ErrorItem] = []
    for spec in model.fields:
        present = [n for n in (spec.name, spec.key, *spec.aliases) if n in body]
        if not present:
            if spec.required:
                errors.append(error_item((*loc, spec.name), *FIELD_REQUIRED))
            continue
        value, error = check_value(spec, body[present[0]], (*loc, spec.name))
        if error:
            errors.append(error)
        else:
            values[spec.key] = value
    return values, errors


def check_value(spec: Field, value: Any, loc: tuple[Any, ...]) -> tuple[Any, ErrorItem | None]:
    if value is None:
        if spec.nullable and not spec.required:
            return None, None
        return None, error_item(loc, "none is not an allowed value", "type_error.none.not_allowed")
    converted, error = _coerce(spec.kind, value, loc)
    if error or not isinstance(converted, str):
        return converted, error
    if spec.choices is not None and converted not in spec.choices:
        permitted = ", ".join(f"'{choice}'" for choice in spec.choices)
        return None, error_item(
            loc,
            f"unexpected value; permitted: {permitted}",
            "value_error.const",
            {"given": converted, "permitted": list(spec.choices)},
        )
    if spec.min_length is not None and len(converted) < spec.min_length:
        return None, error_item(
            loc,
            f"ensure this value has at least {spec.min_length} characters",
            "value_error.any_str.min_length",
            {"limit_value": spec.min_length},
        )
    if spec.max_length is not None and len(converted) > spec.max_length:
        return None, error_item(
            loc,
            f"ensure this value has at most {spec.max_length} characters",
            "value_error.any_str.max_length",
            {"limit_value": spec.max_length},
        )
    if spec.regex is not None and not re.match(spec.regex, converted):
        return None, error_item(
            loc,
            f'string does not match regex "{spec.regex}"',
            "value_error.str.regex",
            {"pattern": spec.regex},
        )
    return converted, None


def _coerce(kind: str, value: Any, loc: tuple[Any, ...]) -> tuple[Any, ErrorItem | None]:
    """pydantic v1's lax coercions for the kinds the fake needs."""
    if kind == "any":
        return value, None
    if kind in ("str", "datetime"):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return None, error_item(loc, "str type expected", "type_error.str")
        text = str(value)
        if kind == "datetime":
            try:
                return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat(), None
            except ValueError:
                return None, error_item(loc, "invalid datetime format", "value_error.datetime")
        return text, None
    if kind == "int":
        try:
            return int(value), None
        except (TypeError, ValueError):
            return None, error_item(loc, "value is not a valid integer", "type_error.integer")
    if kind == "float":
        try:
            return float(value), None
        except (TypeError, ValueError):
            return None, error_item(loc, "value is not a valid float", "type_error.float")
    if kind == "bool":
        if isinstance(value, bool):
            return value, None
        if value in (0, 1, "0", "1", "true", "false", "True", "False"):
            return str(value).lower() in ("1", "true"), None
        return None, error_item(loc, "value could not be parsed to a boolean", "type_error.bool")
    if kind == "dict":
        if isinstance(value, dict):
            return value, None
        return None, error_item(loc, "value is not a valid dict", "type_error.dict")
    if kind in ("list", "strlist"):
        if not isinstance(value, list):
            return None, error_item(loc, "value is not a valid list", "type_error.list")
        if kind == "strlist":
            for index, item in enumerate(value):
                if isinstance(item, bool) or not isinstance(item, str | int | float):
                    return None, error_item((*loc, index), "str type expected", "type_error.str")
            return [str(item) for item in value], None
        return value, None
    raise ValueError(f"unknown field kind {kind!r}")


def error_item(
    loc: tuple[Any, ...], msg: str, type_: str, ctx: dict[str, Any] | None = None
) -> ErrorItem:
    item: ErrorItem = {"loc": list(loc), "msg": msg, "type": type_}
    if ctx is not None:
        item["ctx"] = ctx
    return item


def id_field(name: str, **kwargs: Any) -> Field:
    """An entity id in a request body (AYON's ``EntityID.field``)."""
    return Field(name, regex=BODY_ID_PATTERN, **kwargs)


def path_id(value: str, name: str, method: str, path: str) -> str:
    """Validate an id path parameter (32 characters, lower-case hex)."""
    spec = Field(name, min_length=32, max_length=32, regex="^[0-9a-f]{32}$")
    checked, error = check_value(spec, value, ("path", name))
    if error:
        raise RequestValidationError(method, path, [error])
    return str(checked)
