"""The OSDP fuzz campaign: generated packets at a reader (a libosdp PD) on a line while our
control panel polls it over the secure channel (see :mod:`scenarios.rs485.fuzz`); in virtual
time where libosdp runs on the world's clock.

Inputs (:func:`osdp_input`): random bytes; packets with random commands and data (CRC or
checksum, any sequence number; to the reader, to the broadcast address, to others, with the
reply bit set); the same truncated, with a bad CRC, or oversize; secure blocks with a bad MAC;
secure channel handshakes that are not the control panel's. Each is driven right after the
reader answered a poll, while the line is quiet until the control panel's next one.

Answer classes: ``reply-<NAME>`` (what the reader answered: ``reply-NAK``...), ``collision``
(its answer met the control panel's next poll), ``silence``; ``crash`` when an error or a
traceback was logged, ``hang`` when the reader does not answer a control panel's polls again
(the panel sees it online over the secure channel and it replies): see
:meth:`OsdpCampaign.alive`. Afterwards the reader must be online over the secure channel and a
card read must reach the control panel.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from devices.protocols.osdp_frame import (
    BROADCAST,
    COMMANDS,
    CONTROL_CRC,
    CONTROL_SCB,
    REPLY_BIT,
    SOM,
    build,
    find_packet,
)
from devices.rs485.osdp_cp import OsdpControlPanel, PdConfig
from devices.rs485.raw_port import RawPort
from scenarios.fuzzing import FuzzTally
from scenarios.rs485.bed import LocalOsdpLine
from sim.rs485 import LineFrame

READER = 1
PATIENCE_S = 2.0  # how long the control panel may leave the reader offline before a new one
RECOVERY_S = 5.0  # how long a new control panel may take to bring the reader online
QUIET_WAIT_S = 0.3  # at most this long for the reader's reply to a poll before driving anyway
ANSWER_S = 0.5  # how long the reader has to answer an input (until the panel speaks again)
CARD = (12, 3456)
KEEP_FRAMES = 64

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class OsdpInput:
    kind: str
    data: bytes

    def __repr__(self) -> str:
        return f"{self.kind}: {self.data.hex(' ')}"


def _address(rng: random.Random) -> int:
    return rng.choice((READER, READER, READER, BROADCAST, rng.randrange(127)))


def _control(rng: random.Random, secure: bool = False) -> int:
    crc = CONTROL_CRC if secure or rng.random() < 0.9 else 0
    return rng.randrange(4) | crc | (CONTROL_SCB if secure else 0)


def _command(rng: random.Random) -> bytes:
    code = rng.choice((*COMMANDS, rng.randrange(256)))
    return bytes([code]) + bytes(rng.randrange(256) for _ in range(rng.randrange(17)))


def _secure_body(rng: random.Random) -> bytes:
    """A security block the reader cannot verify: a MAC'd command with a made-up MAC, or a
    handshake step (challenge, server cryptogram) with made-up numbers."""
    kind = rng.choice((0x15, 0x17, 0x11, 0x13))
    mac = bytes(rng.randrange(256) for _ in range(4))
    if kind == 0x15:
        return bytes([2, kind]) + _command(rng) + mac
    if kind == 0x17:
        return bytes([2, kind, rng.choice((*COMMANDS, 0x60))]) + bytes(16) + mac
    code, size = (0x76, 8) if kind == 0x11 else (0x77, 16)
    return bytes([3, kind, rng.randrange(2), code]) + bytes(rng.randrange(256) for _ in range(size))


def osdp_input(seed: int, i: int) -> OsdpInput:
    """Input ``i`` of a campaign (replayable from ``seed`` and ``i`` alone)."""
    rng = random.Random(f"{seed}/osdp/{i}")
    kind = rng.choice(
        (
            "random",
            "command",
            "command",
            "truncated",
            "bad-crc",
            "bad-mac",
            "bad-mac",
            "oversize",
            "reply-bit",
        )
    )
    if kind == "random":
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        if rng.random() < 0.5:
            data = bytes([SOM, READER]) + data
    elif kind == "command":
        data = build(_address(rng), _control(rng), _command(rng))
    elif kind == "truncated":
        whole = build(READER, _control(rng), _command(rng))
        data = whole[: rng.randrange(1, len(whole))]
    elif kind == "bad-crc":
        whole = bytearray(build(READER, _control(rng), _command(rng)))
        whole[rng.choice((-1, -2))] ^= 1 << rng.randrange(8)
        data = bytes(whole)
    elif kind == "bad-mac":
        data = build(READER, _control(rng, secure=True), _secure_body(rng))
    elif kind == "oversize":
        body = _command(rng) + bytes(rng.randrange(256) for _ in range(rng.randrange(256, 600)))
        data = build(READER, _control(rng), body)
    else:
        data = build(READER | REPLY_BIT, _control(rng), _command(rng))
    if rng.random() < 0.2:
        data = b"\xff" + data  # a mark byte first, as some control panels send
    return OsdpInput(kind, data)


class OsdpCampaign:
    """One campaign's line, control panel, probe and what the line carried."""

    def __init__(self, bed: LocalOsdpLine, tally: FuzzTally) -> None:
        self.bed = bed
        self.tally = tally
        self.probe = RawPort(bed.bus, "fuzzer")
        bed.add_closer(self.probe.close)
        self.frames: list[LineFrame] = []
        self._arrived = asyncio.Event()
        self.cp: OsdpControlPanel | None = None
        self.panels = 0
        self.reader = f"reader-{READER}"
        self._after = 0  # the frame from which the reader must answer the panel again
        bed.bus.listeners.append(self._heard)

    def _heard(self, frame: LineFrame) -> None:
        self.frames.append(frame)
        self._arrived.set()

    async def _until(self, condition: Callable[[], bool], seconds: float) -> bool:
        """Wait (world time) until ``condition()`` holds after some frame; False on time out."""
        world = self.bed.world
        end = world.now + seconds
        while not condition():
            left = end - world.now
            if left <= 0:
                return False
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                return condition()
        return True

    def _online(self) -> bool:
        assert self.cp is not None
        return self.cp.online(READER) and self.cp.sc_active(READER)

    async def start(self) -> None:
        bed = self.bed
        await bed.start()
        self._new_panel()
        assert self.cp is not None
        if not await self.cp.until(self._online, RECOVERY_S):
            raise RuntimeError("the reader did not come online before the campaign")

    async def one(self, item: OsdpInput) -> str:
        """Drive ``item`` once the reader has answered a poll; what the reader answered."""
        if len(self.frames) > 4 * KEEP_FRAMES:
            del self.frames[:-KEEP_FRAMES]
        mark = len(self.frames)
        await self._until(lambda: self._last_from_reader(mark), QUIET_WAIT_S)
        sent = len(self.frames)
        self.probe.port.send(item.data)
        await self._until(lambda: self._panel_spoke(sent) is not None, ANSWER_S)
        end = self._panel_spoke(sent)
        answers = [f for f in self.frames[sent:end] if self.reader in f.drivers]
        self._after = end if end is not None else len(self.frames)
        clean = [f for f in answers if f.drivers == (self.reader,) and f.clean]
        if clean:
            packet = find_packet(clean[0].line_bytes)
            return f"reply-{packet.name}" if not isinstance(packet, str) else "reply-garbled"
        return "collision" if answers else "silence"

    def _last_from_reader(self, mark: int) -> bool:
        return len(self.frames) > mark and self.frames[-1].drivers == (self.reader,)

    def _panel_spoke(self, since: int) -> int | None:
        assert self.cp is not None
        for n in range(since, len(self.frames)):
            if self.cp.name in self.frames[n].drivers:
                return n
        return None

    async def alive(self) -> bool:
        """The reader answers a control panel's polls again (a reply other than NAK, the panel
        has it online over the secure channel). libosdp's control panel waits
        up to 300 s before it retries a reader it took offline (its policy, not the reader's
        fault): when it is offline after :data:`PATIENCE_S`, a new control panel is started
        in its place and must bring the reader online within :data:`RECOVERY_S`."""
        after = self._after

        def answering() -> bool:
            return self._online() and any(self._accepted(f) for f in self.frames[after:])

        if await self._until(answering, PATIENCE_S):
            return True
        self._new_panel()
        after = len(self.frames)
        return await self._until(answering, RECOVERY_S)

    def _accepted(self, frame: LineFrame) -> bool:
        """A clean reply from the reader that is not a refusal (a NAK takes it offline)."""
        if frame.drivers != (self.reader,) or not frame.clean:
            return False
        packet = find_packet(frame.line_bytes)
        return not isinstance(packet, str) and packet.reply and packet.name != "NAK"

    def _new_panel(self) -> None:
        bed = self.bed
        if self.cp is not None:
            self.cp.stop()
        self.panels += 1
        self.cp = bed.add_panel(f"cp-{self.panels}", [PdConfig(READER, bed.scbk)])

    async def check(self) -> None:
        """Afterwards: the reader online over the secure channel, a card read delivered."""
        assert self.cp is not None
        cp = self.cp
        online = await cp.until(self._online, RECOVERY_S)
        self.tally.check("the control panel has the reader online over the secure channel", online)
        before = len(cp.events[READER])
        queued = await self.bed.present_card(READER, *CARD)

        def delivered() -> bool:
            return any(
                (e.get("facility"), e.get("card")) == CARD for e in cp.events[READER][before:]
            )

        self.tally.check(
            "a card read reaches the control panel", queued and await cp.until(delivered, 2)
        )
