"""OSDP peripheral devices (card readers with a keypad, LEDs and a buzzer) on libosdp.

Each reader is a real libosdp ``PeripheralDevice`` whose channel is an RS485 bus port
(:mod:`devices.rs485.osdp_link`), refreshed from the world's loop on the world's clock
(:mod:`devices.rs485.osdp_clock`). What a person would see and hear on the reader — LED
colours, the buzzer, text — is :attr:`OsdpReader.state`, changed only by the commands the CP
sent over the line. A card presented is reported as a 26-bit Wiegand read (facility code and
card number with both parity bits), or as any raw read (:meth:`OsdpReader.read_card`); keys
pressed as a keypad event; a tamper switch as a local status report (``osdp_LSTATR``).

With an SCBK the reader enforces the secure channel (``EnforceSecure``): a CP with another key
cannot bring it online, not even one that falls back to plain when the handshake fails (the
reader answers its plain commands other than osdp_ID, osdp_CAP and the handshake with
osdp_NAK). Then a plain packet with a command code libosdp does not implement is
answered with osdp_NAK before libosdp sees it (libosdp 3.2.9 crashes on it:
:mod:`devices.rs485.osdp_guard`). Power off loses libosdp's state (sequence numbers, session
keys), as a real reader's reboot does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from devices.deviations import Deviations
from devices.rs485.deviations import OSDP_DEVIATIONS as DEVIATIONS
from devices.rs485.deviations import osdp_deviations
from devices.rs485.osdp_clock import osdp
from devices.rs485.osdp_guard import PacketGuard
from devices.rs485.osdp_link import BusChannel, Refresher, check_address, check_key
from sim.rs485 import Rs485Bus
from sim.world import World

COLOURS = {
    0: "black",
    1: "red",
    2: "green",
    3: "amber",
    4: "blue",
    5: "magenta",
    6: "cyan",
    7: "white",
}
KEYS = "0123456789*#"
_KEY_CODES = {**{str(d): 0x30 + d for d in range(10)}, "*": 0x7F, "#": 0x0D}
WIEGAND_26_FACILITY = range(256)
WIEGAND_26_CARD = range(65536)
CARD_FORMATS = {
    "wiegand": osdp.CardFormat.Wiegand,
    "raw": osdp.CardFormat.Unspecified,
    "ascii": osdp.CardFormat.ASCII,
}
MAX_CARD_BYTES = 64
__all__ = ["DEVIATIONS", "OsdpReader", "ReaderSpec", "ReaderState", "parse_wiegand26", "wiegand26"]


def wiegand26(facility: int, card: int) -> bytes:
    """Facility code (8 bits) and card number (16 bits) framed by even and odd parity, 26 bits
    MSB first, padded to 4 bytes."""
    if facility not in WIEGAND_26_FACILITY or card not in WIEGAND_26_CARD:
        raise ValueError(
            f"card {facility}:{card} not accepted; accepted: facility 0-255 and "
            "card number 0-65535 (26-bit Wiegand)"
        )
    payload = (facility << 16) | card
    even = bin(payload >> 12).count("1") & 1
    odd = (bin(payload & 0xFFF).count("1") & 1) ^ 1
    bits = (even << 25) | (payload << 1) | odd
    return (bits << 6).to_bytes(4, "big")


def parse_wiegand26(data: bytes) -> tuple[int, int]:
    bits = int.from_bytes(data[:4], "big") >> 6
    payload = (bits >> 1) & 0xFFFFFF
    return payload >> 16, payload & 0xFFFF


@dataclass
class ReaderSpec:
    address: int
    scbk: bytes | None = None
    name: str = ""
    vendor_code: int = 0x00A1B2
    model: int = 1
    serial_number: int = 0
    firmware: int = 0x010203
    leds: int = 1
    sound: bool = True
    keypad: bool = True

    def __post_init__(self) -> None:
        check_address(self.address)
        self.scbk = check_key(self.scbk)
        if not self.name:
            self.name = f"reader-{self.address}"
        if not self.serial_number:
            self.serial_number = 0x1000 + self.address

    def capabilities(self) -> Any:
        caps = [
            (osdp.Capability.CardDataFormat, 1, 1),
            (osdp.Capability.LEDControl, 1, self.leds),
            (osdp.Capability.TextOutput, 1, 1),
        ]
        if self.sound:
            caps.append((osdp.Capability.AudibleControl, 1, 1))
        if self.scbk is not None:
            caps.append((osdp.Capability.CommunicationSecurity, 1, 1))
        return osdp.PDCapabilities(caps)


@dataclass
class ReaderState:
    """What the reader shows: per LED its colours and pattern, the buzzer, text."""

    leds: dict[int, dict[str, Any]] = field(default_factory=dict)
    buzzer: dict[str, Any] = field(default_factory=lambda: {"tone": "off", "beeps": 0})
    beeps: int = 0
    text: str = ""
    commands: list[dict[str, Any]] = field(default_factory=list)

    def led_colour(self, led: int = 0) -> str:
        return str(self.leds.get(led, {}).get("colour", "black"))


class OsdpReader:
    """One OSDP reader node on a bus; ``deviations``: the ways it misbehaves on purpose
    (:mod:`devices.rs485.deviations`; none by default)."""

    def __init__(
        self,
        world: World,
        bus: Rs485Bus,
        spec: ReaderSpec,
        log_level: int = osdp.LogLevel.Emergency,
        deviations: Iterable[str] | Deviations = (),
    ) -> None:
        self.deviations = osdp_deviations(deviations)
        self.world = world
        self.bus = bus
        self.spec = spec
        self.name = spec.name
        self.log_level = log_level
        self.state = ReaderState()
        self._pd: Any = None
        self._guard: PacketGuard | None = None
        self._channel: BusChannel | None = None
        self._refresher: Refresher | None = None
        world.add_node(self)

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Power on: a fresh libosdp PD on a new bus port."""
        if self._pd is not None:
            return
        spec = self.spec
        scbk = None if self.deviations.active("secure-channel-off") else spec.scbk
        vendor = 0 if self.deviations.active("pdid-vendor-wrong") else spec.vendor_code
        enforce = scbk is not None and not self.deviations.active("sc-not-enforced")
        flags = [osdp.LibFlag.EnforceSecure] if enforce else []
        self._guard = PacketGuard(spec.address) if scbk is not None else None
        screen = self._screen if self._guard is not None else None
        channel = BusChannel(self.bus, self.name, on_data=self._kick, screen=screen)
        info = osdp.PDInfo(
            spec.address,
            channel,
            scbk=scbk,
            name=spec.name,
            flags=flags,
            id=osdp.PdId(2, spec.model, vendor, spec.serial_number, spec.firmware),
        )
        self._pd = osdp.PeripheralDevice(
            info, spec.capabilities(), log_level=self.log_level, command_handler=self._on_command
        )
        self._channel = channel
        self._refresher = Refresher(self.world, self.name, self._pd.ctx)
        self.world.trace.emit(
            self.name, "osdp", "power-on", address=spec.address, secure=spec.scbk is not None
        )

    def stop(self) -> None:
        """Power off: the port goes quiet and libosdp's state is lost."""
        if self._pd is None:
            return
        assert self._refresher is not None and self._channel is not None
        self._refresher.stop()
        self._channel.close()
        self._pd = self._channel = self._refresher = None
        self.world.trace.emit(self.name, "osdp", "power-off")

    @property
    def powered(self) -> bool:
        return self._pd is not None

    def _kick(self) -> None:
        if self._refresher is not None:
            self._refresher.kick()

    def _screen(self, data: bytes) -> tuple[bytes, bytes | None]:
        assert self._guard is not None
        data, reply = self._guard.screen(data)
        if reply is not None:
            self.world.trace.emit(self.name, "osdp", "packet-refused", reason="unknown command")
        return data, reply

    # -- what libosdp reports ----------------------------------------------------------------
    def online(self) -> bool:
        return self._pd is not None and bool(self._pd.ctx.is_online())

    def sc_active(self) -> bool:
        return self._pd is not None and bool(self._pd.ctx.is_sc_active())

    # -- a person at the reader --------------------------------------------------------------
    def present_card(self, facility: int, card: int) -> bool:
        """A 26-bit Wiegand card read, queued for the CP's next poll."""
        sent = facility + 1 if self.deviations.active("card-facility-wrong") else facility
        data = wiegand26(sent % 256, card)
        return self._submit(
            {
                "event": osdp.Event.CardRead,
                "reader_no": 0,
                "direction": 0,
                "format": osdp.CardFormat.Wiegand,
                "length": 26,
                "data": data,
            },
            "card",
            facility=facility,
            card=card,
        )

    def read_card(self, data: bytes, bits: int | None = None, card_format: str = "wiegand") -> bool:
        """Any card read: ``data`` as the reader's front end delivered it, ``bits`` long
        (every bit of ``data`` by default), reported in ``card_format``."""
        if card_format not in CARD_FORMATS:
            raise ValueError(
                f"card format {card_format!r} not accepted; accepted: {', '.join(CARD_FORMATS)}"
            )
        if not data or len(data) > MAX_CARD_BYTES:
            raise ValueError(
                f"card data of {len(data)} bytes not accepted; accepted: 1 to {MAX_CARD_BYTES}"
            )
        bits = len(data) * 8 if bits is None else bits
        if not (len(data) - 1) * 8 < bits <= len(data) * 8:
            raise ValueError(
                f"card length {bits} bits not accepted for {len(data)} bytes of data; "
                f"accepted: {(len(data) - 1) * 8 + 1} to {len(data) * 8}"
            )
        return self._submit(
            {
                "event": osdp.Event.CardRead,
                "reader_no": 0,
                "direction": 0,
                "format": CARD_FORMATS[card_format],
                "length": bits,
                "data": data,
            },
            "card",
            data=data,
            bits=bits,
            format=card_format,
        )

    def tamper(self, tampered: bool = True) -> bool:
        """The tamper switch opens (or closes again): a local status report to the CP."""
        return self._submit(
            {
                "event": osdp.Event.Status,
                "type": osdp.StatusReportType.Local,
                "nr_entries": 2,
                # tamper, power (0: normal)
                "report": bytes(
                    [int(tampered and not self.deviations.active("tamper-not-reported")), 0]
                ),
            },
            "tamper",
            tampered=tampered,
        )

    def press_keys(self, keys: str) -> bool:
        bad = sorted({k for k in keys if k not in KEYS})
        if bad or not keys:
            raise ValueError(f"keys {keys!r} not accepted; accepted: one or more of {KEYS}")
        typed = keys[::-1] if self.deviations.active("keys-reversed") else keys
        data = bytes(_KEY_CODES[k] for k in typed)
        return self._submit(
            {"event": osdp.Event.KeyPress, "reader_no": 0, "data": data}, "keypad", keys=keys
        )

    def _submit(self, event: dict[str, Any], kind: str, **details: Any) -> bool:
        if self._pd is None:
            self.world.trace.emit(self.name, "osdp", f"{kind}-ignored", reason="powered off")
            return False
        ok = bool(self._pd.ctx.submit_event(event))
        self.world.trace.emit(self.name, "osdp", kind, queued=ok, **details)
        return ok

    # -- commands from the CP ----------------------------------------------------------------
    def _on_command(self, command: dict[str, Any]) -> tuple[int, Any]:
        kind = command.get("command")
        state = self.state
        state.commands.append(dict(command))
        if kind == osdp.Command.LED:
            led = int(command["led_number"])
            if led >= self.spec.leds:
                return self._refuse(command, f"LED {led} not fitted (LEDs 0-{self.spec.leds - 1})")
            if self.deviations.active("led-command-nak"):
                return self._refuse(command, "deviation led-command-nak")
            if self.deviations.active("led-command-ignored"):
                return 0, None
            state.leds[led] = {
                "colour": COLOURS.get(int(command["on_color"]), "unknown"),
                "off_colour": COLOURS.get(int(command["off_color"]), "unknown"),
                "on_count": int(command["on_count"]),
                "off_count": int(command["off_count"]),
                "temporary": bool(command.get("temporary")),
            }
            self.world.trace.emit(self.name, "osdp", "led", led=led, **state.leds[led])
        elif kind == osdp.Command.Buzzer:
            if not self.spec.sound:
                return self._refuse(command, "no buzzer fitted")
            if self.deviations.active("buzzer-command-nak"):
                return self._refuse(command, "deviation buzzer-command-nak")
            on = int(command["control_code"]) == 2
            state.buzzer = {
                "tone": "default" if on else "off",
                "on_count": int(command["on_count"]),
                "off_count": int(command["off_count"]),
                "repeats": int(command["rep_count"]),
            }
            if on:
                once = self.deviations.active("buzzer-beeps-once")
                state.beeps += 1 if once else max(1, int(command["rep_count"]))
            self.world.trace.emit(self.name, "osdp", "buzzer", **state.buzzer)
        elif kind == osdp.Command.Text:
            state.text = str(command.get("data", ""))
            self.world.trace.emit(self.name, "osdp", "text", text=state.text)
        else:
            self.world.trace.emit(self.name, "osdp", "command", command=kind)
        return 0, None

    def _refuse(self, command: dict[str, Any], why: str) -> tuple[int, Any]:
        self.world.trace.emit(
            self.name, "osdp", "command-refused", command=command.get("command"), reason=why
        )
        return -1, None
