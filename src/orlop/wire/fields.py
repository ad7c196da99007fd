"""Reading fields of Docker's JSON request bodies with Go's decoding errors: a field of
the wrong type is moby's ``json: cannot unmarshal <kind> into Go struct field <path> of
type <type>`` (a 400), named the way the docker CLI shows it; an absent or ``null``
field reads as the type's zero value, as Go decodes it."""

from __future__ import annotations

from collections.abc import Mapping

from orlop.errors import InvalidParameterError

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any


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


def unmarshal_error(value: Any, field: str, go_type: str) -> InvalidParameterError:
    """Go's error for a JSON ``value`` that does not decode into ``field`` (its path in
    the request body) of ``go_type``."""
    return InvalidParameterError(
        f"json: cannot unmarshal {json_kind(value)} into Go struct field {field} "
        f"of type {go_type}")


def _field(obj: Mapping[str, Any], key: str, where: str, kind: type, go_type: str) -> Any:
    """``obj[key]`` when it is absent, null or a ``kind``; else Go's unmarshal error."""
    value = obj.get(key)
    if value is not None and not isinstance(value, kind):
        raise unmarshal_error(value, f"{where}{key}", go_type)
    return value


def field_str(obj: Mapping[str, Any], key: str, where: str = "") -> str:
    value = _field(obj, key, where, str, "string")
    return "" if value is None else str(value)


def field_bool(obj: Mapping[str, Any], key: str, where: str = "") -> bool:
    return _field(obj, key, where, bool, "bool") is True


def field_int(obj: Mapping[str, Any], key: str, where: str = "") -> int:
    value = obj.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise unmarshal_error(value, f"{where}{key}", "int64")
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
        raise unmarshal_error(value, f"{where}{key}", "[]string")
    return list(value)


def field_str_map(obj: Mapping[str, Any], key: str, where: str = "") -> dict[str, str]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise unmarshal_error(value, f"{where}{key}", "map[string]string")
    return dict(value)


def field_object(obj: Mapping[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value: dict[str, Any] | None = _field(obj, key, where, dict, "object")
    return {} if value is None else value
