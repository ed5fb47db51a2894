"""The run timeline: one JSON object per line (virtual time, node, layer, event, details).

Records are serialised canonically (sorted keys, fixed float precision) so that two runs with
the same seed and inputs produce byte-identical files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

# Layers a record may name; free text is allowed but these keep traces greppable.
LAYERS = ("world", "radio", "ll", "hci", "gatt", "smp", "http", "sse", "ip", "bus", "fault", "app")


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


class Trace:
    """Collects timeline records; optionally streams them to a JSON-lines file."""

    def __init__(
        self,
        clock: Callable[[], float],
        path: Path | None = None,
        keep: bool = True,
        max_kept: int = 200_000,
    ) -> None:
        self._clock = clock
        self._file: IO[str] | None = None
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8")
        self.keep = keep
        self.max_kept = max_kept
        self.records: list[dict[str, Any]] = []
        self.dropped = 0
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    @property
    def recording(self) -> bool:
        """False when records go nowhere (not kept, no file, no listener): emit is a no-op."""
        return self.keep or self._file is not None or bool(self.listeners)

    def emit(self, node: str, layer: str, event: str, **details: Any) -> dict[str, Any]:
        if not self.recording:
            return {}
        record: dict[str, Any] = {
            "t": round(float(self._clock()), 6),
            "node": node,
            "layer": layer,
            "event": event,
        }
        if details:
            record.update(_canonical(details))
        if self._file is not None:
            self._file.write(dumps(record) + "\n")
        if self.keep:
            if len(self.records) < self.max_kept:
                self.records.append(record)
            else:
                self.dropped += 1
        for listener in self.listeners:
            listener(record)
        return record

    def select(
        self, node: str | None = None, layer: str | None = None, event: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            r
            for r in self.records
            if (node is None or r["node"] == node)
            and (layer is None or r["layer"] == layer)
            and (event is None or r["event"] == event)
        ]

    def dump(self) -> str:
        """The kept records as canonical JSON lines."""
        return "".join(dumps(r) + "\n" for r in self.records)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
