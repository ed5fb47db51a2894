"""A terminal's RS485 slaves on a real line: its slave port (libosdp control panel) finds the
OSDP readers that answer, and the Connect Master's SetSlaveDevice/GetSlaveDevice follow what was
found. Everything in virtual time."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from devices.gateways.connect_master.protos import connect_pb2 as pb
from devices.rs485 import osdp_clock
from devices.rs485.osdp_pd import OsdpReader, ReaderSpec
from devices.terminals.slave_port import SlavePort
from scenarios.bed import BedError
from scenarios.connect_master.bed import LocalCmBed, slave_name
from scenarios.connect_master.client import MasterClient
from sim.rs485 import Rs485Bus
from sim.world import World

pytestmark = pytest.mark.skipif(
    not osdp_clock.ON_WORLD_CLOCK, reason=f"libosdp on the wall clock: {osdp_clock.REASON}"
)

READERS = {1: 5001, 2: 5002, 4: 5003}


def test_search_finds_the_answering_readers_by_the_id_they_report() -> None:
    with World(seed=5) as world:
        bus = Rs485Bus(world, "line")
        for address, serial in {**READERS, 9: 5009}.items():  # 9 is outside the scan
            OsdpReader(world, bus, ReaderSpec(address, serial_number=serial)).start()
        port = SlavePort(world, bus, "t-rs485")
        found = world.run(port.search())
        assert found == {5001: 1, 5002: 2, 5003: 4}
        assert port.found() == found


def test_a_powered_off_reader_leaves_at_the_next_search_and_returns_at_a_later_one() -> None:
    with World(seed=5) as world:
        bus = Rs485Bus(world, "line")
        readers = {
            a: OsdpReader(world, bus, ReaderSpec(a, serial_number=s)) for a, s in READERS.items()
        }
        for reader in readers.values():
            reader.start()
        port = SlavePort(world, bus, "t-rs485")
        world.run(port.search())
        readers[2].stop()
        assert sorted(world.run(port.search())) == [5001, 5003]
        readers[2].start()
        assert sorted(world.run(port.search())) == [5001, 5002, 5003]
        assert port.searches == 3


def test_the_live_panel_notices_a_reader_gone_without_a_new_search() -> None:
    with World(seed=6) as world:
        bus = Rs485Bus(world, "line")
        reader = OsdpReader(world, bus, ReaderSpec(3, serial_number=7003))
        reader.start()
        port = SlavePort(world, bus, "t-rs485", addresses=[3])
        assert world.run(port.search()) == {7003: 3}
        reader.stop()
        world.run_for(30.0)
        assert port.found() == {}


def test_bad_slave_port_settings_are_refused_by_name() -> None:
    with World() as world:
        bus = Rs485Bus(world, "line")
        with pytest.raises(ValueError, match="OSDP address 127 not accepted"):
            SlavePort(world, bus, "p", addresses=[1, 127])
        with pytest.raises(ValueError, match="search window 0.1 s not accepted"):
            SlavePort(world, bus, "p", window_s=0.1)
        with pytest.raises(ValueError, match="at least one address"):
            SlavePort(world, bus, "p", addresses=[])


@pytest.fixture
def bed() -> Iterator[LocalCmBed]:
    bed = LocalCmBed(seed=3)
    bed.run(bed.start())
    yield bed
    bed.close()


def _place(bed: LocalCmBed, device_id: int, host: int, **spec: object) -> int:
    return bed.run(bed.place({"deviceID": device_id, "gateway": "gw-a", "host": host, **spec}))


def _power_slave(bed: LocalCmBed, slave_id: int, on: bool) -> None:
    bed.run(bed.set_power(slave_name(1601, slave_id), on))


def _search(bed: LocalCmBed) -> list[int]:
    return bed.run(bed.search_slaves(1601))


def _connected(bed: LocalCmBed, device_id: int = 1601) -> MasterClient:
    _place(bed, device_id, 81, slaveReaders=READERS)
    client = bed.client("tenant-a")
    bed.run(client.login())
    bed.run(
        client.call(
            "AddAsyncConnection",
            gatewayID="gw-a",
            connectInfos=[pb.AsyncConnectInfo(deviceID=device_id, IPAddr="10.0.0.81", port=51211)],
        )
    )
    bed.world.run_for(6.0)
    return client


def _set(bed: LocalCmBed, client: MasterClient, *slaves: int) -> None:
    bed.run(
        client.call(
            "SetSlaveDevice",
            gatewayID="gw-a",
            slaveDeviceInfos=[pb.SlaveDeviceInfo(deviceID=1601, rs485SlaveDeviceIDs=list(slaves))],
        )
    )


def _get(bed: LocalCmBed, client: MasterClient) -> dict[int, list[int]]:
    reply = bed.run(client.call("GetSlaveDevice", gatewayID="gw-a"))
    return {s.deviceID: list(s.rs485SlaveDeviceIDs) for s in reply.slaveDeviceInfos}


def test_set_slave_device_accepts_found_slaves_and_refuses_others_by_name(
    bed: LocalCmBed,
) -> None:
    client = _connected(bed)
    assert bed.cm_world.terminals[1601].rs485_found() == [5001, 5002, 5003]
    with pytest.raises(grpc.RpcError) as refused:
        _set(bed, client, 5001, 4242)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.details() == (
        "slave devices [4242] are not found on the RS485 bus of device 1601; found: RS485 "
        "[5001, 5002, 5003], Wiegand []"
    )
    assert _get(bed, client) == {}  # nothing half-applied
    _set(bed, client, 5001, 5003)
    assert _get(bed, client) == {1601: [5001, 5003]}


def test_get_slave_device_drops_a_slave_gone_from_the_line(bed: LocalCmBed) -> None:
    client = _connected(bed)
    _set(bed, client, 5001, 5003)
    _power_slave(bed, 5003, False)
    assert _search(bed) == [5001, 5002]
    assert _get(bed, client) == {1601: [5001]}
    _power_slave(bed, 5003, True)
    _search(bed)
    assert _get(bed, client) == {1601: [5001, 5003]}  # still registered: back when found


def test_a_terminal_power_cycle_searches_its_line_again(bed: LocalCmBed) -> None:
    _connected(bed)
    terminal = bed.cm_world.terminals[1601]
    bed.run(bed.set_power("1601", False))
    assert terminal.rs485_found() == []
    _power_slave(bed, 5002, False)
    bed.run(bed.set_power("1601", True))
    bed.world.run_for(6.0)
    assert terminal.rs485_found() == [5001, 5003]
    assert terminal.slave_port is not None and terminal.slave_port.searches == 2


def test_bad_slave_input_gets_clear_errors_and_the_terminal_keeps_serving(
    bed: LocalCmBed,
) -> None:
    client = _connected(bed)
    session = bed.cm_world.gateways["gw-a"].session_of(1601)
    reply = bed.run(session.command("set-slaves", rs485=["5001"]))
    assert reply == {
        "ok": False,
        "error": "slave lists rs485=['5001'] wiegand=[] not accepted; "
        "accepted: lists of device IDs",
    }
    with pytest.raises(
        BedError,
        match="terminal 1601 has no RS485 slave 7; on its line: "
        r"\[5001, 5002, 5003\]",
    ):
        _power_slave(bed, 7, False)
    with pytest.raises(BedError, match="either as a fixed list"):
        _place(bed, 1602, 82, slaveReaders={"1": 6001}, rs485Slaves=[6001])
    assert 1602 not in bed.cm_world.terminals and 1602 not in bed.cm_world.slaves
    with pytest.raises(BedError, match="slave reader '1': 0 not accepted"):
        _place(bed, 1603, 83, slaveReaders={"1": 0})
    _set(bed, client, 5002)
    assert _get(bed, client) == {1601: [5002]}


def test_a_terminal_without_a_bus_keeps_its_fixed_list(bed: LocalCmBed) -> None:
    _place(bed, 1701, 91, rs485Slaves=[8001, 8002])
    terminal = bed.cm_world.terminals[1701]
    assert terminal.slave_port is None and terminal.rs485_found() == [8001, 8002]
    assert bed.run(terminal.search_slaves()) == [8001, 8002]


def test_same_seed_same_slave_trace() -> None:
    def run() -> str:
        bed = LocalCmBed(seed=11)
        try:
            bed.run(bed.start())
            _connected(bed)
            _power_slave(bed, 5001, False)
            _search(bed)
            return "".join(
                line
                for line in bed.world.trace.dump().splitlines(True)
                if "rs485" in line or "slave" in line or "osdp" in line
            )
        finally:
            bed.close()

    first = run()
    assert "slave-search" in first and first == run()
