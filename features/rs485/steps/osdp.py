"""OSDP steps: the reader under test on a line, our control panels polling it, a person at a
reader (cards, keys, the tamper switch), power, LED and buzzer commands, and what the CP and the
line observed.

Waiting is in world time (``within N s``): virtual by default, so libosdp's own back-off
(an offline PD is retried after 300 s in libosdp 3.2) costs what its frames cost, not minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from devices.protocols.osdp_frame import SECURE_MAC_TYPES, Packet, find_packet
from devices.rs485.osdp_cp import OsdpControlPanel, PdConfig
from features.rs485.steps.fixtures import Seen
from features.steps.text import step_text
from scenarios.rs485.bed import OsdpLine

CP = "cp"


def _addresses(text: str) -> list[int]:
    return [int(v) for v in text.replace(" and ", ",").split(",") if v.strip()]


def _cp(bed: OsdpLine) -> OsdpControlPanel:
    expect(CP in bed.panels, "a control panel on the line", "none", "scenario set-up")
    return bed.client(CP)


def _wait(bed: OsdpLine, condition: Callable[[], bool], seconds: float) -> bool:
    return bed.run(_cp(bed).until(condition, seconds))


def _reader_address(bed: OsdpLine, which: str) -> int:
    return bed.address if which == "the reader under test" else int(which.split()[-1])


# -- the line ---------------------------------------------------------------------------------


@given("the OSDP reader under test on a line")
def reader_under_test(osdp_bed: OsdpLine) -> None:
    osdp_bed.run(osdp_bed.start())


@given(step_text("OSDP readers at addresses {addresses} on the line"))
def more_readers(osdp_bed: OsdpLine, addresses: str) -> None:
    for address in _addresses(addresses):
        osdp_bed.run(osdp_bed.place({"address": address, "scbk": osdp_bed.scbk}))


@given("a control panel polling the reader under test with its key")
def cp_right_key(osdp_bed: OsdpLine) -> None:
    osdp_bed.add_panel(CP, [PdConfig(osdp_bed.address, osdp_bed.scbk)])


def _wrong_key(bed: OsdpLine) -> bytes:
    key = bed.scbk
    expect(
        key is not None,
        "the reader under test declares an SCBK",
        key,
        "secure-channel scenarios need the reader's key",
    )
    assert key is not None
    return bytes(b ^ 0x5A for b in key)


@given("a control panel polling the reader under test with a wrong key")
def cp_wrong_key(osdp_bed: OsdpLine) -> None:
    osdp_bed.add_panel(CP, [PdConfig(osdp_bed.address, _wrong_key(osdp_bed))])


@given("a control panel polling the reader under test with a wrong key, falling back to plain")
def cp_wrong_key_plain(osdp_bed: OsdpLine) -> None:
    pd = PdConfig(osdp_bed.address, _wrong_key(osdp_bed), enforce=False)
    osdp_bed.add_panel(CP, [pd])


@given(step_text("a control panel polling the reader under test and addresses {addresses}"))
def cp_many(osdp_bed: OsdpLine, addresses: str) -> None:
    pds = [PdConfig(osdp_bed.address, osdp_bed.scbk)]
    pds += [PdConfig(a, osdp_bed.scbk) for a in _addresses(addresses)]
    osdp_bed.add_panel(CP, pds)


@given(step_text("a control panel polling address {address:I} where no reader is"))
def cp_absent(osdp_bed: OsdpLine, address: int) -> None:
    expect(
        address != osdp_bed.address and address not in osdp_bed.readers,
        f"no reader at {address}",
        "a reader is there",
        "scenario set-up",
    )
    osdp_bed.add_panel(CP, [PdConfig(address, osdp_bed.scbk)])


# -- online, offline, secure channel ---------------------------------------------------------


@given(step_text("the control panel sees {which} online within {seconds:N} s"))
@then(step_text("the control panel sees {which} online within {seconds:N} s"))
def sees_online(osdp_bed: OsdpLine, which: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), _reader_address(osdp_bed, which)
    start = osdp_bed.now
    ok = _wait(osdp_bed, lambda: cp.online(address), seconds)
    expect(
        ok,
        f"PD {address} online within {seconds} s",
        f"offline after {osdp_bed.now - start:.1f} s",
        "CP status",
    )


@then(step_text("the control panel has every polled reader online within {seconds:N} s"))
def sees_all_online(osdp_bed: OsdpLine, seconds: float) -> None:
    cp = _cp(osdp_bed)
    ok = _wait(osdp_bed, lambda: all(cp.online(a) for a in cp.addresses), seconds)
    offline = [a for a in cp.addresses if not cp.online(a)]
    expect(ok, f"PDs {cp.addresses} online within {seconds} s", f"offline: {offline}", "CP status")


@then(step_text("the control panel sees {which} offline within {seconds:N} s"))
def sees_offline(osdp_bed: OsdpLine, which: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), _reader_address(osdp_bed, which)
    ok = _wait(osdp_bed, lambda: not cp.online(address), seconds)
    expect(ok, f"PD {address} offline within {seconds} s", "still online", "CP status")


@then(step_text("the control panel never sees {which} online in {seconds:N} s"))
def never_online(osdp_bed: OsdpLine, which: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), _reader_address(osdp_bed, which)
    came = _wait(osdp_bed, lambda: cp.online(address), seconds)
    expect(
        not came,
        f"PD {address} kept offline for {seconds} s",
        f"online at t={osdp_bed.now:.2f} s",
        "CP status",
    )


@then("the secure channel to the reader under test is active")
def sc_active(osdp_bed: OsdpLine) -> None:
    cp = _cp(osdp_bed)
    expect(cp.sc_active(osdp_bed.address), "secure channel active", "inactive", "CP SC status")


@then("the secure channel to the reader under test is not active")
def sc_inactive(osdp_bed: OsdpLine) -> None:
    cp = _cp(osdp_bed)
    expect(not cp.sc_active(osdp_bed.address), "secure channel inactive", "active", "CP SC status")


@then(step_text("the control panel read the identity of the reader under test"))
def identity(osdp_bed: OsdpLine) -> None:
    pd_id = _cp(osdp_bed).pd_id(osdp_bed.address)
    expect(
        bool(pd_id) and pd_id.get("vendor_code", 0) > 0,
        "a PDID reply with a vendor code",
        pd_id,
        "PD identity from osdp_ID",
    )


def _packets(bed: OsdpLine) -> list[tuple[int, Packet]]:
    """(frame number, first OSDP packet) of every line frame so far."""
    found = []
    for f in bed.world.trace.select(layer="bus", event="frame"):
        packet = find_packet(bytes.fromhex(f["data"]))
        if isinstance(packet, Packet):
            found.append((f["n"], packet))
    return found


@then(step_text("the line carries secure {name} blocks to the reader under test"))
def secure_blocks(osdp_bed: OsdpLine, name: str) -> None:
    codes = {"POLL": 0x60, "LED": 0x69, "BUZ": 0x6A}
    address = osdp_bed.address

    def secure_codes() -> set[int]:
        # commands to the reader (no reply bit) in a MAC'd secure block (SCS_15 / SCS_17)
        return {
            p.code
            for _, p in _packets(osdp_bed)
            if not p.reply
            and p.address == address
            and len(p.raw) > 8
            and p.security_type in SECURE_MAC_TYPES
        }

    _wait(osdp_bed, lambda: codes[name] in secure_codes(), 2.0)
    expect(
        codes[name] in secure_codes(),
        f"{name} (0x{codes[name]:02x}) in an SCS_15/17 block",
        sorted(f"0x{c:02x}" for c in secure_codes()),
        "secure commands on the line",
    )


@then("the reader under test served no plain command past the handshake")
def no_plain_service(osdp_bed: OsdpLine) -> None:
    # outside a secure channel an enforcing reader answers osdp_ID, osdp_CAP and osdp_CHLNG,
    # and every other command with osdp_NAK
    allowed = ("NAK", "PDID", "PDCAP", "CCRYPT")
    served = sorted(
        {
            p.name
            for _, p in _packets(osdp_bed)
            if p.reply and p.address == osdp_bed.address and not p.secure and p.name not in allowed
        }
    )
    expect(not served, f"plain replies only {', '.join(allowed)}", served, "plain replies")


@then(step_text("no reply from address {address:I} crossed the line"))
def no_reply_from(osdp_bed: OsdpLine, address: int) -> None:
    replies = [n for n, p in _packets(osdp_bed) if p.reply and p.address == address]
    expect(not replies, f"silence for address {address}", f"reply frames {replies}")


# -- power ------------------------------------------------------------------------------------


@when("the reader under test is powered off")
def power_off(osdp_bed: OsdpLine) -> None:
    osdp_bed.run(osdp_bed.set_power(osdp_bed.address, False))


@when("the reader under test is powered on")
def power_on(osdp_bed: OsdpLine) -> None:
    osdp_bed.run(osdp_bed.set_power(osdp_bed.address, True))


# -- a person at a reader ---------------------------------------------------------------------


@when(step_text("card {facility:I}:{card:I} is presented at {which}"))
def present_card(osdp_bed: OsdpLine, facility: int, card: int, which: str) -> None:
    address = _reader_address(osdp_bed, which)
    queued = osdp_bed.run(osdp_bed.present_card(address, facility, card))
    expect(queued, "the read queued", "refused by libosdp")


@when(step_text('keys "{keys:Q}" are pressed at the reader under test'))
def press_keys(osdp_bed: OsdpLine, keys: str) -> None:
    queued = osdp_bed.run(osdp_bed.press_keys(osdp_bed.address, keys))
    expect(queued, "the key presses queued", "refused by libosdp")


@then(
    step_text(
        "the control panel receives card {facility:I}:{card:I} from {which} within {seconds:N} s"
    )
)
def got_card(osdp_bed: OsdpLine, facility: int, card: int, which: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), _reader_address(osdp_bed, which)

    def arrived() -> bool:
        return any(
            e.get("card") == card and e.get("facility") == facility for e in cp.events[address]
        )

    _wait(osdp_bed, arrived, seconds)
    got = [(e.get("facility"), e.get("card")) for e in cp.events[address] if e["kind"] == "card"]
    expect(arrived(), (facility, card), got, f"card reads reported by PD {address}")


@then(step_text("the control panel received no event from {which}"))
def no_events(osdp_bed: OsdpLine, which: str) -> None:
    address = _reader_address(osdp_bed, which)
    events = _cp(osdp_bed).events[address]
    expect(not events, "no event", [e["kind"] for e in events], f"events from PD {address}")


@then(
    step_text(
        'the control panel receives keys "{keys:Q}" from the reader under test within {seconds:N} s'
    )
)
def got_keys(osdp_bed: OsdpLine, keys: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), osdp_bed.address

    def typed() -> str:
        return "".join(e["keys"] for e in cp.events[address] if e["kind"] == "keypad")

    _wait(osdp_bed, lambda: typed() == keys, seconds)
    expect(typed() == keys, keys, typed(), "keypad data reported")


@when("the tamper switch of the reader under test opens")
def tamper(osdp_bed: OsdpLine) -> None:
    queued = osdp_bed.run(osdp_bed.tamper(osdp_bed.address, True))
    expect(queued, "the tamper report queued", "refused by libosdp")


@then(
    step_text(
        "the control panel receives a tamper report from the reader under test within {seconds:N} s"
    )
)
def got_tamper(osdp_bed: OsdpLine, seconds: float) -> None:
    cp, address = _cp(osdp_bed), osdp_bed.address

    def reported() -> bool:
        return any(e["kind"] == "status" and e.get("tamper") for e in cp.events[address])

    _wait(osdp_bed, reported, seconds)
    got = [(e["kind"], e.get("tamper")) for e in cp.events[address]]
    expect(reported(), "a local status report with tamper set", got, "events reported")


# -- output commands --------------------------------------------------------------------------


@when(step_text('the control panel sets the LED of {which} to "{colour:Q}"'))
def set_led(osdp_bed: OsdpLine, seen: Seen, which: str, colour: str) -> None:
    address = _reader_address(osdp_bed, which)
    seen.completions_before = len(_cp(osdp_bed).completions)
    expect(_cp(osdp_bed).led(address, colour), "the LED command queued", "refused by libosdp")


@when(step_text("the control panel sounds the buzzer of the reader under test {n:I} times"))
def buzz(osdp_bed: OsdpLine, seen: Seen, n: int) -> None:
    seen.completions_before = len(_cp(osdp_bed).completions)
    seen.beeps_before = _shown(osdp_bed, "the reader under test")["beeps"]
    expect(
        _cp(osdp_bed).buzz(osdp_bed.address, repeats=n),
        "the buzzer command queued",
        "refused by libosdp",
    )


@then(step_text("{which} acknowledges the command within {seconds:N} s"))
def acknowledged(osdp_bed: OsdpLine, seen: Seen, which: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), _reader_address(osdp_bed, which)
    before = seen.completions_before
    _wait(osdp_bed, lambda: len(cp.completions) > before, seconds)
    done = cp.completions[before:]
    expect(
        any(c["status"] == "ok" and c["address"] == address for c in done),
        "completion ok (osdp_ACK)",
        done or "no completion",
        "command completion",
    )


def _shown(bed: OsdpLine, which: str) -> dict[str, Any]:
    return bed.run(bed.reader_state(_reader_address(bed, which)))


@then(step_text('the LED of {which} shows "{colour:Q}"'))
def shows(osdp_bed: OsdpLine, which: str, colour: str) -> None:
    state = _shown(osdp_bed, which)
    expect(state["led"] == colour, colour, state["led"], f"LED 0 of {state['name']}")


@then(step_text("the reader under test beeped {n:I} times"))
def beeped(osdp_bed: OsdpLine, seen: Seen, n: int) -> None:
    beeps = _shown(osdp_bed, "the reader under test")["beeps"] - seen.beeps_before
    expect(beeps == n, n, beeps, "beeps sounded by the reader since the buzzer command")
