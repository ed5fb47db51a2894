"""The Modbus RTU fuzz campaign: generated frames at the reference slaves on a line, in virtual
time (see :mod:`scenarios.rs485.fuzz`).

Inputs (:func:`modbus_input`): random bytes, truncated requests, bad CRCs, good CRCs around
random function codes, well-formed requests with random fields (quantities and addresses in and
out of range, writes), identity requests, broadcasts of any of these, oversize frames and two
requests without the silence between them. A raw sender drives each onto the line where the
slave under test (unit 1) and a second slave (unit 2) listen, and hears the answer.

Answer classes: ``normal``, ``exception-<code>``, ``silence``; ``crash`` when an error or a
traceback was logged while the input was handled, ``hang`` when a good request right after it
was not answered. What the protocol forbids (an answer to a broadcast, to a corrupt or a runt
frame, from a unit not addressed, a malformed reply, two replies) is counted as a violation and
fails the ``the protocol held`` check. The slaves' holding registers and coils are followed
through every write that was answered normally (a broadcast write is replayed to each unit:
writes are idempotent, so the replay tells whether the unit took it); afterwards they must hold
exactly that.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.protocols.modbus_rtu import BROADCAST, EXCEPTION_BIT, MAX_FRAME, Request, cut, frame
from devices.rs485.modbus_rules import QUANTITY_LIMITS
from devices.rs485.raw_port import RawPort
from scenarios.fuzzing import FuzzTally
from scenarios.rs485.bed import LocalModbusLine

UNITS = (1, 2)
TABLE = 32  # holding registers and coils of a standard slave
WINDOW_S = 0.35  # a 256-byte reply at 9600 baud takes 0.27 s
WRITES = (5, 6, 15, 16)
DECLARED = (1, 2, 3, 4, 5, 6, 15, 16, 17, 43)
SERIAL = b"SN000001"  # input registers 0-3 of unit 1

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ModbusInput:
    kind: str
    data: bytes

    def __repr__(self) -> str:
        return f"{self.kind}: {self.data.hex(' ')}"


def _fields(rng: random.Random, function: int) -> bytes:
    """Fields for ``function``: mostly in range, sometimes at or past the edges."""
    address = rng.choice((0, 1, rng.randrange(TABLE), TABLE - 1, TABLE, rng.randrange(65536)))
    limit = QUANTITY_LIMITS.get(function, 1)
    quantity = rng.choice((1, 2, rng.randrange(1, 9), limit, limit + 1, 0, rng.randrange(65536)))
    if function == 5:
        value = rng.choice((0x0000, 0xFF00, rng.randrange(65536)))
        return address.to_bytes(2, "big") + value.to_bytes(2, "big")
    if function == 6:
        value = rng.choice((rng.randrange(1001), rng.randrange(65536)))
        return address.to_bytes(2, "big") + value.to_bytes(2, "big")
    head = address.to_bytes(2, "big") + quantity.to_bytes(2, "big")
    if function in (15, 16):
        need = (quantity + 7) // 8 if function == 15 else 2 * quantity
        count = rng.choice((need, need + 1, rng.randrange(256))) % 247
        if function == 16 and rng.random() < 0.7:  # mostly values the setpoint's limits take
            words = (rng.randrange(1001).to_bytes(2, "big") for _ in range(count // 2 + 1))
            values = b"".join(words)[:count]
        else:
            values = bytes(rng.randrange(256) for _ in range(count))
        return head + bytes([count]) + values
    if function == 17:
        return b""
    if function == 43:
        return bytes([rng.choice((14, 14, 13, rng.randrange(256))), rng.randrange(6)]) + bytes(
            [rng.choice((0, 1, 2, 3, rng.randrange(256)))]
        )
    return head


def _request(rng: random.Random, unit: int) -> bytes:
    function = rng.choice(DECLARED)
    return frame(unit, bytes([function]) + _fields(rng, function))


def _unit(rng: random.Random) -> int:
    return rng.choice((1, 1, 1, 2, BROADCAST, 3, rng.randrange(256)))


def modbus_input(seed: int, i: int) -> ModbusInput:
    """Input ``i`` of a campaign (replayable from ``seed`` and ``i`` alone)."""
    rng = random.Random(f"{seed}/modbus/{i}")
    kind = rng.choice(
        (
            "random",
            "truncated",
            "bad-crc",
            "random-function",
            "request",
            "request",
            "broadcast",
            "oversize",
            "back-to-back",
        )
    )
    if kind == "random":
        size = rng.choice((1, 2, 3, rng.randrange(1, 12), rng.randrange(1, 300)))
        data = bytes([_unit(rng)]) + bytes(rng.randrange(256) for _ in range(size - 1))
    elif kind == "truncated":
        whole = _request(rng, _unit(rng))
        data = whole[: rng.randrange(1, len(whole))]
        if rng.random() < 0.5 and len(data) >= 2:  # cut short, with a CRC that fits the cut
            data = frame(data[0], data[1:])
    elif kind == "bad-crc":
        whole = bytearray(_request(rng, _unit(rng)))
        whole[rng.choice((-1, -2, rng.randrange(len(whole))))] ^= 1 << rng.randrange(8)
        data = bytes(whole)
    elif kind == "random-function":
        pdu = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
        data = frame(_unit(rng), pdu)
    elif kind == "request":
        data = _request(rng, rng.choice((1, 1, 2)))
    elif kind == "broadcast":
        data = _request(rng, BROADCAST)
    elif kind == "oversize":
        pdu = bytes(rng.randrange(256) for _ in range(rng.randrange(MAX_FRAME - 2, 600)))
        data = frame(rng.choice((1, BROADCAST)), pdu)
    else:
        data = _request(rng, 1) + _request(rng, rng.choice((1, 2)))
    return ModbusInput(kind, data)


@dataclass
class Tables:
    """What the slaves' holding registers and coils should hold, by unit."""

    holding: dict[int, list[int]] = field(default_factory=dict)
    coils: dict[int, list[bool]] = field(default_factory=dict)

    def apply(self, unit: int, request: Request) -> None:
        """A write the unit answered normally (so it took it)."""
        fc, data = request.function, request.data
        at = int.from_bytes(data[0:2], "big")
        holding, coils = self.holding[unit], self.coils[unit]
        if fc == 5 and at < TABLE:
            coils[at] = data[2:4] == b"\xff\x00"
        elif fc == 6 and at < TABLE:
            holding[at] = int.from_bytes(data[2:4], "big")
        elif fc == 15:
            for n in range(int.from_bytes(data[2:4], "big")):
                if at + n < TABLE:
                    coils[at + n] = bool(data[5 + n // 8] >> (n % 8) & 1)
        elif fc == 16:
            for n in range(int.from_bytes(data[2:4], "big")):
                if at + n < TABLE:
                    holding[at + n] = int.from_bytes(data[5 + 2 * n : 7 + 2 * n], "big")


class ModbusCampaign:
    """One campaign's line, probe and bookkeeping."""

    def __init__(self, bed: LocalModbusLine, tally: FuzzTally) -> None:
        self.bed = bed
        self.tally = tally
        self.probe: RawPort = bed.add_probe("fuzzer")
        self.tables = Tables()
        self.violations = 0

    async def start(self) -> None:
        await self.bed.start()
        await self.bed.place({"unit": 2})
        for unit in UNITS:
            holding, coils = await self.read_tables(unit)
            if holding is None or coils is None:
                raise RuntimeError(f"slave {unit} did not answer before the campaign")
            self.tables.holding[unit], self.tables.coils[unit] = holding, coils

    async def ask(self, unit: int, pdu: bytes) -> Request | None:
        """A good request; its normal reply, or None."""
        heard = await self.probe.exchange(frame(unit, pdu), WINDOW_S)
        reply = cut(heard[0]) if len(heard) == 1 else None
        if isinstance(reply, Request) and reply.address == unit and reply.function == pdu[0]:
            return reply
        return None

    async def read_tables(self, unit: int) -> tuple[list[int] | None, list[bool] | None]:
        regs = await self.ask(unit, bytes([3, 0, 0, 0, TABLE]))
        bits = await self.ask(unit, bytes([1, 0, 0, 0, TABLE]))
        holding = None
        if regs is not None and len(regs.data) == 1 + 2 * TABLE:
            holding = [
                int.from_bytes(regs.data[1 + 2 * n : 3 + 2 * n], "big") for n in range(TABLE)
            ]
        coils = None
        if bits is not None and len(bits.data) == 1 + TABLE // 8:
            coils = [bool(bits.data[1 + n // 8] >> (n % 8) & 1) for n in range(TABLE)]
        return holding, coils

    def violation(self, what: str, item: ModbusInput) -> None:
        self.violations += 1
        if len(self.tally.examples) < self.tally.max_examples:
            self.tally.examples.append({"class": f"violation: {what}", "input": repr(item)[:500]})

    async def one(self, item: ModbusInput) -> str:
        """Throw ``item``; its answer class (hang checked by the caller)."""
        heard = await self.probe.exchange(item.data, WINDOW_S)
        request = cut(item.data)
        if not heard:
            if isinstance(request, Request) and request.broadcast and request.function in WRITES:
                await self.replay(request)
            return "silence"
        if len(heard) > 1:
            self.violation(f"{len(heard)} replies", item)
        reply = cut(heard[0])
        if not isinstance(request, Request):
            self.violation(f"an answer to a {request} frame", item)
        elif request.broadcast:
            self.violation("an answer to a broadcast", item)
        if not isinstance(reply, Request):
            self.violation(f"a {reply} reply", item)
            return "malformed"
        if isinstance(request, Request) and reply.address != request.address:
            self.violation(f"unit {reply.address} answered a frame for {request.address}", item)
        if reply.function & EXCEPTION_BIT:
            return f"exception-{reply.data[0]}" if reply.data else "malformed"
        if isinstance(request, Request) and request.function in WRITES:
            if reply.address in UNITS and reply.function == request.function:
                self.tables.apply(reply.address, request)
        return "normal"

    async def replay(self, request: Request) -> None:
        """A broadcast write: each unit took it if it takes it now (writes are idempotent)."""
        for unit in UNITS:
            if await self.ask(unit, bytes([request.function]) + request.data) is not None:
                self.tables.apply(unit, Request(unit, request.function, request.data))

    async def alive(self) -> bool:
        """The slave under test answers a good request at once."""
        return await self.ask(1, bytes([3, 0, 0, 0, 1])) is not None

    async def check(self) -> None:
        """After the campaign: a good request answered correctly, the tables intact."""
        serial = await self.ask(1, bytes([4, 0, 0, 0, 4]))
        self.tally.check(
            "a good request is answered correctly",
            serial is not None and serial.data == bytes([8]) + SERIAL,
        )
        intact = True
        for unit in UNITS:
            holding, coils = await self.read_tables(unit)
            intact &= holding == self.tables.holding[unit] and coils == self.tables.coils[unit]
        self.tally.check("holding registers and coils hold what the answered writes left", intact)
        self.tally.check("the protocol held", self.violations == 0)
