"""Reading the seed's parameter objects: each reader checks one parameter's type and bounds and
raises :class:`~.errors.InvalidInput` naming it, what it was and what is accepted.

Values arrive from JSON bodies (typed) or query strings (text, already coerced by :mod:`.api`
from the operation's schema), so the readers are strict about types: ``"1"`` is not an integer
here, ``1`` is not a boolean.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from devices.cloud.device2.errors import InvalidInput, one_of

Params = Mapping[str, Any]
_MISSING = object()
INT64_MAX = 2**63 - 1  # what the database stores as an integer


def get(params: Params, name: str, default: Any = _MISSING) -> Any:
    """``params[name]``, also found through nested objects for dotted names (``tag.name``)."""
    if name in params:
        return params[name]
    head, _, rest = name.partition(".")
    if rest and isinstance(params.get(head), Mapping):
        return get(params[head], rest, default)
    return default


def item_params(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The fields of a list item keyed ``<where>.<field>``, so readers name them in full."""
    return {f"{where}.{key}": value for key, value in item.items()}


def has(params: Params, name: str) -> bool:
    """``name`` is given and not null."""
    return get(params, name, None) is not None


def req_str(params: Params, name: str, pattern: str | None = None, max_len: int = 4096) -> str:
    value = get(params, name, None)
    if value is None:
        raise InvalidInput(name, _str_accepted(pattern), message=f"{name} is required")
    return _check_str(name, value, pattern, max_len)


def opt_str(
    params: Params,
    name: str,
    default: str | None = None,
    pattern: str | None = None,
    max_len: int = 4096,
) -> str | None:
    value = get(params, name, None)
    if value is None:
        return default
    return _check_str(name, value, pattern, max_len)


def _str_accepted(pattern: str | None) -> str:
    return f"a string matching {pattern}" if pattern else "a non-empty string"


def _check_str(name: str, value: Any, pattern: str | None, max_len: int) -> str:
    if not isinstance(value, str) or value == "":
        raise InvalidInput(name, _str_accepted(pattern), value)
    if len(value.encode()) > max_len:
        raise InvalidInput(name, f"at most {max_len} bytes", f"{len(value.encode())} bytes")
    if pattern and not re.fullmatch(pattern, value):
        raise InvalidInput(name, _str_accepted(pattern), value)
    return value


def opt_bool(params: Params, name: str, default: bool | None = None) -> bool | None:
    value = get(params, name, None)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(name, "true or false", value)
    return value


def opt_int(
    params: Params,
    name: str,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    value = get(params, name, None)
    if value is None:
        return default
    if maximum is None:
        maximum = INT64_MAX
    if minimum is None:
        minimum = -INT64_MAX
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidInput(name, _range_text("an integer", minimum, maximum), value)
    _check_range(name, value, "an integer", minimum, maximum)
    return value


def opt_number(
    params: Params,
    name: str,
    default: float | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | None:
    value = get(params, name, None)
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX:
        try:
            value = float(value)
        except OverflowError:  # past any float: out of every range
            raise InvalidInput(name, _range_text("a number", minimum, maximum), value) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(name, _range_text("a number", minimum, maximum), value)
    _check_range(name, value, "a number", minimum, maximum)
    return float(value) if isinstance(value, int) and abs(value) > INT64_MAX else value


def _range_text(kind: str, minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{kind} from {minimum} to {maximum}"
    if minimum is not None:
        return f"{kind} of at least {minimum}"
    if maximum is not None:
        return f"{kind} of at most {maximum}"
    return kind


def _check_range(
    name: str, value: float, kind: str, minimum: float | None, maximum: float | None
) -> None:
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidInput(name, _range_text(kind, minimum, maximum), value)


def opt_choice(
    params: Params, name: str, choices: Sequence[str], default: str | None = None
) -> str | None:
    value = get(params, name, None)
    if value is None:
        return default
    if value not in choices:
        raise InvalidInput(name, one_of(choices), value)
    return str(value)


def opt_str_list(
    params: Params, name: str, pattern: str | None = None, max_len: int = 4096
) -> list[str] | None:
    """A list of strings, given as a JSON array or as one comma-separated string."""
    value = get(params, name, None)
    if value is None:
        return None
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, list):
        items = value
    else:
        raise InvalidInput(name, "an array of strings or a comma-separated string", value)
    for i, item in enumerate(items):
        _check_str(f"{name}[{i}]", item, pattern, max_len)
    return list(items)


def opt_object(params: Params, name: str) -> Mapping[str, Any] | None:
    value = get(params, name, None)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInput(name, "an object", value)
    return value
