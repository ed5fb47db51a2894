"""A peripheral on a real HCI transport instead of the simulated controller.

A physical router needs peripherals on a real radio: the peripheral's Bumble host then drives a
real controller through a Bumble transport (``usb:0``, ``serial:...``). Here the "real"
controller is a simulated one whose HCI is served on a loopback TCP socket (Bumble's
``tcp-server`` transport), so the whole path — H4 framing over a socket, a host that knows
nothing of the simulation — runs in CI. The world runs in real time, as it must then.
"""

from __future__ import annotations

from bumble.transport import open_transport

from devices.ble.peripheral import BlePeripheral
from devices.ble.spec import PeripheralSpec, standard_peripheral
from devices.gateways.ble_router.router import BleRouter
from devices.protocols.http_client import HttpClient
from sim.iplink import IpNetwork
from sim.radio import Radio, RadioController
from sim.world import World
from tests.served import free_port


def test_a_peripheral_drives_a_controller_over_a_real_hci_transport():
    world = World(seed=4, clock="real")
    radio = Radio(world)
    net = IpNetwork(world)
    port = free_port()

    async def main():
        # The "dongle": a controller on the radio whose HCI is reachable only through TCP.
        dongle = RadioController("dongle", radio, (2.0, 0.0, 0.0))
        hci_server = await open_transport(f"tcp-server:127.0.0.1:{port}")
        hci_server.source.set_packet_sink(dongle)
        dongle.host = hci_server.sink

        spec = standard_peripheral(1, notify_hz=0.0, interval_ms=100)
        spec["hci_transport"] = f"tcp-client:127.0.0.1:{port}"
        peripheral = BlePeripheral(world, radio, PeripheralSpec.from_dict(spec))
        await peripheral.power_on()

        router = BleRouter(world, radio)
        served = await router.serve(net)
        client = HttpClient(served.url, connect=net.open_connection)
        async with client.sse("/gap/nodes", {"event": 1, "filter_name": "HIL-0001"}) as scan:
            first = await scan.next(timeout=3)
        address = peripheral.address
        connect = await client.request(
            "POST", f"/gap/nodes/{address}/connection", json_body={"type": "random"}
        )
        read = await client.request("GET", f"/gatt/nodes/{address}/handle/22/value")
        states = client.sse("/management/nodes/connection-state")
        await states.open()
        await peripheral.power_off()  # an HCI reset: the link drops without a word
        lost = await states.next(timeout=5)
        states.close()
        moved = None
        try:
            peripheral.move((10, 0, 0))
        except ValueError as exc:
            moved = str(exc)
        await router.stop()
        await served.close()
        await hci_server.close()
        return first, connect, read, lost, moved

    try:
        first, connect, read, lost, moved = world.run(main())
    finally:
        world.close()
    assert first is not None and first.json()["name"] == "HIL-0001"
    assert connect.status == 200, connect.text
    assert read.status == 200 and read.json()["value"] == "64"
    assert lost is not None and lost.json()["connectionState"] == "disconnected"
    assert moved is not None and "real radio" in moved
