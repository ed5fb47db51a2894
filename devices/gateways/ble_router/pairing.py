"""The router's side of the seed's Secure Pairing API, on Bumble's Security Manager.

One pairing at a time per node, driven in two steps as the seed describes (the HTTP side,
parameters and answers, is :mod:`.pairing_api`):

* ``pair`` starts Bumble's SMP pairing (as initiator) with the request's IO capability, OOB
  data and bonding, then answers with the first thing that happens: the pairing ends
  (1 successful, 0 failed, 2 aborted) or SMP needs the user: a passkey to enter (5), a passkey
  to show (6, with ``display``), a number to compare (7, with ``display``) or the legacy OOB
  TK (3). The SMP session keeps running in its own task while it waits.
* ``pair-input`` hands the awaited value to the waiting SMP step and answers with what happens
  next, in the same format.

Each step returns a :class:`PairingStep`; failures are the domain errors of :mod:`.errors`
(:class:`~.errors.Busy`, :class:`~.errors.InvalidState`); the central emits ``pairing``
``(mac, status)`` when a pairing ends.

Status codes not produced here: 4 ("LE Secure Connections Pairing OOB Expected") would need a
peer that holds OOB data *from the router*; the seed's API has no way to give a device the
router's OOB data, so the reference router never meets that case.

Bumble specifics handled here:

* Legacy OOB: Bumble reads the TK when the SMP session starts; the seed's flow supplies it only
  in step 2. :class:`RouterSession` (Bumble's ``session_proxy`` hook) holds the legacy
  Pairing Confirm until the TK arrives. The zero TK the session starts with is never used.
* SMP timeout (Core Vol 3 Part H 3.4): 30 s without progress aborts the pairing (code 2) and
  sends Pairing Failed; the same limit bounds how long the router waits for ``pair-input``.
* Bonds: Bumble stores keys after every pairing; ``bond=0`` removes them afterwards
  (:class:`~devices.ble.security.SpecSession`). ``pairStatus`` is "paired" while the router holds
  a bond for the device or its current link was paired. A bonded device is re-encrypted with
  the stored LTK whenever it connects again, without a new pairing.

Passkeys the router displays come from the world's seeded random stream (see
:mod:`devices.ble.security` for what stays reproducible).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bumble import core, hci, smp
from bumble.device import Connection
from bumble.keys import MemoryKeyStore
from bumble.pairing import PairingConfig, PairingDelegate

from devices.ble.security import IO_CAPABILITY, SpecSession, forget
from devices.gateways.ble_router.errors import Busy, InvalidState
from devices.gateways.ble_router.events import PAIRING

if TYPE_CHECKING:
    from devices.gateways.ble_router.central import Central, NodeLink
    from devices.gateways.ble_router.chip import Chip

SMP_TIMEOUT_S = 30.0
STATUS = {
    0: "Pairing Failed",
    1: "Pairing Successful",
    2: "Pairing Aborted",
    3: "LE Legacy Pairing OOB Expected",
    4: "LE Secure Connections Pairing OOB Expected",
    5: "Passkey Input Expected",
    6: "Passkey Display Expected",
    7: "Numeric Comparison Expected",
}
_PROMPT_STATUS = {"tk": 3, "passkey": 5, "display": 6, "compare": 7}


@dataclass(frozen=True)
class PairingStep:
    """What a pairing step ended with: a :data:`STATUS` code and, for a passkey to show or a
    number to compare, the six digits."""

    status: int
    display: str | None = None

    @property
    def status_name(self) -> str:
        return STATUS[self.status]


@dataclass(frozen=True)
class PairRequest:
    """A validated pair request (see :func:`.pairing_api.parse_pair_request`)."""

    io_capability: str = "KeyboardDisplay"
    oob: int = 0  # 0 none, 1 legacy OOB, 2 LE SC OOB
    rand: bytes | None = None
    confirm: bytes | None = None
    timeout_s: float = 5.0
    addr_type: str = "public"
    bond: bool = True


@dataclass
class Prompt:
    """SMP waits for the user: ``kind`` is tk, passkey, display or compare."""

    kind: str
    display: str | None = None
    answer: asyncio.Future[Any] | None = None


@dataclass
class Outcome:
    status: int  # 0, 1 or 2
    reason: str = ""
    prompt_kind: str = ""  # the prompt left unanswered when it ended, if any


@dataclass
class PendingPairing:
    mac: str
    request: PairRequest
    events: asyncio.Queue[Prompt | Outcome] = field(default_factory=asyncio.Queue)
    prompt: Prompt | None = None
    task: asyncio.Task[None] | None = None

    async def next_step(self) -> PairingStep:
        """How the step that is waiting ends: the next prompt or the outcome."""
        event = await self.events.get()
        if isinstance(event, Outcome):
            return PairingStep(event.status)
        self.prompt = event
        return PairingStep(_PROMPT_STATUS[event.kind], event.display)


class RouterDelegate(PairingDelegate):
    """Turns Bumble's SMP questions into prompts of the two-step flow."""

    def __init__(self, pending: PendingPairing, passkey: Callable[[], int]) -> None:
        request = pending.request
        distribution = (
            PairingDelegate.DEFAULT_KEY_DISTRIBUTION
            if request.bond
            else PairingDelegate.KeyDistribution(0)
        )
        super().__init__(
            io_capability=IO_CAPABILITY[request.io_capability],
            local_initiator_key_distribution=distribution,
            local_responder_key_distribution=distribution,
        )
        self.pending = pending
        self._passkey = passkey

    async def _ask(self, kind: str, display: str | None = None) -> Any:
        prompt = Prompt(kind, display, asyncio.get_running_loop().create_future())
        self.pending.events.put_nowait(prompt)
        assert prompt.answer is not None
        return await prompt.answer

    async def confirm(self, auto: bool = False) -> bool:
        return True  # Just Works needs nobody

    async def compare_numbers(self, number: int, digits: int) -> bool:
        return bool(await self._ask("compare", f"{number:06d}"))

    async def get_number(self) -> int | None:
        return int(await self._ask("passkey"))

    async def get_tk(self) -> bytes:
        return bytes(await self._ask("tk"))

    async def generate_passkey(self) -> int:
        return self._passkey()

    async def display_number(self, number: int, digits: int) -> None:
        self.pending.events.put_nowait(Prompt("display", f"{number:06d}"))


