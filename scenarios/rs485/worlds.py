"""The RS485 line's world files (``scenarios/rs485/worlds/*.yaml``): the line's settings and the
nodes on it, for ``hil serve rs485 --scenario``.

    name: modbus-line
    settings: "9600 8N1"            # baud, data bits, parity (N/E/O), stop bits
    slaves:                         # Modbus RTU slaves: standard slaves at these unit ids,
      - {unit: 1}                   # other keys override their spec (response_delay, ...)
      - {unit: 2, response_delay: 0.005}
      - {unit: 3, functions: [3, 4], vendor: Acme, model: EM-24}   # declared functions only
    readers:                        # or OSDP readers (one protocol per line)
      - {address: 1, scbk: "000102030405060708090a0b0c0d0e0f"}   # scbk: optional

Each node is placed with the bed's ``place`` (:mod:`scenarios.rs485.bed`), which checks the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.rs485.osdp_values import check_key
from scenarios.world_files import read_world_file
from sim.uart import LineSettings

WORLDS_DIR = Path(__file__).parent / "worlds"
DEFAULT_WORLD = "modbus-line"
KEYS = ("name", "settings", "slaves", "readers")


class WorldError(ValueError):
    """A world file that cannot be served; the message names the file and the field."""


@dataclass(frozen=True)
class LineWorld:
    name: str
    settings: LineSettings = LineSettings()
    slaves: tuple[dict[str, Any], ...] = ()
    readers: tuple[dict[str, Any], ...] = ()
    source: str = "<memory>"

    @property
    def osdp(self) -> bool:
        """OSDP readers on the line (else Modbus slaves)."""
        return bool(self.readers)


def load_world(name_or_path: str | Path = DEFAULT_WORLD) -> LineWorld:
    """A world by name (``scenarios/rs485/worlds/<name>.yaml``) or by path."""
    data, source = read_world_file(name_or_path, WORLDS_DIR, "RS485", WorldError)
    return parse_world(data, source)


def parse_world(data: Any, source: str = "<memory>") -> LineWorld:
    if not isinstance(data, dict):
        raise WorldError(f"{source}: a world is a mapping with keys {', '.join(KEYS)}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise WorldError(f"{source}: unknown key(s) {unknown}; accepted: {', '.join(KEYS)}")
    try:
        settings = LineSettings.parse(str(data.get("settings", "9600 8N1")))
    except ValueError as exc:
        raise WorldError(f"{source}: settings: {exc}") from None
    slaves = _nodes(data.get("slaves"), "slaves", "unit", range(1, 248), source)
    readers = _nodes(data.get("readers"), "readers", "address", range(0, 127), source)
    for i, reader in enumerate(readers):
        try:
            check_key(reader.get("scbk"))
        except ValueError as exc:
            raise WorldError(f"{source}: readers[{i}].scbk: {exc}") from None
    if bool(slaves) == bool(readers):
        raise WorldError(
            f"{source}: a line holds Modbus slaves or OSDP readers; give one of slaves, readers"
        )
    name = str(data.get("name") or Path(source).stem)
    return LineWorld(name, settings, slaves, readers, source)


def _nodes(
    value: Any, field: str, key: str, accepted: range, source: str
) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise WorldError(f"{source}: {field} is a list of mappings with {key!r}")
    nodes = []
    seen: set[int] = set()
    for i, node in enumerate(value):
        node = {key: node} if isinstance(node, int) else node
        number = node.get(key) if isinstance(node, dict) else None
        if not isinstance(number, int) or isinstance(number, bool) or number not in accepted:
            raise WorldError(
                f"{source}: {field}[{i}].{key} {number!r} not accepted; accepted: "
                f"{accepted.start} to {accepted.stop - 1}"
            )
        if number in seen:
            raise WorldError(f"{source}: {field}[{i}].{key} {number} appears twice")
        seen.add(number)
        nodes.append(dict(node))
    return tuple(nodes)
