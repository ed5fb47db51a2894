"""What placing a terminal takes: the spec :meth:`CmBed.place` and the world-control API's
``POST /world/terminals`` accept, checked field by field.

    {"deviceID": 1601, "gateway": "gw-a", "host": 81,     # host: the last octet on gw-a's /24
     "mode": 0, "ssl": false,                              # 0 server-to-device, 1 device-to-server
     "rs485Slaves": [5001],                                # a fixed list of RS485 slave IDs, or
     "slaveReaders": {"1": 5001, "2": 5002}}               # OSDP readers on a line of its own
                                                           # (OSDP address -> slave device ID)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

TERMINAL_KEYS = ("deviceID", "gateway", "host", "mode", "ssl", "rs485Slaves", "slaveReaders")
MAX_ID = 0xFFFFFFFF


@dataclass(frozen=True)
class TerminalSpec:
    device_id: int
    gateway: str
    host: int
    mode: int = 0  # 0 SERVER_TO_DEVICE, 1 DEVICE_TO_SERVER (connect.proto)
    ssl: bool = False
    rs485_slaves: tuple[int, ...] = ()
    slave_readers: dict[int, int] = field(default_factory=dict)  # OSDP address -> slave ID

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], gateways: Iterable[str]) -> TerminalSpec:
        """The checked spec, or ValueError naming the field, its value and what is accepted."""
        unknown = sorted(str(k) for k in spec if k not in TERMINAL_KEYS)
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; accepted: {list(TERMINAL_KEYS)}")
        did, gw, host = spec.get("deviceID"), spec.get("gateway"), spec.get("host")
        if not _is_int(did) or not 1 <= did <= MAX_ID:
            raise ValueError(f"deviceID {did!r} not accepted; accepted: 1..{MAX_ID}")
        known = sorted(gateways)
        if gw not in known:
            raise ValueError(f"gateway {gw!r} unknown; accepted: {known}")
        if not _is_int(host) or not 2 <= host <= 254:
            raise ValueError(f"host {host!r} not accepted; accepted: 2..254 (the last octet)")
        mode = spec.get("mode", 0)
        if mode not in (0, 1) or isinstance(mode, bool):
            raise ValueError(
                f"mode {mode!r} not accepted; accepted: 0 (SERVER_TO_DEVICE), 1 (DEVICE_TO_SERVER)"
            )
        ssl = spec.get("ssl", False)
        if not isinstance(ssl, bool):
            raise ValueError(f"ssl {ssl!r} not accepted; accepted: true or false")
        slaves = spec.get("rs485Slaves") or []
        if not isinstance(slaves, list) or not all(_is_int(s) and s > 0 for s in slaves):
            raise ValueError(f"rs485Slaves {slaves!r} not accepted; accepted: a list of IDs > 0")
        readers = _readers(spec.get("slaveReaders") or {})
        if slaves and readers:
            raise ValueError(
                f"terminal {did}: give RS485 slaves either as a fixed list ({slaves}) or as "
                f"slave readers on a line ({readers}), not both"
            )
        return cls(did, str(gw), host, mode, ssl, tuple(slaves), readers)

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "deviceID": self.device_id,
            "gateway": self.gateway,
            "host": self.host,
            "mode": self.mode,
            "ssl": self.ssl,
            "rs485Slaves": list(self.rs485_slaves),
        }
        if self.slave_readers:
            spec["slaveReaders"] = {str(a): s for a, s in self.slave_readers.items()}
        return spec


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _readers(raw: Any) -> dict[int, int]:
    accepted = "accepted: a mapping of OSDP address -> slave device ID 1..4294967295"
    if not isinstance(raw, Mapping):
        raise ValueError(f"slaveReaders {raw!r} not accepted; {accepted}")
    readers: dict[int, int] = {}
    for address, slave_id in raw.items():
        text = str(address)
        if not text.isdigit() or not _is_int(slave_id) or not 1 <= slave_id <= MAX_ID:
            raise ValueError(f"slave reader {address!r}: {slave_id!r} not accepted; {accepted}")
        readers[int(text)] = slave_id
    return readers
