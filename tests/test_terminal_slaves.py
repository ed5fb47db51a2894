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
from scenarios.connect_master_bed import ConnectMasterBed, MasterClient
from sim.rs485 import Rs485Bus
from sim.world import World

pytestmark = pytest.mark.skipif(
    not osdp_clock.ON_WORLD_CLOCK, reason=f"libosdp on the wall clock: {osdp_clock.REASON}"
)

READERS = {1: 5001, 2: 5002, 4: 5003}


def test_search_finds_the_answering_readers_by_the_id_they_report() -> None:
    with World(seed=5) as world:
        bus = Rs485Bus(world, "line", protocol="osdp")
        for address, serial in {**READERS, 9: 5009}.items():  # 9 is outside the scan
            OsdpReader(world, bus, ReaderSpec(address, serial_number=serial)).start()
        port = SlavePort(world, bus, "t-rs485")
        found = world.run(port.search())
        assert found == {5001: 1, 5002: 2, 5003: 4}
        assert port.found() == found


def test_a_powered_off_reader_leaves_at_the_next_search_and_returns_at_a_later_one() -> None:
    with World(seed=5) as world:
        bus = Rs485Bus(world, "line", protocol="osdp")
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
        bus = Rs485Bus(world, "line", protocol="osdp")
        reader = OsdpReader(world, bus, ReaderSpec(3, serial_number=7003))
        reader.start()
        port = SlavePort(world, bus, "t-rs485", addresses=[3])
        assert world.run(port.search()) == {7003: 3}
        reader.stop()
        world.run_for(30.0)
        assert port.found() == {}


def test_bad_slave_port_settings_are_refused_by_name() -> None:
    with World() as world:
        bus = Rs485Bus(world, "line", protocol="osdp")
        with pytest.raises(ValueError, match="OSDP address 127 not accepted"):
            SlavePort(world, bus, "p", addresses=[1, 127])
        with pytest.raises(ValueError, match="search window 0.1 s not accepted"):
            SlavePort(world, bus, "p", window_s=0.1)
        with pytest.raises(ValueError, match="at least one address"):
            SlavePort(world, bus, "p", addresses=[])


@pytest.fixture
def bed() -> Iterator[ConnectMasterBed]:
    bed = ConnectMasterBed(seed=3)
    bed.run(bed.start())
    yield bed
    bed.close()


def _connected(bed: ConnectMasterBed, device_id: int = 1601) -> MasterClient:
    bed.add_terminal(device_id, "gw-a", 81, slave_readers=READERS)
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


def _set(bed: ConnectMasterBed, client: MasterClient, *slaves: int) -> None:
    bed.run(
        client.call(
            "SetSlaveDevice",
            gatewayID="gw-a",
            slaveDeviceInfos=[pb.SlaveDeviceInfo(deviceID=1601, rs485SlaveDeviceIDs=list(slaves))],
        )
    )


def _get(bed: ConnectMasterBed, client: MasterClient) -> dict[int, list[int]]:
    reply = bed.run(client.call("GetSlaveDevice", gatewayID="gw-a"))
    return {s.deviceID: list(s.rs485SlaveDeviceIDs) for s in reply.slaveDeviceInfos}


def test_set_slave_device_accepts_found_slaves_and_refuses_others_by_name(
    bed: ConnectMasterBed,
) -> None:
    client = _connected(bed)
    assert bed.terminals[1601].rs485_found() == [5001, 5002, 5003]
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


def test_get_slave_device_drops_a_slave_gone_from_the_line(bed: ConnectMasterBed) -> None:
    client = _connected(bed)
    _set(bed, client, 5001, 5003)
    bed.power_slave(1601, 5003, False)
    bed.run(bed.terminals[1601].search_slaves())
    assert _get(bed, client) == {1601: [5001]}
    bed.power_slave(1601, 5003, True)
    bed.run(bed.terminals[1601].search_slaves())
    assert _get(bed, client) == {1601: [5001, 5003]}  # still registered: back when found


def test_a_terminal_power_cycle_searches_its_line_again(bed: ConnectMasterBed) -> None:
    _connected(bed)
    terminal = bed.terminals[1601]
    terminal.power_off()
    assert terminal.rs485_found() == []
    bed.power_slave(1601, 5002, False)
    terminal.power_on()
    bed.world.run_for(6.0)
    assert terminal.rs485_found() == [5001, 5003]
    assert terminal.slave_port is not None and terminal.slave_port.searches == 2


def test_bad_slave_input_gets_clear_errors_and_the_terminal_keeps_serving(
    bed: ConnectMasterBed,
) -> None:
    client = _connected(bed)
    session = bed.gateways["gw-a"].session_of(1601)
    reply = bed.run(session.command("set-slaves", rs485=["5001"]))
    assert reply == {
        "ok": False,
        "error": "slave lists rs485=['5001'] wiegand=[] not accepted; "
        "accepted: lists of device IDs",
    }
    with pytest.raises(
        KeyError,
        match="terminal 1601 has no RS485 slave 7; on its line: "
        r"\[5001, 5002, 5003\]",
    ):
        bed.power_slave(1601, 7, False)
    with pytest.raises(ValueError, match="either as a fixed list"):
        bed.add_terminal(1602, "gw-a", 82, slave_readers={1: 6001}, rs485_slaves=[6001])
    _set(bed, client, 5002)
    assert _get(bed, client) == {1601: [5002]}


def test_a_terminal_without_a_bus_keeps_its_fixed_list(bed: ConnectMasterBed) -> None:
    terminal = bed.add_terminal(1701, "gw-a", 91, rs485_slaves=[8001, 8002])
    assert terminal.slave_port is None and terminal.rs485_found() == [8001, 8002]
    assert bed.run(terminal.search_slaves()) == [8001, 8002]


def test_same_seed_same_slave_trace() -> None:
    def run() -> str:
        bed = ConnectMasterBed(seed=11)
        try:
            bed.run(bed.start())
            _connected(bed)
            bed.power_slave(1601, 5001, False)
            bed.run(bed.terminals[1601].search_slaves())
            return "".join(
                line
                for line in bed.world.trace.dump().splitlines(True)
                if "rs485" in line or "slave" in line or "osdp" in line
            )
        finally:
            bed.close()

    first = run()
    assert "slave-search" in first and first == run()
