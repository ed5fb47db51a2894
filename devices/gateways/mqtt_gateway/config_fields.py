"""Reading one mapping of a configuration document with errors that name the field's path.

:class:`Fields` wraps a mapping and its path (``modbus.devices[0]``); each getter checks one
field and raises :class:`~.errors.ConfigError` naming ``path.field``, the offending value and
what is accepted; :meth:`Fields.done` refuses fields nobody asked for (a typo is an error, never
silently ignored).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from devices.gateways.mqtt_gateway.errors import ConfigError

_REQUIRED: Any = object()


class Fields:
    def __init__(self, data: Any, path: str) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path or 'the document'}: {data!r} is not a mapping of fields")
        self.data = data
        self.path = path
        self._asked: set[str] = set()

    def where(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, default: Any = _REQUIRED) -> Any:
        self._asked.add(name)
        if name in self.data and self.data[name] is not None:
            return self.data[name]
        if default is _REQUIRED:
            raise ConfigError(f"{self.where(name)} is required")
        return default

    def text(self, name: str, default: Any = _REQUIRED, choices: tuple[str, ...] = ()) -> str:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{self.where(name)}: {value!r} is not text")
        text = str(value)
        if choices and text not in choices:
            raise ConfigError(
                f"{self.where(name)}: {text!r} is not accepted; accepted: {', '.join(choices)}"
            )
        if not text and default is _REQUIRED:
            raise ConfigError(f"{self.where(name)} must not be empty")
        return text

    def number(
        self,
        name: str,
        default: Any = _REQUIRED,
        low: float | None = None,
        high: float | None = None,
        above: float | None = None,
    ) -> float:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ConfigError(f"{self.where(name)}: {value!r} is not a number")
        _check_range(self.where(name), value, low, high, above)
        return float(value)

    def integer(
        self, name: str, default: Any = _REQUIRED, low: int | None = None, high: int | None = None
    ) -> int:
        value = self.raw(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.where(name)}: {value!r} is not a whole number")
        _check_range(self.where(name), value, low, high, None)
        return value

    def flag(self, name: str, default: Any = _REQUIRED) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where(name)}: {value!r} is not true or false")
        return value

    def section(self, name: str, required: bool = False) -> Fields:
        value = self.raw(name, _REQUIRED if required else None)
        return Fields(value, self.where(name))

    def sections(self, name: str) -> Iterator[Fields]:
        """Each mapping of the list ``name`` (an absent list is empty)."""
        value = self.raw(name, [])
        if not isinstance(value, list):
            raise ConfigError(f"{self.where(name)}: {value!r} is not a list")
        for i, item in enumerate(value):
            yield Fields(item, f"{self.where(name)}[{i}]")

    def done(self) -> None:
        unknown = sorted(str(k) for k in self.data if k not in self._asked)
        if unknown:
            raise ConfigError(
                f"{self.path or 'the document'}: unknown field(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(sorted(self._asked))}"
            )


def _check_range(
    where: str, value: float, low: float | None, high: float | None, above: float | None
) -> None:
    if low is not None and value < low:
        raise ConfigError(f"{where}: {value!r} is below {low:g}; accepted: {_span(low, high)}")
    if high is not None and value > high:
        raise ConfigError(f"{where}: {value!r} is above {high:g}; accepted: {_span(low, high)}")
    if above is not None and value <= above:
        raise ConfigError(f"{where}: {value!r} is not accepted; accepted: more than {above:g}")


def _span(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g} to {high:g}"
    return f">= {low:g}" if low is not None else f"<= {high:g}"
