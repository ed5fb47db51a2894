"""The ways the reference RS485 devices can be told to misbehave (:mod:`devices.deviations`):
the Modbus RTU slave (:mod:`devices.rs485.modbus_slave`, profile ``rs485-modbus``) and the OSDP
reader (:mod:`devices.rs485.osdp_pd`, profile ``rs485-osdp``).

``ModbusSlave(..., deviations=[...])`` / ``OsdpReader(..., deviations=[...])`` (or the line bed
of a deviant builtin SUT, or ``hil serve rs485 --deviate NAME``) turn them on; each hook is a
small branch at the place of the behaviour it bends. ``conformance/deviations/rs485-modbus.yaml``
and ``rs485-osdp.yaml`` name, for each, its kind and the requirements that must catch it.
"""

from __future__ import annotations

from collections.abc import Iterable

from devices.deviations import Deviations

MODBUS_SYSTEM = "rs485-modbus"
OSDP_SYSTEM = "rs485-osdp"

MODBUS_DEVIATIONS: dict[str, str] = {
    "exception-1-as-2": "an unimplemented function is answered with exception 2, not 1",
    "exception-2-as-4": "an address outside the tables is answered with exception 4, not 2",
    "exception-3-as-2": "an illegal value or quantity is answered with exception 2, not 3",
    "answers-broadcast": "a broadcast the slave judges itself (error, identity) is answered",
    "broadcast-write-ignored": "a broadcast write is neither answered nor applied",
    "answers-absent-unit": "a request for a unit no slave has is answered with exception 4",
    "reply-crc-wrong": "every reply carries a wrong CRC",
    "response-late": "every reply leaves 1 s after the request",
    "register-value-off": "function 3 and 4 replies read the first register one too high",
    "coil-bits-reversed": "function 1 replies carry each byte's coils in reverse order",
    "discrete-inputs-missing": "function 2 replies carry no input states (byte count 0)",
    "fc16-first-register-only": "function 16 writes only the first register of its range",
    "deaf-after-runt": "after a runt frame the slave hears nothing for 1 s",
    "corrupt-frame-answered": "a frame for the slave that fails its CRC is answered exception 4",
    "frames-split-by-header": "back-to-back requests are split by their headers and each answered",
}

OSDP_DEVIATIONS: dict[str, str] = {
    "pdid-vendor-wrong": "osdp_PDID carries vendor code 0",
    "secure-channel-off": "the reader runs without its SCBK: no secure channel, plain to anyone",
    "sc-not-enforced": "the reader keeps its SCBK but answers a CP that fell back to plain",
    "led-command-ignored": "an LED command is acknowledged but the LED stays as it was",
    "led-command-nak": "an LED command is answered osdp_NAK",
    "buzzer-beeps-once": "a buzzer command sounds once whatever its repeat count",
    "buzzer-command-nak": "a buzzer command is answered osdp_NAK",
    "card-facility-wrong": "card reads report the facility code one too high",
    "keys-reversed": "keys pressed reach the control panel in reverse order",
    "tamper-not-reported": "an opened tamper switch is reported as closed",
}

DEVIATIONS: dict[str, str] = {**MODBUS_DEVIATIONS, **OSDP_DEVIATIONS}
"""Every RS485 deviation (what ``hil serve rs485 --deviate`` accepts)."""


def modbus_deviations(names: Iterable[str] | Deviations = ()) -> Deviations:
    """A Modbus slave's ``names`` (DeviationError on one it does not declare)."""
    return Deviations.of(names, MODBUS_DEVIATIONS, MODBUS_SYSTEM)


def osdp_deviations(names: Iterable[str] | Deviations = ()) -> Deviations:
    """An OSDP reader's ``names`` (DeviationError on one it does not declare)."""
    return Deviations.of(names, OSDP_DEVIATIONS, OSDP_SYSTEM)


def split(names: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(Modbus names, OSDP names) of ``names``; DeviationError on a name neither declares."""
    given = tuple(names)
    Deviations.of(given, DEVIATIONS, "rs485")
    return (
        tuple(n for n in given if n in MODBUS_DEVIATIONS),
        tuple(n for n in given if n in OSDP_DEVIATIONS),
    )
