"""Fuzz campaigns against the RS485 line's reference devices (see :mod:`scenarios.fuzzing` for
the contract and the tally):

* ``modbus``: frames at pymodbus slaves behind our receiver (:mod:`scenarios.rs485.fuzz_modbus`);
* ``osdp``: packets at a libosdp reader polled by our control panel
  (:mod:`scenarios.rs485.fuzz_osdp`).

Each runs on a line in one world, in virtual time (the OSDP one in real time where libosdp
keeps the wall clock, see :mod:`devices.rs485.osdp_clock`): a raw sender drives every input
onto the line as an outside master behind a bridge would. After each input the campaign checks
that no error or traceback was logged (else ``crash``, or ``unhandled`` for an error without a
traceback) and that the device still answers a good request (else ``hang``); after
:data:`MAX_HANGS` hangs it stops. Input ``i`` comes from ``random.Random(f"{seed}/<interface>/
{i}")``, so it can be replayed alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from scenarios.fuzzing import FuzzTally
from scenarios.rs485.bed import LocalModbusLine, LocalOsdpLine
from scenarios.rs485.fuzz_modbus import ModbusCampaign, modbus_input
from scenarios.rs485.fuzz_osdp import OsdpCampaign, osdp_input

SYSTEM = "rs485"
INTERFACES = ("modbus", "osdp")
MAX_HANGS = 5

Progress = Callable[[int, int], None]


class _Campaign(Protocol):
    async def start(self) -> None: ...

    async def one(self, item: Any) -> str: ...

    async def alive(self) -> bool: ...

    async def check(self) -> None: ...


class _Errors(logging.Handler):
    """Log records at ERROR or above, those with a traceback apart."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.tracebacks: list[str] = []
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name}: {record.getMessage()[:300]}"
        traceback = record.exc_info or "Traceback" in record.getMessage()
        (self.tracebacks if traceback else self.errors).append(text)

    def count(self) -> int:
        return len(self.tracebacks) + len(self.errors)


async def _run(
    camp: _Campaign,
    make: Callable[[int], Any],
    examples: int,
    tally: FuzzTally,
    progress: Progress | None,
) -> None:
    errors = _Errors()
    root, library = logging.getLogger(), logging.getLogger("pymodbus")
    level = library.level
    root.addHandler(errors)
    library.setLevel(logging.ERROR)  # our master silences pymodbus; its errors count here
    hangs = 0
    try:
        await camp.start()
        for i in range(examples):
            item = make(i)
            tracebacks, others = len(errors.tracebacks), len(errors.errors)
            answer = await camp.one(item)
            if len(errors.tracebacks) > tracebacks:
                answer = "crash"
            elif len(errors.errors) > others:
                answer = "unhandled"
            elif not await camp.alive():
                answer = "hang"
                hangs += 1
            tally.record(answer, item)
            if progress is not None:
                progress(i + 1, examples)
            if hangs >= MAX_HANGS:
                tally.examples.append({"class": "stopped", "input": f"after input #{i}"})
                break
        await camp.check()
    finally:
        root.removeHandler(errors)
        library.setLevel(level)
    tally.check("no traceback or error in the log", errors.count() == 0)
    for line in (errors.tracebacks + errors.errors)[:5]:
        tally.examples.append({"class": "log", "input": line})


def campaign(
    interface: str, examples: int, seed: int, progress: Progress | None = None
) -> FuzzTally:
    """Run ``examples`` inputs at ``interface`` (one of :data:`INTERFACES`); the tally."""
    if interface == "world-control":  # the HTTP world-control API: scenarios.control_fuzz
        from scenarios import control_fuzz

        return control_fuzz.campaign("rs485", examples, seed, progress)
    if interface not in INTERFACES:
        raise ValueError(
            f"rs485 fuzz interface {interface!r} unknown; accepted: {', '.join(INTERFACES)}"
        )
    tally = FuzzTally(SYSTEM, interface)
    if interface == "modbus":
        bed: LocalModbusLine | LocalOsdpLine = LocalModbusLine(seed=seed, keep_trace=False)
        camp: _Campaign = ModbusCampaign(bed, tally)
        make: Callable[[int], Any] = partial(modbus_input, seed)
    else:
        bed = LocalOsdpLine(seed=seed, keep_trace=False)
        camp = OsdpCampaign(bed, tally)
        make = partial(osdp_input, seed)
    try:
        bed.run(_run(camp, make, examples, tally, progress))
    finally:
        bed.close()
    return tally