class RouterSession(SpecSession):
    """Bumble's session with the legacy OOB TK supplied late (by ``pair-input``)."""

    def send_pairing_confirm_command(self) -> None:
        delegate = self.pairing_config.delegate
        if (
            self.is_initiator
            and not self.sc
            and self.pairing_method == smp.PairingMethod.OOB
            and isinstance(delegate, RouterDelegate)
        ):

            async def with_tk() -> None:
                self.tk = await delegate.get_tk()
                super(RouterSession, self).send_pairing_confirm_command()

            self.connection.cancel_on_disconnection(with_tk())
            return
        super().send_pairing_confirm_command()


class RouterPairing:
    """Pairing state of the whole router: pending pairings, bonds, paired links."""

    def __init__(self, central: Central) -> None:
        self.central = central
        self.world = central.world
        self.pending: dict[str, PendingPairing] = {}
        self.bonded: dict[str, int] = {}  # MAC -> the chip whose key store holds it
        self.paired_links: set[str] = set()  # MACs whose current link was paired/encrypted
        # pairings that ended while a prompt was unanswered: the late pair-input gets the outcome
        self.unanswered: dict[str, Outcome] = {}
        self._rng = central.world.rng(f"{central.name}/smp")

    # -- wiring -----------------------------------------------------------------------------
    def attach(self, chip: Chip) -> None:
        """Give a chip's Bumble device the router's pairing behaviour (idempotent)."""
        device = chip.device
        if device.keystore is None:
            device.keystore = MemoryKeyStore()
        device.smp_session_proxy = RouterSession
        device.pairing_config_factory = self._config
        # With a peer's IRK in its key store, Bumble's host would look for the peer's
        # resolvable private address before connecting, with no time limit, and never find a
        # device that advertises its identity address. Like the router's real chips, the
        # controller resolves addresses instead (it answers the resolving-list commands).
        device.address_resolution_offload = True

    def _config(self, connection: Connection) -> PairingConfig:
        mac = connection.peer_address.to_string(False).upper()
        pending = self.pending.get(mac)
        if pending is None:  # the peer started pairing: no user to ask
            return PairingConfig(sc=True, mitm=False, bonding=True, delegate=PairingDelegate())
        request = pending.request
        delegate = RouterDelegate(pending, lambda: self._rng.randrange(1_000_000))
        oob = None
        if request.oob == 1:
            oob = PairingConfig.OobConfig(
                our_context=None, peer_data=None, legacy_context=smp.OobLegacyContext(tk=bytes(16))
            )
        elif request.oob == 2:
            assert request.rand is not None and request.confirm is not None
            oob = PairingConfig.OobConfig(
                our_context=smp.OobContext(),
                legacy_context=None,
                peer_data=smp.OobSharedData(c=request.confirm, r=request.rand),
            )
        return PairingConfig(
            sc=request.oob != 1, mitm=True, bonding=request.bond, delegate=delegate, oob=oob
        )

    def trace(self, event: str, **details: Any) -> None:
        self.world.trace.emit(self.central.name, "smp", event, **details)

    # -- what the API asks ------------------------------------------------------------------
    def is_paired(self, mac: str) -> bool:
        return mac in self.bonded or mac in self.paired_links

    def bond_chip(self, mac: str) -> int | None:
        """The chip a bonded device should reconnect through (its keys and the identity the
        device knows are that chip's), if that chip has room."""
        index = self.bonded.get(mac)
        chips = self.central.chips
        if (
            index is None
            or index >= len(chips)
            or chips[index].connections >= self.central.max_connections_per_chip
        ):
            return None
        return index

    async def pair(self, mac: str, request: PairRequest) -> PairingStep:
        if mac in self.pending:
            raise Busy(
                f"a pairing with {mac} is already in progress; answer it with POST "
                f"/management/nodes/{mac}/pair-input or wait for it to end"
            )
        link = self.central.links.get(mac)
        if link is None:  # v2.0: pairing connects first
            self.trace("pair-connects-first", peer=mac)
            link, _new = await self.central.connect(mac, request.addr_type, request.timeout_s)
        if link.connection.is_encrypted and mac in self.paired_links:
            self.trace("pair-already-paired", peer=mac)
            return PairingStep(1)
        pending = PendingPairing(mac, request)
        self.pending[mac] = pending
        self.unanswered.pop(mac, None)
        self.trace(
            "pair-start",
            peer=mac,
            iocapability=request.io_capability,
            oob=request.oob,
            bond=request.bond,
        )
        pending.task = self.world.spawn(self._run(link, pending), name=f"pair/{mac}")
        return await pending.next_step()

    def awaited_input(self, mac: str) -> str:
        """What the pairing with ``mac`` waits for: ``tk``, ``passkey`` or ``compare`` (also
        when the other side ended it while the user was answering: the late answer then gets
        the outcome)."""
        pending = self.pending.get(mac)
        if pending is None and mac in self.unanswered:
            return self.unanswered[mac].prompt_kind
        prompt = pending.prompt if pending is not None else None
        if pending is None or prompt is None or prompt.answer is None or prompt.answer.done():
            waiting = (
                " (the pairing in progress waits for the passkey to be typed on the "
                "device, nothing is entered here)"
                if pending is not None
                else ""
            )
            raise InvalidState(
                f"no pairing with {mac} is waiting for input{waiting}; start one with "
                f"POST /management/nodes/{mac}/pair"
            )
        return prompt.kind

    async def pair_input(self, mac: str, value: Any) -> PairingStep:
        """Hand ``value`` (parsed for :meth:`awaited_input`'s kind) to the waiting step."""
        kind = self.awaited_input(mac)
        pending = self.pending.get(mac)
        if pending is None:  # the other side ended the pairing while the client was answering
            return PairingStep(self.unanswered.pop(mac).status)
        prompt = pending.prompt
        assert prompt is not None and prompt.answer is not None
        pending.prompt = None
        self.trace("pair-input", peer=mac, kind=kind)
        prompt.answer.set_result(value)
        return await pending.next_step()

    async def unbond(self, mac: str) -> None:
        found = False
        for chip in self.central.chips:
            if chip.device.keystore is not None:
                found = await forget(chip.device.keystore, mac) or found
        found = found or mac in self.bonded or mac in self.paired_links
        self.bonded.pop(mac, None)
        self.paired_links.discard(mac)
        if not found:
            raise InvalidState(f"the router holds no bond with {mac}; nothing to remove")
        self.trace("unbond", peer=mac)

    # -- link events ------------------------------------------------------------------------
    async def link_up(self, link: NodeLink) -> None:
        """A new link: re-encrypt it with the bond's keys if the router holds a bond."""
        mac = link.mac
        self.paired_links.discard(mac)
        if mac not in self.bonded:
            return
        device = link.chip.device
        try:
            await asyncio.wait_for(device.encrypt(link.connection), 5.0)
        except (
            core.BaseBumbleError,
            hci.HCI_Error,
            TimeoutError,
            asyncio.CancelledError,
        ) as exc:
            if isinstance(exc, asyncio.CancelledError) and mac in self.central.links:
                raise
            self.trace("re-encrypt-failed", peer=mac, error=type(exc).__name__)
            return
        self.paired_links.add(mac)
        self.trace("re-encrypted", peer=mac)

    def link_down(self, mac: str) -> None:
        self.paired_links.discard(mac)

    async def _run(self, link: NodeLink, pending: PendingPairing) -> None:
        mac = link.mac
        connection = link.connection
        outcome = Outcome(2, "aborted")
        try:
            await asyncio.wait_for(connection.pair(), SMP_TIMEOUT_S)
            # Bumble reports success once the controller took our last key PDU; let two
            # connection events carry it over the air before the client may disconnect (a
            # local disconnect drops what is still in flight, and the peer's bond with it).
            await asyncio.sleep(2 * connection.parameters.connection_interval / 1000.0)
            outcome = Outcome(1)
        except (asyncio.TimeoutError, TimeoutError):  # noqa: UP041
            session = link.chip.device.smp_manager.sessions.get(connection.handle)
            if session is not None and mac in self.central.links:
                session.send_pairing_failed(smp.ErrorCode.UNSPECIFIED_REASON)
            outcome = Outcome(2, f"no progress for {SMP_TIMEOUT_S:g} s (SMP timeout)")
        except core.ProtocolError as exc:
            outcome = Outcome(0, str(exc.error_name or exc))
        except asyncio.CancelledError:
            if mac in self.central.links:
                raise
            outcome = Outcome(0, "the link was lost")
        except Exception as exc:  # any other SMP failure ends this pairing, not the router
            outcome = Outcome(0, repr(exc))
        finally:
            if self.pending.get(mac) is pending:
                del self.pending[mac]
            if (
                pending.prompt is not None
                and pending.prompt.answer is not None
                and not pending.prompt.answer.done()
            ):
                pending.prompt.answer.cancel()
                outcome.prompt_kind = pending.prompt.kind
                self.unanswered[mac] = outcome
            pending.events.put_nowait(outcome)
        if outcome.status == 1:
            self.paired_links.add(mac)
            if pending.request.bond:
                self.bonded[mac] = link.chip.index
            else:
                await forget(link.chip.device.keystore, mac)
                self.bonded.pop(mac, None)
        self.trace("pair-end", peer=mac, status=outcome.status, reason=outcome.reason)
        self.central.emit(PAIRING, mac, outcome.status)
