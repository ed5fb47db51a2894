"""OSDP steps: the reader under test on a line, our control panels polling it, a person at a
reader (cards, keys), power, LED and buzzer commands, and what the CP and the line observed.

Waiting is in world time (``within N s``): virtual by default, so libosdp's own back-off
(an offline PD is retried after 300 s in libosdp 3.2) costs what its frames cost, not minutes.
"""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, then, when

from conformance.evidence import expect
from devices.rs485.osdp_cp import OsdpControlPanel, PdConfig
from features.steps.rs485_fixtures import OsdpBed
from features.steps.support import step_text

CP = "cp"


def _addresses(text: str) -> list[int]:
    return [int(v) for v in text.replace(" and ", ",").split(",") if v.strip()]


def _cp(bed: OsdpBed) -> OsdpControlPanel:
    expect(CP in bed.cps, "a control panel on the line", "none", "scenario set-up")
    return bed.cps[CP]


def _wait(bed: OsdpBed, condition: Any, seconds: float) -> bool:
    return bed.run(_cp(bed).until(condition, seconds))


def _reader_address(bed: OsdpBed, which: str) -> int:
    return bed.address if which == "the reader under test" else int(which.split()[-1])


# -- the line ---------------------------------------------------------------------------------


@given("the OSDP reader under test on a line")
def reader_under_test(osdp_bed: OsdpBed) -> None:
    if not osdp_bed.external:
        osdp_bed.add_reader(osdp_bed.address, osdp_bed.scbk)


@given(step_text("OSDP readers at addresses {addresses} on the line"))
def more_readers(osdp_bed: OsdpBed, addresses: str) -> None:
    for address in _addresses(addresses):
        osdp_bed.add_reader(address, osdp_bed.scbk)


@given("a control panel polling the reader under test with its key")
def cp_right_key(osdp_bed: OsdpBed) -> None:
    osdp_bed.add_cp(CP, [PdConfig(osdp_bed.address, osdp_bed.scbk)])


@given("a control panel polling the reader under test with a wrong key")
def cp_wrong_key(osdp_bed: OsdpBed) -> None:
    key = osdp_bed.scbk
    expect(
        key is not None,
        "the reader under test declares an SCBK",
        key,
        "secure-channel scenarios need the reader's key",
    )
    assert key is not None
    osdp_bed.add_cp(CP, [PdConfig(osdp_bed.address, bytes(b ^ 0x5A for b in key))])


@given(step_text("a control panel polling the reader under test and addresses {addresses}"))
def cp_many(osdp_bed: OsdpBed, addresses: str) -> None:
    pds = [PdConfig(osdp_bed.address, osdp_bed.scbk)]
    pds += [PdConfig(a, osdp_bed.scbk) for a in _addresses(addresses)]
    osdp_bed.add_cp(CP, pds)


@given(step_text("a control panel polling address {address:I} where no reader is"))
def cp_absent(osdp_bed: OsdpBed, address: int) -> None:
    expect(
        address != osdp_bed.address and address not in osdp_bed.readers,
        f"no reader at {address}",
        "a reader is there",
        "scenario set-up",
    )
    osdp_bed.add_cp(CP, [PdConfig(address, osdp_bed.scbk)])


# -- online, offline, secure channel ---------------------------------------------------------


@given(step_text("the control panel sees {which} online within {seconds:N} s"))
@then(step_text("the control panel sees {which} online within {seconds:N} s"))
def sees_online(osdp_bed: OsdpBed, which: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), _reader_address(osdp_bed, which)
    start = osdp_bed.world.now
    ok = _wait(osdp_bed, lambda: cp.online(address), seconds)
    expect(
        ok,
        f"PD {address} online within {seconds} s",
        f"offline after {osdp_bed.world.now - start:.1f} s",
        "CP status",
    )


@then(step_text("the control panel has every polled reader online within {seconds:N} s"))
def sees_all_online(osdp_bed: OsdpBed, seconds: float) -> None:
    cp = _cp(osdp_bed)
    ok = _wait(osdp_bed, lambda: all(cp.online(a) for a in cp.addresses), seconds)
    offline = [a for a in cp.addresses if not cp.online(a)]
    expect(ok, f"PDs {cp.addresses} online within {seconds} s", f"offline: {offline}", "CP status")


