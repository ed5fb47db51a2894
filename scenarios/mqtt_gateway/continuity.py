"""Judging a telemetry stream end to end: what the devices produced against what the platform
accepted, reading by reading.

A reading is anything hashable that identifies one reading of one device: the value of a point
no two polls share (the ``ticks`` point of the harness's Modbus slaves, see
:mod:`scenarios.mqtt_gateway.devices`), or ``(ts, key, value)``. The judge needs no clock and no
tolerance: it compares identities.

* **lost**: produced, never accepted by the platform;
* **duplicated**: accepted more than once, not counting acceptances the gateway may never
  have heard of (``unconfirmed``: its PUBACK went out as the connection died, so sending the
  reading again was right);
* **reordered**: accepted after a reading the device produced later (per device).

Readings produced too recently to have arrived are the caller's business: leave them out of
``sent_by_device`` (e.g. those read in the last few seconds before judging).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Continuity:
    """The judge's findings, per device (only devices with a finding appear)."""

    lost: dict[str, list[Any]] = field(default_factory=dict)
    duplicated: dict[str, list[Any]] = field(default_factory=dict)
    reordered: dict[str, list[Any]] = field(default_factory=dict)
    sent: int = 0
    received: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.reordered)

    def counts(self) -> dict[str, int]:
        return {
            "sent": self.sent,
            "received": self.received,
            "lost": sum(map(len, self.lost.values())),
            "duplicated": sum(map(len, self.duplicated.values())),
            "reordered": sum(map(len, self.reordered.values())),
        }

    def evidence(self) -> dict[str, Any]:
        """What a report shows: the counts and the readings themselves."""
        return {
            **self.counts(),
            "lost_readings": self.lost,
            "duplicated_readings": self.duplicated,
            "reordered_readings": self.reordered,
        }

    def summary(self) -> str:
        c = self.counts()
        return (
            f"{c['sent']} readings produced, {c['received']} accepted: {c['lost']} lost, "
            f"{c['duplicated']} duplicated, {c['reordered']} out of order"
        )


def judge_continuity(
    sent_by_device: Mapping[str, Sequence[Hashable]],
    received: Iterable[tuple[str, Hashable]],
    unconfirmed: Iterable[tuple[str, Hashable]] = (),
) -> Continuity:
    """Compare the readings each device produced (in production order) with the ``(device,
    reading)`` pairs the platform accepted (in arrival order, once per acceptance); those of
    ``unconfirmed`` (a subset, once per such acceptance) may legitimately come again."""
    arrivals: dict[str, list[Hashable]] = {}
    total = 0
    for device, reading in received:
        arrivals.setdefault(device, []).append(reading)
        total += 1
    excused = Counter(unconfirmed)
    lost: dict[str, list[Any]] = {}
    duplicated: dict[str, list[Any]] = {}
    reordered: dict[str, list[Any]] = {}
    for device in sorted(set(sent_by_device) | set(arrivals)):
        sent = list(sent_by_device.get(device, ()))
        got = arrivals.get(device, [])
        seen = Counter(got)
        missing = [r for r in sent if r not in seen]
        if missing:
            lost[device] = missing
        twice = [r for r, n in seen.items() if n - min(excused[(device, r)], n - 1) > 1]
        if twice:
            duplicated[device] = twice
        late = _out_of_order(sent, got)
        if late:
            reordered[device] = late
    sent_total = sum(len(v) for v in sent_by_device.values())
    return Continuity(lost, duplicated, reordered, sent_total, total)


def _out_of_order(sent: list[Hashable], got: list[Hashable]) -> list[Hashable]:
    """Readings accepted after one the device produced later (first acceptances only)."""
    rank = {reading: i for i, reading in enumerate(sent)}
    late: list[Hashable] = []
    highest = -1
    first: set[Hashable] = set()
    for reading in got:
        if reading in first or reading not in rank:
            continue
        first.add(reading)
        if rank[reading] < highest:
            late.append(reading)
        highest = max(highest, rank[reading])
    return late
