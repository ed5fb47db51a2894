"""A peripheral's side of LE pairing, on Bumble's Security Manager (SMP).

:class:`PeripheralSecurity` turns a :class:`~devices.ble.spec.SecuritySpec` into Bumble's
``PairingConfig`` (IO capability, Secure Connections or legacy, MITM, bonding, OOB data) and a
``PairingDelegate`` that plays the person holding the device: it reads out the passkey or the
comparison number it displays, types the passkey someone gave it (world control), confirms or
denies a comparison, or, by ``behaviour``, rejects, never answers, or mistypes.

Two Bumble gaps are closed by :class:`SpecSession` (Bumble's ``session_proxy`` hook):

* Bumble stores the keys of every pairing in the key store, bonded or not: a session whose
  negotiated bonding flag is off deletes them once the pairing ends (no bond survives it).
* Bumble never refuses Just Works when the local side asked for MITM protection: a peripheral
  whose spec says ``mitm: true`` answers such a request with "Authentication Requirements".

Determinism: the passkeys a peripheral displays and its OOB material (legacy TK, LE SC OOB
private key and random) are drawn from the world's seeded random streams, so the same seed
shows the same label and the same passkey. SMP's own nonces and the router's ECDH keys come
from Bumble (``secrets``); they never reach the trace and do not change any PDU's length or
timing, so the timeline stays the same byte for byte. The numeric-comparison number derives
from those nonces and is therefore *not* reproducible between runs; it is traced only as
"shown", never by value. No wall clock is read: every SMP step runs on the world's loop.
"""

from __future__ import annotations

import asyncio
import functools
import random
from typing import TYPE_CHECKING, Any

from bumble import smp
from bumble.crypto import EccKey
from bumble.device import Connection, Device
from bumble.pairing import PairingConfig, PairingDelegate

from devices.ble.spec import SecuritySpec

if TYPE_CHECKING:
    from sim.world import World

IO_CAPABILITY = {
    "DisplayOnly": PairingDelegate.IoCapability.DISPLAY_OUTPUT_ONLY,
    "DisplayYesNo": PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_YES_NO_INPUT,
    "KeyboardOnly": PairingDelegate.IoCapability.KEYBOARD_INPUT_ONLY,
    "NoInputNoOutput": PairingDelegate.IoCapability.NO_OUTPUT_NO_INPUT,
    "KeyboardDisplay": PairingDelegate.IoCapability.DISPLAY_OUTPUT_AND_KEYBOARD_INPUT,
}


class SpecSession(smp.Session):
    """Bumble's SMP session, plus: no bond kept without negotiated bonding; MITM enforced by a
    responder that requires it (see the module docstring)."""

    def send_pairing_response_command(self) -> None:
        require_mitm = getattr(self.pairing_config, "require_mitm", False)
        if require_mitm and self.pairing_method == smp.PairingMethod.JUST_WORKS:
            self.send_pairing_failed(smp.ErrorCode.AUTHENTICATION_REQUIREMENTS)
            return
        super().send_pairing_response_command()

    async def on_pairing(self) -> None:
        await super().on_pairing()
        keystore = self.manager.device.keystore
        if not self.bonding and keystore is not None:
            await forget(keystore, str(self.connection.peer_address))


async def forget(keystore: Any, address: str) -> bool:
    """Delete the keys of ``address`` (any spelling of its type suffix); True if there were."""
    base = address.split("/")[0].upper()
    found = False
    for name, _keys in await keystore.get_all():
        if name.split("/")[0].upper() == base:
            await keystore.delete(name)
            found = True
    return found


class PeripheralDelegate(PairingDelegate):
    """The person holding the peripheral, as the spec's behaviour describes them."""

    def __init__(self, owner: PeripheralSecurity) -> None:
        super().__init__(io_capability=IO_CAPABILITY[owner.spec.io_capability])
        self.owner = owner

    async def accept(self) -> bool:
        owner = self.owner
        owner.requests += 1
        owner.event("pairing-request", behaviour=owner.spec.behaviour)
        if owner.spec.behaviour == "timeout":
            await asyncio.get_running_loop().create_future()  # never answers
        return owner.spec.behaviour != "reject"

    async def confirm(self, auto: bool = False) -> bool:
        return self.owner.spec.behaviour != "reject"

    async def compare_numbers(self, number: int, digits: int) -> bool:
        self.owner.show(number, "comparison")
        return self.owner.spec.behaviour != "wrong_passkey"

    async def get_number(self) -> int | None:
        owner = self.owner
        if owner.spec.passkey is not None:
            value = owner.spec.passkey
        else:
            owner.waiting_for_passkey = True
            owner.event("passkey-wanted")
            owner.typed = asyncio.get_running_loop().create_future()
            try:
                value = await owner.typed
            finally:
                owner.waiting_for_passkey = False
                owner.typed = None
        if owner.spec.behaviour == "wrong_passkey":
            value = (value + 1) % 1_000_000
        owner.event("passkey-entered", wrong=owner.spec.behaviour == "wrong_passkey")
        return value

    async def generate_passkey(self) -> int:
        if self.owner.spec.passkey is not None:
            return self.owner.spec.passkey
        return self.owner.rng.randrange(1_000_000)

    async def display_number(self, number: int, digits: int) -> None:
        self.owner.show(number, "passkey")


