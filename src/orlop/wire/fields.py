"""Reading fields of Docker's JSON request bodies with Go's decoding errors: a field of
the wrong type is moby's ``json: cannot unmarshal <kind> into Go struct field <path> of
type <type>`` (a 400), named the way the docker CLI shows it; an absent or ``null``
field reads as the type's zero value, as Go decodes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orlop.errors import InvalidParameterError


def json_kind(value: Any) -> str:
    """The JSON type name of a decoded value, for error texts."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def field_str(obj: Mapping[str, Any], key: str, where: str = "") -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidParameterError(
            f"json: cannot unmarshal {json_kind(value)} into Go struct field {where}{key} "
            "of type string")
    return value


def field_bool(obj: Mapping[str, Any], key: str, where: str = "") -> bool:
    value = obj.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidParameterError(
            f"json: cannot unmarshal {json_kind(value)} into Go struct field {where}{key} "
            "of type bool")
    return value


def field_int(obj: Mapping[str, Any], key: str, where: str = "") -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InvalidParameterError(
            f"json: cannot unmarshal {json_kind(value)} into Go struct field {where}{key} "
            "of type int64")
    return int(value)


def field_str_list(obj: Mapping[str, Any], key: str, where: str = "",
                   *, allow_string: bool = False) -> list[str] | None:
    """A list of strings; ``None`` when absent or null.  ``allow_string`` accepts a bare
    string as a one-element list (Docker's ``strslice`` for Cmd/Entrypoint)."""
    value = obj.get(key)
    if value is None:
        return None
    if allow_string and isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameterError(
            f"json: cannot unmarshal {json_kind(value)} into Go struct field {where}{key} "
            "of type []string")
    return list(value)


def field_str_map(obj: Mapping[str, Any], key: str, where: str = "") -> dict[str, str]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidParameterError(
            f"json: cannot unmarshal {json_kind(value)} into Go struct field {where}{key} "
            "of type map[string]string")
    return dict(value)


def field_object(obj: Mapping[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameterError(
            f"json: cannot unmarshal {json_kind(value)} into Go struct field {where}{key} "
            "of type object")
    return value
