"""A terminal's RS485 slave port: a control panel on the line that searches for its slaves.

Protocol (a stand-in, chosen deliberately): Suprema terminals talk to their RS485 slaves
(readers, door modules) in Suprema's own protocol, in which the terminal is the master that
polls slave addresses and learns each answering slave's device ID. OSDP is the open protocol
built the same way (a control panel polls PD addresses; a PD answers ``osdp_ID`` with its
identity) and its PDs are access-control readers, which is what a terminal carries as slaves;
Modbus RTU devices are I/O sensors. So the port is a libosdp ``ControlPanel``
(:class:`devices.rs485.osdp_cp.OsdpControlPanel`) and a slave's device ID is the serial number
of the PDID it reported over the line, never a value the harness hands the terminal.

Search: libosdp builds a panel for a fixed address list and backs off exponentially from
addresses that stay silent, so a slave powered on later would be noticed late. A search
therefore starts a fresh panel over the scan addresses and waits ``window_s`` of world time;
the PDs online at the end are the slaves found. That panel then stays on: a slave powered off
afterwards goes offline after libosdp's reply timeouts (about 5 s) and leaves :meth:`found`;
the next search probes every address afresh. While a search runs, :meth:`found` keeps the
previous result.

Clock: libosdp runs on the world's clock (:mod:`devices.rs485.osdp_clock`), refreshed from the
world's loop; no thread, no wall clock in virtual mode.
"""

from __future__ import annotations

import asyncio

from devices.rs485.osdp_cp import OsdpControlPanel, PdConfig
from devices.rs485.osdp_values import check_address
from sim.rs485 import Rs485Bus
from sim.world import World

DEFAULT_ADDRESSES = range(0, 8)
DEFAULT_WINDOW_S = 5.0


class SlavePort:
    """The RS485 port of one terminal: the bus, the addresses it scans, the live panel."""

    def __init__(
        self,
        world: World,
        bus: Rs485Bus,
        name: str,
        addresses: range | list[int] = DEFAULT_ADDRESSES,
        window_s: float = DEFAULT_WINDOW_S,
    ) -> None:
        self.addresses = list(addresses)
        if not self.addresses:
            raise ValueError(
                "a slave port needs at least one address to scan; accepted: OSDP addresses 0 to 126"
            )
        for address in self.addresses:
            check_address(address)
        if not 0.5 <= window_s <= 60.0:
            raise ValueError(f"search window {window_s!r} s not accepted; accepted: 0.5 to 60 s")
        self.world = world
        self.bus = bus
        self.name = name
        self.window_s = window_s
        self.searches = 0
        self._panel: OsdpControlPanel | None = None
        self._last: dict[int, int] = {}
        self._search: asyncio.Task[dict[int, int]] | None = None

    @property
    def searching(self) -> bool:
        return self._search is not None and not self._search.done()

    def found(self) -> dict[int, int]:
        """Slave device ID -> OSDP address of every slave online on the line now."""
        if self.searching or self._panel is None:
            return dict(self._last)
        panel = self._panel
        found: dict[int, int] = {}
        for address in self.addresses:
            if panel.online(address):
                serial = int(panel.pd_id(address).get("serial_number", 0))
                if serial and serial not in found:
                    found[serial] = address
        return found

    def search(self) -> asyncio.Task[dict[int, int]]:
        """Start a search (or join the one running); the task's result is :meth:`found`."""
        if not self.searching:
            self._search = self.world.spawn(self._run(), name=f"{self.name}-slave-search")
        assert self._search is not None
        return self._search

    async def _run(self) -> dict[int, int]:
        self._close_panel()
        self.searches += 1
        self.world.trace.emit(
            self.name, "app", "slave-search-start", bus=self.bus.name, addresses=self.addresses
        )
        self._panel = OsdpControlPanel(
            self.world,
            self.bus,
            [PdConfig(a) for a in self.addresses],
            name=f"{self.name}-cp{self.searches}",
        )
        await asyncio.sleep(self.window_s)
        self._search = None
        self._last = self.found()
        self.world.trace.emit(
            self.name,
            "app",
            "slave-search",
            bus=self.bus.name,
            found={str(k): v for k, v in sorted(self._last.items())},
        )
        return dict(self._last)

    def stop(self) -> None:
        """The terminal powers off: the panel leaves the line, what it knew is forgotten."""
        if self._search is not None:
            self._search.cancel()
            self._search = None
        self._close_panel()
        self._last = {}

    def _close_panel(self) -> None:
        if self._panel is not None:
            self._panel.stop()
            self.world.remove_node(self._panel.name)
            self._panel = None