class PeripheralSecurity:
    """Pairing material and behaviour of one peripheral; lives as long as the peripheral (its
    OOB label and key store survive power cycles)."""

    def __init__(self, world: World, name: str, spec: SecuritySpec) -> None:
        self.world = world
        self.name = name
        self.spec = spec
        self._tk = (
            bytes.fromhex(spec.oob_tk.lower().removeprefix("0x").replace(" ", ""))[::-1]
            if spec.oob_tk
            else None
        )
        self.oob_context: smp.OobContext | None = None
        if spec.oob == "secure":
            private = self.rng.randrange(1, 2**255).to_bytes(32, "big")
            self.oob_context = smp.OobContext(
                ecc_key=EccKey.from_private_key_bytes(private), r=self.rng.randbytes(16)
            )
        self.requests = 0  # pairing requests received
        self.pairings = 0  # pairings completed
        self.failures: list[str] = []  # SMP error names of failed pairings
        self.display: str | None = None
        self.display_kind: str | None = None
        self.waiting_for_passkey = False
        self.typed: asyncio.Future[int] | None = None
        self.device: Device | None = None

    @functools.cached_property
    def rng(self) -> random.Random:
        """This peripheral's pairing stream, made on first use: a crowd of peripherals that
        never pair carries none. Without a TK from the spec its first 16 bytes are the TK."""
        rng = self.world.rng(f"{self.name}/smp")
        if self._tk is None:
            self._tk = rng.randbytes(16)
        return rng

    @property
    def tk(self) -> bytes:
        """The TK as SMP carries it (least significant byte first); the label shows the
        number."""
        if self._tk is None:
            _ = self.rng  # draws it
        assert self._tk is not None
        return self._tk

    # -- the label a user reads -----------------------------------------------------------------
    def oob_label(self) -> dict[str, str]:
        """What is printed on the device for OOB pairing (empty without OOB)."""
        if self.spec.oob == "legacy":
            return {"tk": "0x" + self.tk[::-1].hex().upper()}
        if self.oob_context is not None:
            shared = self.oob_context.share()
            # the byte order the seed's example shows: as SMP carries them (little-endian hex)
            return {"rand": shared.r.hex(), "confirm": shared.c.hex()}
        return {}

    # -- Bumble wiring ----------------------------------------------------------------------------
    def install(self, device: Device) -> None:
        """Give a freshly built Bumble device this peripheral's pairing behaviour."""
        self.device = device
        device.smp_session_proxy = SpecSession
        device.pairing_config_factory = self._config
        device.on("connection", self._on_connection)

    def _config(self, _connection: Connection) -> PairingConfig:
        oob = None
        if self.spec.oob == "legacy":
            oob = PairingConfig.OobConfig(
                our_context=None, peer_data=None, legacy_context=smp.OobLegacyContext(tk=self.tk)
            )
        elif self.oob_context is not None:
            oob = PairingConfig.OobConfig(
                our_context=self.oob_context, peer_data=None, legacy_context=None
            )
        config = PairingConfig(
            sc=self.spec.secure_connections,
            mitm=self.spec.mitm,
            bonding=self.spec.bonding,
            delegate=PeripheralDelegate(self),
            oob=oob,
        )
        config.require_mitm = self.spec.mitm  # type: ignore[attr-defined]  # read by SpecSession
        return config

    def _on_connection(self, connection: Connection) -> None:
        def paired(_keys: Any) -> None:
            self.pairings += 1
            self.event("paired", sc=bool(connection.sc))

        def failed(reason: int) -> None:
            try:
                name = smp.ErrorCode(reason).name
            except ValueError:
                name = f"0x{reason:02X}"
            self.failures.append(name)
            self.event("pairing-failed", reason=name)

        def encryption_change() -> None:
            self.event("encrypted" if connection.is_encrypted else "encryption-off")

        connection.on(connection.EVENT_PAIRING, paired)
        connection.on(connection.EVENT_PAIRING_FAILURE, failed)
        connection.on(connection.EVENT_CONNECTION_ENCRYPTION_CHANGE, encryption_change)

    # -- the person holding it --------------------------------------------------------------------
    def show(self, number: int, kind: str) -> None:
        self.display = f"{number:06d}"
        self.display_kind = kind
        # a comparison number is not reproducible between runs: trace that it shows, not what
        self.event("display", kind=kind, **({"value": self.display} if kind == "passkey" else {}))

    def type_passkey(self, passkey: int) -> None:
        """Someone types ``passkey`` on the device's keyboard."""
        if not 0 <= passkey <= 999999:
            raise ValueError(f"passkey {passkey} is not a number from 0 to 999999")
        if self.typed is None or self.typed.done():
            raise ValueError(
                f"{self.name} is not waiting for a passkey (it asks for one only "
                "while a passkey-entry pairing runs and its keyboard is the input)"
            )
        self.typed.set_result(passkey)

    def event(self, event: str, **details: Any) -> None:
        self.world.trace.emit(self.name, "smp", event, **details)

    def bonds(self) -> list[str]:
        """The peers this peripheral holds keys for (its key store is in memory)."""
        keystore = self.device.keystore if self.device is not None else None
        return sorted(getattr(keystore, "all_keys", {}))

    def state(self) -> dict[str, Any]:
        """What a scenario may read (world control / test bed)."""
        device = self.device
        encrypted = bool(device and any(c.is_encrypted for c in device.connections.values()))
        return {
            "io_capability": self.spec.io_capability,
            "secure_connections": self.spec.secure_connections,
            "behaviour": self.spec.behaviour,
            "oob": self.oob_label(),
            "display": self.display,
            "display_kind": self.display_kind,
            "waiting_for_passkey": self.waiting_for_passkey,
            "pairing_requests": self.requests,
            "pairings": self.pairings,
            "failures": list(self.failures),
            "encrypted": encrypted,
            "bonds": self.bonds(),
        }