@then(step_text("the control panel sees {which} offline within {seconds:N} s"))
def sees_offline(osdp_bed: OsdpBed, which: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), _reader_address(osdp_bed, which)
    ok = _wait(osdp_bed, lambda: not cp.online(address), seconds)
    expect(ok, f"PD {address} offline within {seconds} s", "still online", "CP status")


@then(step_text("the control panel never sees {which} online in {seconds:N} s"))
def never_online(osdp_bed: OsdpBed, which: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), _reader_address(osdp_bed, which)
    came = _wait(osdp_bed, lambda: cp.online(address), seconds)
    expect(
        not came,
        f"PD {address} kept offline for {seconds} s",
        f"online at t={osdp_bed.world.now:.2f} s",
        "CP status",
    )


@then("the secure channel to the reader under test is active")
def sc_active(osdp_bed: OsdpBed) -> None:
    cp = _cp(osdp_bed)
    expect(cp.sc_active(osdp_bed.address), "secure channel active", "inactive", "CP SC status")


@then("the secure channel to the reader under test is not active")
def sc_inactive(osdp_bed: OsdpBed) -> None:
    cp = _cp(osdp_bed)
    expect(not cp.sc_active(osdp_bed.address), "secure channel inactive", "active", "CP SC status")


@then(step_text("the control panel read the identity of the reader under test"))
def identity(osdp_bed: OsdpBed) -> None:
    pd_id = _cp(osdp_bed).pd_id(osdp_bed.address)
    expect(
        bool(pd_id) and pd_id.get("vendor_code", 0) > 0,
        "a PDID reply with a vendor code",
        pd_id,
        "PD identity from osdp_ID",
    )


def _frames(bed: OsdpBed) -> list[dict[str, Any]]:
    return bed.world.trace.select(layer="bus", event="frame")


@then(step_text("the line carries secure {name} blocks to the reader under test"))
def secure_blocks(osdp_bed: OsdpBed, name: str) -> None:
    codes = {"POLL": 0x60, "LED": 0x69, "BUZ": 0x6A}
    address = osdp_bed.address

    def secure_codes() -> set[int]:
        found = set()
        for f in _frames(osdp_bed):
            data = bytes.fromhex(f["data"])
            at = data.find(0x53)
            pkt = data[at:] if at >= 0 else b""
            # SOM, address, length (2), control with the SCB bit, then the security block:
            # its length and type (SCS_15 or SCS_17: MAC'd, encrypted command follows)
            if len(pkt) > 8 and pkt[1] == address and pkt[4] & 0x08 and pkt[6] in (0x15, 0x17):
                found.add(pkt[5 + pkt[5]])
        return found

    _wait(osdp_bed, lambda: codes[name] in secure_codes(), 2.0)
    expect(
        codes[name] in secure_codes(),
        f"{name} (0x{codes[name]:02x}) in an SCS_15/17 block",
        sorted(f"0x{c:02x}" for c in secure_codes()),
        "secure commands on the line",
    )


@then(step_text("no reply from address {address:I} crossed the line"))
def no_reply_from(osdp_bed: OsdpBed, address: int) -> None:
    replies = [
        f["n"]
        for f in _frames(osdp_bed)
        if _pkt_address(bytes.fromhex(f["data"])) == (address | 0x80)
    ]
    expect(not replies, f"silence for address {address}", f"reply frames {replies}")


def _pkt_address(data: bytes) -> int:
    at = data.find(0x53)
    return data[at + 1] if 0 <= at < len(data) - 1 else -1


# -- power ------------------------------------------------------------------------------------


@when("the reader under test is powered off")
def power_off(osdp_bed: OsdpBed) -> None:
    osdp_bed.reader(osdp_bed.address).stop()


@when("the reader under test is powered on")
def power_on(osdp_bed: OsdpBed) -> None:
    osdp_bed.reader(osdp_bed.address).start()


# -- a person at a reader ---------------------------------------------------------------------


