"""Which Connect Master bed a run gets from its SUT declaration: builtin -> :class:`LocalCmBed`
(one world, virtual time); any other SUT -> :class:`RemoteCmBed` at the declared
``connect-master`` endpoint over the real gRPC wire (mutual TLS + login), its terminals placed
through the declared ``world_control`` (reset per scenario) or bound to its declared ``devices``
(capability ``declared-devices``)."""

from __future__ import annotations

from pathlib import Path

from conformance.pytest_plugin import HilConfig
from conformance.sut import SutDeclaration, SutError
from scenarios.connect_master.bed import CmBed, LocalCmBed, RemoteCmBed
from scenarios.connect_master.declared import DeclaredTerminal, parse_devices

PROFILE = "connect-master"
DECLARED = "declared-devices"


def new_bed(config: HilConfig, scratch: Path) -> CmBed:
    """A bed for one scenario, not started (``scratch`` holds the builtin master's database)."""
    if config.sut.builtin:
        return LocalCmBed(
            seed=config.seed,
            clock=config.clock,
            db_path=scratch / "master.db",
            capture_dir=scratch,
            deviations=config.sut.deviations,  # told to misbehave (hil selfcheck)
        )
    sut = config.sut
    return RemoteCmBed(sut.endpoint(PROFILE), seed=config.seed, devices=declared_devices(sut))


def declared_devices(sut: SutDeclaration) -> list[DeclaredTerminal]:
    """The SUT's declared terminals; SutError naming the entry and field when malformed, or when
    the ``devices`` list and the ``declared-devices`` capability do not go together."""
    at = f"{sut.source or sut.name}: endpoints.{PROFILE}"
    raw = sut.endpoint(PROFILE).get("devices")
    try:
        devices = parse_devices(raw)
    except ValueError as exc:
        raise SutError(f"{at}.{exc}") from None
    if devices and not sut.has(DECLARED):
        raise SutError(
            f"{at}.devices lists {len(devices)} terminal(s) but capabilities lack "
            f"{DECLARED!r}; add it so scenarios may use them"
        )
    if sut.has(DECLARED) and not devices:
        raise SutError(
            f"{at}: capability {DECLARED!r} needs a non-empty 'devices' list "
            "({deviceID, ip, port?, ssl?, mode?} per terminal)"
        )
    return devices
