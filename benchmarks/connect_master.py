"""Connect Master benchmark: 500 terminals on 2 device gateways, a device gateway restart and a
power cycle of a tenth of the terminals, in virtual time, through the virtual gRPC channel, on
the local Connect Master bed."""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from devices.gateways.connect_master.protos import connect_pb2 as pb
from scenarios.connect_master.bed import LocalCmBed, terminal_name
from scenarios.connect_master.worlds import GatewaySpec


def storm_gateways(count: int) -> tuple[GatewaySpec, ...] | None:
    """``count`` device gateways (gw-a, gw-b, ...), each with a /24 subnet and a tenant of its
    own; None (the default world's two) for two."""
    if count == 2:
        return None
    if not 1 <= count <= 26:
        raise ValueError(f"{count} gateways not accepted; accepted: 1..26")
    return tuple(
        GatewaySpec(f"gw-{chr(97 + k)}", f"10.0.{k}.1", f"10.0.{k}.0/24", f"tenant-{chr(97 + k)}")
        for k in range(count)
    )


def cm_reconnect(
    seed: int = 1, per_gateway: int = 250, minutes: float = 10.0, gateways: int = 2
) -> dict[str, Any]:
    """Every terminal managed with AddAsyncConnectionDB; at 60 s gw-a restarts, at 120 s a
    tenth of gw-b's terminals lose power for 5 s; the world then runs to ``minutes``. A
    gateway's /24 holds at most 253 terminals: more terminals take more ``gateways``."""
    bed = LocalCmBed(seed=seed, keep_trace=False, gateways=storm_gateways(gateways))
    world = bed.cm_world
    fleets: dict[str, list[int]] = {}
    arrived: list[tuple[float, int, int]] = []

    async def power(device_ids: list[int], on: bool) -> None:
        for device_id in device_ids:
            await bed.set_power(terminal_name(device_id), on)

    async def main() -> dict[str, Any]:
        await bed.start()
        for g, (gid, spec) in enumerate(world.specs.items()):
            fleets[gid] = [10000 * (g + 1) + i for i in range(per_gateway)]
            client = bed.client(spec.tenant)
            await client.login()
            stream = client.subscribe()

            async def pump(stream: Any = stream) -> None:
                async for change in stream:
                    arrived.append((bed.now, change.deviceID, change.status))

            bed.spawn(pump())
            infos = []
            for i, device_id in enumerate(fleets[gid]):
                await bed.place({"deviceID": device_id, "gateway": gid, "host": 2 + i})
                infos.append(
                    pb.AsyncConnectInfo(deviceID=device_id, IPAddr=spec.host_ip(2 + i), port=51211)
                )
            await client.call("AddAsyncConnectionDB", gatewayID=gid, connectInfos=infos)
        await asyncio.sleep(60 - bed.now)
        restart = bed.now
        await bed.inject("gateway_restart", target="gw-a")
        await asyncio.sleep(120 - bed.now)
        cycled = fleets["gw-b"][: per_gateway // 10]
        await power(cycled, False)
        off = bed.now
        await asyncio.sleep(5)
        await power(cycled, True)
        await asyncio.sleep(minutes * 60 - bed.now)

        def back(ids: list[int], since: float) -> list[float]:
            first: dict[int, float] = {}
            for t, d, s in arrived:
                if t >= since and s == pb.TCP_CONNECTED and d not in first:
                    first[d] = t - since
            return [first.get(d, float("inf")) for d in ids]

        after_restart = back(fleets["gw-a"], restart)
        after_power = back(cycled, off + 5)
        sessions = [(await bed.terminal_state(d))["maxSessions"] for d in world.terminals]
        return {
            "sim_seconds": bed.now,
            "terminals": len(world.specs) * per_gateway,
            "restart_back_max_s": round(max(after_restart), 3),
            "restart_back_median_s": round(statistics.median(after_restart), 3),
            "power_cycle_back_max_s": round(max(after_power), 3),
            "reconnect_interval_s": bed.reconnect_s,
            "status_changes": len(arrived),
            "duplicates_refused": sum(g.duplicates_refused for g in world.gateways.values()),
            "max_sessions_per_terminal": max(sessions),
        }

    try:
        return bed.run(main())
    finally:
        bed.close()