@when(step_text("card {facility:I}:{card:I} is presented at {which}"))
def present_card(osdp_bed: OsdpBed, facility: int, card: int, which: str) -> None:
    reader = osdp_bed.reader(_reader_address(osdp_bed, which))
    expect(reader.present_card(facility, card), "the read queued", "refused by libosdp")


@when(step_text('keys "{keys:Q}" are pressed at the reader under test'))
def press_keys(osdp_bed: OsdpBed, keys: str) -> None:
    reader = osdp_bed.reader(osdp_bed.address)
    expect(reader.press_keys(keys), "the key presses queued", "refused by libosdp")


@then(
    step_text(
        "the control panel receives card {facility:I}:{card:I} from {which} within {seconds:N} s"
    )
)
def got_card(osdp_bed: OsdpBed, facility: int, card: int, which: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), _reader_address(osdp_bed, which)

    def arrived() -> bool:
        return any(
            e.get("card") == card and e.get("facility") == facility for e in cp.events[address]
        )

    _wait(osdp_bed, arrived, seconds)
    got = [(e.get("facility"), e.get("card")) for e in cp.events[address] if e["kind"] == "card"]
    expect(arrived(), (facility, card), got, f"card reads reported by PD {address}")


@then(step_text("the control panel received no event from {which}"))
def no_events(osdp_bed: OsdpBed, which: str) -> None:
    address = _reader_address(osdp_bed, which)
    events = _cp(osdp_bed).events[address]
    expect(not events, "no event", [e["kind"] for e in events], f"events from PD {address}")


@then(
    step_text(
        'the control panel receives keys "{keys:Q}" from the reader under test within {seconds:N} s'
    )
)
def got_keys(osdp_bed: OsdpBed, keys: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), osdp_bed.address

    def typed() -> str:
        return "".join(e["keys"] for e in cp.events[address] if e["kind"] == "keypad")

    _wait(osdp_bed, lambda: typed() == keys, seconds)
    expect(typed() == keys, keys, typed(), "keypad data reported")


# -- output commands --------------------------------------------------------------------------


@when(step_text('the control panel sets the LED of {which} to "{colour:Q}"'))
def set_led(osdp_bed: OsdpBed, which: str, colour: str) -> None:
    address = _reader_address(osdp_bed, which)
    osdp_bed.seen["completions"] = len(_cp(osdp_bed).completions)
    expect(_cp(osdp_bed).led(address, colour), "the LED command queued", "refused by libosdp")


@when(step_text("the control panel sounds the buzzer of the reader under test {n:I} times"))
def buzz(osdp_bed: OsdpBed, n: int) -> None:
    osdp_bed.seen["completions"] = len(_cp(osdp_bed).completions)
    expect(
        _cp(osdp_bed).buzz(osdp_bed.address, repeats=n),
        "the buzzer command queued",
        "refused by libosdp",
    )


@then(step_text("{which} acknowledges the command within {seconds:N} s"))
def acknowledged(osdp_bed: OsdpBed, which: str, seconds: float) -> None:
    cp, address = _cp(osdp_bed), _reader_address(osdp_bed, which)
    before = osdp_bed.seen.get("completions", 0)
    _wait(osdp_bed, lambda: len(cp.completions) > before, seconds)
    done = cp.completions[before:]
    expect(
        any(c["status"] == "ok" and c["address"] == address for c in done),
        "completion ok (osdp_ACK)",
        done or "no completion",
        "command completion",
    )


@then(step_text('the LED of {which} shows "{colour:Q}"'))
def shows(osdp_bed: OsdpBed, which: str, colour: str) -> None:
    reader = osdp_bed.reader(_reader_address(osdp_bed, which))
    expect(
        reader.state.led_colour(0) == colour,
        colour,
        reader.state.led_colour(0),
        f"LED 0 of {reader.name}",
    )


@then(step_text("the reader under test beeped {n:I} times"))
def beeped(osdp_bed: OsdpBed, n: int) -> None:
    reader = osdp_bed.reader(osdp_bed.address)
    expect(reader.state.beeps == n, n, reader.state.beeps, "beeps sounded by the reader")
