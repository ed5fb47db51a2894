"""An OSDP control panel (CP) in the world: a libosdp ``ControlPanel`` polling one or more PD
addresses on a single RS485 line (one shared channel: libosdp serialises the PDs on it).

Refreshed from the world's loop (:class:`devices.rs485.osdp_link.Refresher`); online and
secure-channel changes, events (card reads, keypad, tamper status) and command completions land
in the trace (layer ``osdp``) and in :attr:`OsdpControlPanel.events`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.rs485 import osdp_clock
from devices.rs485.osdp_clock import osdp
from devices.rs485.osdp_link import BusChannel, Refresher, check_address, check_key
from devices.rs485.osdp_pd import COLOURS, parse_wiegand26
from sim.rs485 import Rs485Bus
from sim.world import World

COLOUR_CODES = {name: code for code, name in COLOURS.items()}
COMPLETION = {0: "ok", 1: "failed", 2: "flushed", 3: "aborted"}


@dataclass
class PdConfig:
    """A PD the CP polls: its address and, for a secure channel, its SCBK. With a key the CP
    insists on the secure channel; ``enforce=False`` lets it fall back to plain when the
    handshake fails, as a lax or hostile panel would."""

    address: int
    scbk: bytes | None = None
    enforce: bool = True

    def __post_init__(self) -> None:
        check_address(self.address)
        self.scbk = check_key(self.scbk)


class OsdpControlPanel:
    def __init__(
        self,
        world: World,
        bus: Rs485Bus,
        pds: list[PdConfig],
        name: str = "cp",
        log_level: int = osdp.LogLevel.Emergency,
    ) -> None:
        if not pds:
            raise ValueError("an OSDP control panel needs at least one PD address")
        addresses = [p.address for p in pds]
        if len(set(addresses)) != len(addresses):
            raise ValueError(
                f"PD addresses {addresses} not accepted; accepted: distinct addresses on one line"
            )
        self.world = world
        self.bus = bus
        self.name = name
        self.pds = pds
        self.addresses = addresses
        self.events: dict[int, list[dict[str, Any]]] = {a: [] for a in addresses}
        self.completions: list[dict[str, Any]] = []
        self._online = 0
        self._sc = 0
        osdp_clock.seed_random(world.seed)
        self._channel = BusChannel(bus, name, on_data=self._kick)
        infos = [
            osdp.PDInfo(
                p.address,
                self._channel,
                scbk=p.scbk,
                name=f"pd-{p.address}",
                flags=[osdp.LibFlag.EnforceSecure] if p.scbk and p.enforce else [],
            )
            for p in pds
        ]
        self._cp = osdp.ControlPanel(
            infos,
            log_level=log_level,
            event_handler=self._on_event,
            command_completion_handler=self._on_completion,
        )
        self._refresher = Refresher(world, name, _Watched(self._cp.ctx, self._watch))
        world.add_node(self)

    def stop(self) -> None:
        self._refresher.stop()
        self._channel.close()

    def _kick(self) -> None:
        self._refresher.kick()

    # -- status ------------------------------------------------------------------------------
    def _index(self, address: int) -> int:
        if address not in self.addresses:
            raise KeyError(
                f"PD address {address!r} is not polled by {self.name!r}; polled: "
                f"{', '.join(map(str, self.addresses))}"
            )
        return self.addresses.index(address)

    def online(self, address: int) -> bool:
        return bool(self._online >> self._index(address) & 1)

    def sc_active(self, address: int) -> bool:
        return bool(self._sc >> self._index(address) & 1)

    def pd_id(self, address: int) -> dict[str, int]:
        osdp_clock.sync(self.world.now)
        return dict(self._cp.ctx.get_pd_id(self._index(address)) or {})

    def _watch(self) -> None:
        ctx = self._cp.ctx
        online, sc = int(ctx.status()), int(ctx.sc_status())
        for i, address in enumerate(self.addresses):
            bit = 1 << i
            if (online ^ self._online) & bit:
                self.world.trace.emit(
                    self.name,
                    "osdp",
                    "pd-online" if online & bit else "pd-offline",
                    address=address,
                )
            if (sc ^ self._sc) & bit:
                self.world.trace.emit(
                    self.name, "osdp", "sc-active" if sc & bit else "sc-inactive", address=address
                )
        self._online, self._sc = online, sc

    # -- commands ----------------------------------------------------------------------------
    def led(
        self,
        address: int,
        colour: str,
        led: int = 0,
        off_colour: str = "black",
        on_count: int = 1,
        off_count: int = 0,
        temporary: bool = False,
        timer_count: int = 0,
    ) -> bool:
        """Set a reader LED (permanent by default: steady ``colour`` when ``off_count`` is 0,
        blinking between the two colours otherwise; counts are in 100 ms units)."""
        for c in (colour, off_colour):
            if c not in COLOUR_CODES:
                raise ValueError(
                    f"LED colour {c!r} not accepted; accepted: {', '.join(COLOUR_CODES)}"
                )
        for what, n in (
            ("LED number", led),
            ("on count", on_count),
            ("off count", off_count),
            ("timer count", timer_count),
        ):
            if not 0 <= n <= 255:
                raise ValueError(f"{what} {n!r} not accepted; accepted: 0 to 255")
        command = {
            "command": osdp.Command.LED,
            "reader": 0,
            "led_number": led,
            "control_code": 2 if temporary else 1,
            "on_color": COLOUR_CODES[colour],
            "off_color": COLOUR_CODES[off_colour],
            "on_count": on_count,
            "off_count": off_count,
            "temporary": temporary,
            "timer_count": timer_count,
        }
        return self._submit(address, command, "led", colour=colour)

    def buzz(self, address: int, on_count: int = 2, off_count: int = 1, repeats: int = 1) -> bool:
        """Sound the reader's default tone ``repeats`` times (counts in 100 ms units)."""
        for what, n in (
            ("on count", on_count),
            ("off count", off_count),
            ("repeat count", repeats),
        ):
            if not 0 <= n <= 255:
                raise ValueError(f"buzzer {what} {n!r} not accepted; accepted: 0 to 255")
        command = {
            "command": osdp.Command.Buzzer,
            "reader": 0,
            "control_code": 2,
            "on_count": on_count,
            "off_count": off_count,
            "rep_count": repeats,
        }
        return self._submit(address, command, "buzzer", repeats=repeats)

    def _submit(self, address: int, command: dict[str, Any], kind: str, **details: Any) -> bool:
        index = self._index(address)
        osdp_clock.sync(self.world.now)
        ok = bool(self._cp.ctx.submit_command(index, command))
        self.world.trace.emit(
            self.name, "osdp", f"submit-{kind}", address=address, queued=ok, **details
        )
        return ok

    # -- callbacks from libosdp --------------------------------------------------------------
    def _on_event(self, index: int, event: dict[str, Any]) -> int:
        address = self.addresses[index]
        record: dict[str, Any] = {"t": self.world.now, **event}
        kind = event.get("event")
        details: dict[str, Any] = {}
        if kind == osdp.Event.CardRead:
            record["kind"] = "card"
            if event.get("format") == osdp.CardFormat.Wiegand and event.get("length") == 26:
                record["facility"], record["card"] = parse_wiegand26(event["data"])
                details = {"facility": record["facility"], "card": record["card"]}
            else:
                details = {"data": bytes(event.get("data", b""))}
        elif kind == osdp.Event.KeyPress:
            keys = bytes(event.get("data", b""))
            record["kind"] = "keypad"
            record["keys"] = "".join(
                "#" if b == 0x0D else "*" if b == 0x7F else chr(b) for b in keys
            )
            details = {"keys": record["keys"]}
        elif kind == osdp.Event.Status and event.get("type") == osdp.StatusReportType.Local:
            report = bytes(event.get("report", b""))
            record["kind"] = "status"
            record["tamper"] = bool(report[:1] and report[0])
            record["power_fault"] = bool(report[1:2] and report[1])
            details = {"tamper": record["tamper"], "power_fault": record["power_fault"]}
        else:
            record["kind"] = f"event-{kind}"
        self.events[address].append(record)
        self.world.trace.emit(self.name, "osdp", record["kind"], address=address, **details)
        return 0

    def _on_completion(self, address: int, command: dict[str, Any], status: int) -> None:
        record = {
            "t": self.world.now,
            "address": address,
            "command": command.get("command"),
            "status": COMPLETION.get(status, str(status)),
        }
        self.completions.append(record)
        self.world.trace.emit(
            self.name,
            "osdp",
            "command-complete",
            address=address,
            command=record["command"],
            status=record["status"],
        )

    # -- waiting in world time ---------------------------------------------------------------
    async def until(
        self, condition: Callable[[], bool], timeout: float, step: float = 0.05
    ) -> bool:
        """Wait (world time) until ``condition()`` holds; False after ``timeout`` seconds."""
        end = self.world.now + timeout
        while not condition():
            if self.world.now >= end:
                return False
            await asyncio.sleep(step)
        return True


class _Watched:
    """A libosdp context whose refresh is followed by a status check."""

    def __init__(self, ctx: Any, after: Callable[[], None]) -> None:
        self._ctx = ctx
        self._after = after

    def refresh(self) -> None:
        self._ctx.refresh()
        self._after()
