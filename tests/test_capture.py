"""HCI captures: btsnoop files a standard tool opens, stamped with the world's clock."""

from __future__ import annotations

import datetime as dt

from devices.ble.spec import standard_peripheral
from scenarios.ble_router.bed import LocalBleBed
from sim.capture import read_btsnoop

_YEAR0_TO_1970_US = (
    dt.datetime(1970, 1, 1, tzinfo=dt.UTC) - dt.datetime(1, 1, 1, tzinfo=dt.UTC)
) // dt.timedelta(microseconds=1) + 366 * 24 * 3600 * 1_000_000


def _capture(tmp_path, seed: int) -> bytes:
    bed = LocalBleBed(seed=seed, capture_dir=tmp_path)

    async def main() -> None:
        await bed.start()
        await bed.place(standard_peripheral(1))
        client = bed.client()
        address = bed.address_of("HIL-0001")
        r = await client.request(
            "POST", f"/gap/nodes/{address}/connection", json_body={"type": "random"}
        )
        assert r.status == 200, r.text
        r = await client.request("GET", f"/gatt/nodes/{address}/services")
        assert r.status == 200, r.text

    try:
        bed.run(main())
        bed.run(bed.stop())
    finally:
        bed.close()
    return (tmp_path / "hci-chip0.btsnoop").read_bytes()


def test_router_hci_is_captured_as_btsnoop_on_world_time(tmp_path):
    records = read_btsnoop(_capture(tmp_path / "a", 3))
    packets = [p for _, _, p in records]
    # An LE Create Connection command went out and an LE Connection Complete came back.
    assert any(p[0] == 0x01 and p[1:3] == bytes.fromhex("0d20") for p in packets)
    assert any(p[0] == 0x04 and p[1] == 0x3E and p[3] == 0x01 for p in packets)
    # ACL data (the GATT discovery) is there, flagged as data, in both directions.
    acl = [(flags, p) for flags, _, p in records if p[0] == 0x02]
    assert {flags & 1 for flags, _ in acl} == {0, 1}
    # Timestamps are the world's calendar (it starts on 2026-01-01), never decreasing.
    first = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
        microseconds=records[0][1] - _YEAR0_TO_1970_US
    )
    assert first.date() == dt.date(2026, 1, 1)
    stamps = [t for _, t, _ in records]
    assert stamps == sorted(stamps)


def test_captures_are_reproducible(tmp_path):
    assert _capture(tmp_path / "a", 5) == _capture(tmp_path / "b", 5)
