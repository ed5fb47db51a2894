"""The RS485 line model: timing, framing, collisions, noise, wrong settings, capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.protocols import modbus_rtu
from sim.rs485 import LineFrame, Rs485Bus
from sim.uart import Drive, LineSettings, Waveform, uart_receive
from sim.world import World

REQUEST = bytes.fromhex("010300000002c40b")


def _line(world: World, **kw: object) -> tuple[Rs485Bus, list[tuple[float, bytes, LineFrame]]]:
    bus = Rs485Bus(world, "l", **kw)  # type: ignore[arg-type]
    got: list[tuple[float, bytes, LineFrame]] = []
    bus.attach("rx", lambda data, frame: got.append((world.now, data, frame)))
    return bus, got


def test_settings_timing_and_errors() -> None:
    s = LineSettings()
    assert s.bits_per_char == 10 and s.char_time == pytest.approx(10 / 9600)
    assert LineSettings(19200, 8, "E", 1).bits_per_char == 11
    assert LineSettings(115200).t35 == 0.00175
    assert LineSettings.parse("19200 8E2") == LineSettings(19200, 8, "E", 2)
    with pytest.raises(ValueError, match="baud rate 0 .*accepted"):
        LineSettings(baud=0)
    with pytest.raises(ValueError, match="parity 'X'"):
        LineSettings(parity="X")
    with pytest.raises(ValueError, match="'fast' not understood"):
        LineSettings.parse("fast")


def test_bytes_take_their_time_and_frames_end_on_silence() -> None:
    with World() as world:
        bus, got = _line(world)
        tx = bus.attach("tx")
        end = tx.send(REQUEST)
        assert end == pytest.approx(8 * 10 / 9600)
        world.run_for(0.1)
        assert len(got) == 1
        at, data, frame = got[0]
        assert data == REQUEST and frame.clean
        assert at == pytest.approx(end + 3.5 * 10 / 9600)


def test_sender_does_not_hear_itself_and_powered_off_ports_are_deaf_and_mute() -> None:
    with World() as world:
        bus, got = _line(world)
        heard: list[bytes] = []
        tx = bus.attach("tx", lambda d, f: heard.append(d))
        tx.send(REQUEST)
        world.run_for(0.1)
        assert heard == [] and len(got) == 1
        tx.powered = False
        tx.send(REQUEST)
        world.run_for(0.1)
        assert len(got) == 1


def test_uart_decodes_a_clean_waveform_exactly_for_every_framing() -> None:
    for settings in (LineSettings(), LineSettings(19200, 8, "E", 1), LineSettings(9600, 7, "O", 2)):
        data = bytes(range(0, 256, 7))
        if settings.data_bits < 8:
            data = bytes(b & 0x7F for b in data)
        wave = Waveform([Drive(1.0, settings.bit_time, settings.encode(data))], rng=None)  # type: ignore[arg-type]
        got = uart_receive(wave, settings)
        assert got.data == data and got.framing_errors == 0 and got.parity_errors == 0


def test_wrong_baud_and_wrong_parity_receivers_see_garbage() -> None:
    with World() as world:
        bus, got = _line(world)
        fast: list[bytes] = []
        even: list[bytes] = []
        bus.attach("fast", lambda d, f: fast.append(d), LineSettings(19200))
        bus.attach("even", lambda d, f: even.append(d), LineSettings(9600, 8, "E", 1))
        bus.attach("tx").send(REQUEST)
        world.run_for(0.1)
        assert got[0][1] == REQUEST
        assert fast and fast[0] != REQUEST
        assert even and even[0] != REQUEST


def test_two_drivers_at_once_collide_and_both_frames_are_corrupted() -> None:
    with World() as world:
        bus, got = _line(world)
        a, b = bus.attach("a"), bus.attach("b")
        a.send(REQUEST)
        b.send(bytes.fromhex("020300000002c438"))
        world.run_for(0.1)
        frame = got[0][2]
        assert frame.collision and frame.drivers == ("a", "b")
        assert got[0][1] not in (REQUEST, bytes.fromhex("020300000002c438"))
        assert bus.stats.collisions == 1


def test_noise_flips_bits_at_the_rate_and_is_seeded() -> None:
    def run(seed: int) -> tuple[int, str]:
        with World(seed=seed) as world:
            bus, got = _line(world, bit_error_rate=0.01)
            tx = bus.attach("tx")
            for i in range(200):
                world.at(i * 0.05, tx.send, REQUEST)
            world.run_for(12)
            flipped = sum(f.flipped_bits for _, _, f in got)
            return flipped, world.trace.dump()

    flips, trace = run(3)
    assert 100 <= flips <= 220  # 200 frames x 80 bits x 1 %
    assert run(3) == (flips, trace)
    assert run(4)[1] != trace
    with pytest.raises(ValueError, match="bit error rate 0.7"):
        Rs485Bus(World(), "x", bit_error_rate=0.7)


def test_capture_is_readable_with_timestamps_and_a_decoded_summary(tmp_path: Path) -> None:
    with World() as world:
        bus, _ = _line(world, capture_dir=tmp_path, summarise=modbus_rtu.summarise)
        bus.attach("master").send(REQUEST)
        world.run_for(0.1)
        bus.close()
    text = (tmp_path / "rs485-l.log").read_text()
    assert "9600 8N1" in text and "decoder modbus_rtu.summarise" in text
    line = text.splitlines()[-1]
    assert "0.000000" in line and "0.008333" in line and "01 03 00 00 00 02 c4 0b" in line
    assert "slave 1 read holding registers addr 0 count 2, crc ok" in line


def test_capture_without_a_summariser_is_hex_with_what_went_wrong(tmp_path: Path) -> None:
    """The bus knows no protocol: without a summariser its capture is hex, collisions noted."""
    with World() as world:
        bus, _ = _line(world, capture_dir=tmp_path)
        bus.attach("a").send(REQUEST)
        bus.attach("b").send(REQUEST)
        world.run_for(0.1)
        bus.close()
    header, _, line = (tmp_path / "rs485-l.log").read_text().splitlines()
    assert "decoder none" in header
    assert "a,b" in line and "bytes [COLLISION" in line


def test_utilisation_is_busy_time_over_elapsed() -> None:
    with World() as world:
        bus, _ = _line(world)
        tx = bus.attach("tx")
        for i in range(10):
            world.at(i * 0.1, tx.send, REQUEST)
        world.run_for(1.0)
        assert bus.utilisation() == pytest.approx(10 * 8 * 10 / 9600, rel=1e-6)


def test_addressed_ports_get_only_their_clean_frames_and_broadcasts() -> None:
    with World() as world:
        bus, got = _line(world)  # "rx" hears everything (a sniffer)
        heard: dict[int, list[bytes]] = {1: [], 2: []}
        for unit in heard:
            bus.attach(f"s{unit}", lambda d, f, u=unit: heard[u].append(d), address=unit)
        odd = bus.attach(
            "odd-baud",
            lambda d, f: heard.setdefault(99, []).append(d),
            settings=LineSettings(19200),
            address=2,
        )
        tx = bus.attach("tx")
        tx.send(REQUEST)  # to unit 1
        world.run_for(0.05)
        tx.send(bytes.fromhex("000600000001") + b"\x00\x00")  # broadcast
        world.run_for(0.05)
        bus.set_noise(0.2)
        tx.send(bytes.fromhex("020300000002c438"))  # to unit 2, garbled by noise
        world.run_for(0.05)
        assert heard[1][0] == REQUEST and len(heard[1]) == 3  # own, broadcast, garbled
        assert len(heard[2]) == 2 and heard[2][0][0] == 0  # broadcast, garbled
        assert len(got) == 3 and odd.frames_received == 3  # other settings: every frame
        with pytest.raises(ValueError, match="port address 300 not accepted"):
            bus.attach("bad", address=300)


def test_a_retuned_port_drives_and_hears_at_its_new_settings() -> None:
    with World() as world:
        bus = Rs485Bus(world, "l")
        slave: list[bytes] = []
        bus.attach("slave", lambda d, f: slave.append(d), address=1)
        tx = bus.attach("tx", lambda d, f: None)
        heard: list[bytes] = []
        client = bus.attach("client", lambda d, f: heard.append(d))
        client.retune(LineSettings.parse("19200 8N1"))
        for sender in (tx, client):
            sender.send(REQUEST)
            world.run_for(0.1)
        assert heard and heard[0] != REQUEST  # its UART makes out garbage at 19200
        assert slave[0] == REQUEST and REQUEST not in slave[1:]  # and drives garbage at 9600
        client.retune(LineSettings())
        heard.clear()
        slave.clear()
        for sender in (tx, client):
            sender.send(REQUEST)
            world.run_for(0.1)
        assert slave == [REQUEST, REQUEST] and heard == [REQUEST]
    assert [r["settings"] for r in world.trace.select(event="retuned")] == [
        "19200 8N1",
        "9600 8N1",
    ]
