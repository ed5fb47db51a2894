"""A sniffer's view of the BLE air: every link-layer PDU the radio carried, as pcapng with link
type ``BLUETOOTH_LE_LL_WITH_PHDR`` (256), built with scapy's ``bluetooth4LE`` layers.

What is written, one packet per reception (a PDU two scanners heard is two packets):

* advertising PDUs of every legacy type (ADV_IND, ADV_DIRECT_IND, ADV_SCAN_IND,
  ADV_NONCONN_IND) with their advertising data, SCAN_REQ and SCAN_RSP of active scans, and
  CONNECT_IND with its link-layer fields (access address, CRC init, window, interval, latency,
  timeout, channel map, hop);
* data-channel PDUs of each connection under its access address: LL control PDUs and L2CAP
  (ATT, SMP, signalling) cut into 27-byte LL fragments as an LE 1M link without data-length
  extension carries them, with SN/NESN, the direction in the RF header, and the CRC computed
  with the connection's CRC init.

The RF header carries the channel and the RSSI: for advertising PDUs the exact reading the
receiving controller reported (the radio's seeded draw); for data PDUs the path-loss mean at
that instant (the radio draws no noise per data PDU, and a capture must not draw from the
world's random streams). The receiving node is named in each packet's comment
(``"<sender> -> <receiver>"``), so ``frame.comment contains "router"`` filters by receiver,
and ``btle.advertising_address`` / ``btle.access_address`` by device or connection. One
interface ("air") holds everything: Wireshark follows a connection (L2CAP reassembly, GATT,
SMP) only within one interface. With ``sniffer=True`` (``hil serve --capture``) every
advertising PDU is also written once as a sniffer parked on channel 37 hears it, so the air
shows its advertisers even while no controller of the world scans.

Channels: a scanner listens on one advertising channel per scan interval, in turn (37, 38,
39); what it hears, the SCAN_REQ it sends and the CONNECT_IND that follows carry that channel.
Data PDUs use channel selection algorithm #1 over all 37 data channels with the connection's
hop increment. Fields the model does not have (access address, CRC init, hop, the encryption
session diversifiers) are derived from a hash of the connection, never from the world's
random streams, so a capture never changes what the world does. Bumble's controllers start
encryption with two PDUs (the central's LL_ENC_REQ, the peripheral's LL_START_ENC_RSP); the
capture writes the whole procedure as the spec has it (LL_ENC_RSP, LL_START_ENC_REQ and the
central's LL_START_ENC_RSP added), so Wireshark follows it. After encryption starts the PDUs
are written as a sniffer that knows the key shows them: decrypted (RF-header flag), MIC left
out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bumble import hci, ll
from scapy.layers.bluetooth4LE import (
    BTLE,
    BTLE_ADV,
    BTLE_ADV_DIRECT_IND,
    BTLE_ADV_IND,
    BTLE_ADV_NONCONN_IND,
    BTLE_ADV_SCAN_IND,
    BTLE_CONNECT_REQ,
    BTLE_CTRL,
    BTLE_RF,
    BTLE_SCAN_REQ,
    BTLE_SCAN_RSP,
    LL_CONNECTION_UPDATE_IND,
    LL_ENC_REQ,
    LL_ENC_RSP,
    LL_FEATURE_REQ,
    LL_FEATURE_RSP,
    LL_REJECT_EXT_IND,
    LL_SLAVE_FEATURE_REQ,
    LL_START_ENC_REQ,
    LL_START_ENC_RSP,
    LL_TERMINATE_IND,
)
from scapy.packet import Packet, Raw

from sim.pcap import LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR, PcapngWriter
from sim.radio import (
    ADV_DIRECT_IND,
    ADV_IND,
    ADV_NONCONN_IND,
    ADV_SCAN_IND,
    AdvertisingPdu,
    LinkState,
    Radio,
    RadioController,
)

if TYPE_CHECKING:
    from bumble.controller import Controller

ADVERTISING_ACCESS_ADDRESS = 0x8E89BED6
ADVERTISING_CRC_INIT = 0x555555
ALL_DATA_CHANNELS = (1 << 37) - 1
LL_FRAGMENT = 27  # max LL data payload without data-length extension
_ADV_LAYERS: dict[int, type[Packet]] = {
    ADV_IND: BTLE_ADV_IND,
    ADV_DIRECT_IND: BTLE_ADV_DIRECT_IND,
    ADV_SCAN_IND: BTLE_ADV_SCAN_IND,
    ADV_NONCONN_IND: BTLE_ADV_NONCONN_IND,
}
# RF header "PDU type" values (bits 7-9 of its flags)
_UNSPECIFIED, _CENTRAL_TO_PERIPHERAL, _PERIPHERAL_TO_CENTRAL = 0, 2, 3
LLID_CONTINUE, LLID_START, LLID_CONTROL = 1, 2, 3


def rf_channel(ll_channel: int) -> int:
    """The RF channel (0-39, by frequency) of a link-layer channel index (data 0-36,
    advertising 37-39), as the RF header wants it."""
    if ll_channel == 37:
        return 0
    if ll_channel == 38:
        return 12
    if ll_channel == 39:
        return 39
    return ll_channel + 1 if ll_channel <= 10 else ll_channel + 2


def _bd(address: hci.Address) -> str:
    return address.to_string(with_type_qualifier=False).lower()


@lru_cache(maxsize=4096)
def _rf_template(
    channel: int, signal_valid: bool, access_address: int, pdu_type: int, decrypted: bool
) -> bytes:
    return bytes(
        BTLE_RF(
            rf_channel=rf_channel(channel),
            signal=-128,
            noise=-128,
            reference_access_address=access_address,
            dewhitened=1,
            sig_power_valid=int(signal_valid),
            decrypted=int(decrypted),
            reference_access_address_valid=1,
            type=pdu_type,
            crc_checked=1,
            crc_valid=1,
        )
    )


def _rf_header(
    channel: int, rssi: int | None, access_address: int, pdu_type: int, decrypted: bool
) -> bytes:
    """The RF header (built by scapy once per channel and connection; the signal byte, which
    changes with every reading, patched in)."""
    template = _rf_template(channel, rssi is not None, access_address, pdu_type, decrypted)
    if rssi is None:
        return template
    return template[:1] + (rssi & 0xFF).to_bytes(1, "little") + template[2:]


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        state = byte
        for _ in range(8):
            state = (state >> 1) ^ (0xDA6000 if state & 1 else 0)
        table.append(state)
    return table


_CRC_TABLE = _crc_table()


def _bits_reversed_per_byte(value: int) -> int:
    """The CRC init as the LFSR holds it: each byte's bits reversed, bytes in place."""
    return int.from_bytes(
        bytes(int(f"{b:08b}"[::-1], 2) for b in value.to_bytes(3, "little")), "little"
    )


def crc24(pdu: bytes, init: int) -> bytes:
    """The link layer's CRC of ``pdu`` (header and payload) as transmitted: the same value as
    scapy's ``BTLE.compute_crc``, a byte at a time (data PDUs are many)."""
    state = _bits_reversed_per_byte(init & 0xFFFFFF)
    table = _CRC_TABLE
    for byte in pdu:
        state = (state >> 8) ^ table[(state ^ byte) & 0xFF]
    return state.to_bytes(3, "little")


@dataclasses.dataclass
class _Connection:
    """What the capture knows of one connection (fields a sniffer reads from CONNECT_IND)."""

    access_address: int
    crc_init: int
    hop: int
    anchor: float
    interval_s: float
    sent: dict[bool, int] = dataclasses.field(default_factory=lambda: {True: 0, False: 0})
    encrypted: bool = False

    def event(self, t: float) -> int:
        """The connection event counter at world time ``t``."""
        return max(0, round((t - self.anchor) / self.interval_s))

    def channel(self, t: float) -> int:
        """Channel selection algorithm #1, every data channel used."""
        return ((self.event(t) + 1) * self.hop) % 37


class AirCapture:
    """Writes what ``radio`` carries to ``writer`` (interface ``air``); see the module doc."""

    def __init__(
        self,
        radio: Radio,
        writer: PcapngWriter,
        interface: str = "air",
        sniffer: bool = False,
    ) -> None:
        self.radio = radio
        self.writer = writer
        self.sniffer = sniffer
        self.interface = writer.interface(
            interface,
            LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR,
            f"BLE air of {radio.name}: each PDU as a receiver heard it (comment: sender -> "
            "receiver)",
        )
        self._connections = 0
        self._adv_cache: dict[tuple[Any, ...], bytes] = {}
        radio.capture = self

    def close(self) -> None:
        if self.radio.capture is self:
            self.radio.capture = None

    # -- what the radio reports ----------------------------------------------------------------
    def transmitted(self, sender: RadioController, pdu: AdvertisingPdu) -> None:
        """An advertising PDU went out. With ``sniffer``, a sniffer parked on channel 37 hears
        every one (its signal not measured; comment ``"<sender> -> sniffer"``), whether or not
        a controller of the world was listening."""
        if self.sniffer:
            header = _rf_header(37, None, ADVERTISING_ACCESS_ADDRESS, _UNSPECIFIED, False)
            comment = f"{self._name(sender)} -> sniffer"
            self.writer.write(self.interface, header + self._adv_bytes(pdu), comment=comment)

    def advertising(
        self, sender: RadioController, receiver: RadioController, pdu: AdvertisingPdu, rssi: int
    ) -> None:
        """An advertising PDU ``receiver`` heard at ``rssi``."""
        channel = self._scan_channel(receiver)
        self._write_adv(self._adv_bytes(pdu), channel, rssi, sender, receiver)

    def scan_exchange(
        self,
        scanner: RadioController,
        advertiser: RadioController,
        pdu: AdvertisingPdu,
        rssi: int,
    ) -> None:
        """An active scan that went through: SCAN_REQ (heard by the advertiser), SCAN_RSP
        (heard by the scanner at ``rssi``)."""
        channel = self._scan_channel(scanner)
        scan_a = _own_scan_address(scanner)
        request = (
            BTLE()
            / BTLE_ADV(TxAdd=int(scan_a.is_random), RxAdd=int(pdu.advertiser_address.is_random))
            / BTLE_SCAN_REQ(ScanA=_bd(scan_a), AdvA=_bd(pdu.advertiser_address))
        )
        self._write_adv(
            bytes(request), channel, self._mean(scanner, advertiser), scanner, advertiser
        )
        response = (
            BTLE()
            / BTLE_ADV(TxAdd=int(pdu.advertiser_address.is_random))
            / BTLE_SCAN_RSP(AdvA=_bd(pdu.advertiser_address))
            / Raw(pdu.scan_response)
        )
        self._write_adv(bytes(response), channel, rssi, advertiser, scanner)

    def connect_ind(
        self,
        central: RadioController,
        peripheral: RadioController,
        link: LinkState,
        request: ll.ConnectInd,
    ) -> None:
        """The CONNECT_IND that opened ``link``, heard by the peripheral."""
        now = self.radio.world.now
        self._connections += 1
        seed = hashlib.sha256(
            f"{_bd(link.central_address)}/{_bd(link.peripheral_address)}/{self._connections}".encode()
        ).digest()
        access_address = int.from_bytes(seed[:4], "little")
        if access_address == ADVERTISING_ACCESS_ADDRESS:
            access_address ^= 0x01010101
        conn = _Connection(
            access_address=access_address,
            crc_init=int.from_bytes(seed[4:7], "little"),
            hop=5 + seed[7] % 12,
            anchor=link.anchor,
            interval_s=link.interval_s,
        )
        link.capture = conn
        window_offset = max(0, int((link.anchor - now - 1.25e-3) / 1.25e-3))
        packet = (
            BTLE()
            / BTLE_ADV(
                TxAdd=int(link.central_address.is_random),
                RxAdd=int(link.peripheral_address.is_random),
            )
            / BTLE_CONNECT_REQ(
                InitA=_bd(link.central_address),
                AdvA=_bd(link.peripheral_address),
                AA=conn.access_address,
                crc_init=conn.crc_init,
                win_size=1,
                win_offset=window_offset,
                interval=request.interval,
                latency=request.latency,
                timeout=request.timeout,
                chM=ALL_DATA_CHANNELS,
                SCA=0,
                hop=conn.hop,
            )
        )
        channel = self._scan_channel(central)
        self._write_adv(
            bytes(packet), channel, self._mean(central, peripheral), central, peripheral
        )

    def data(self, link: LinkState, receiver: RadioController, item: tuple[str, Any, Any]) -> None:
        """A data-channel PDU (``("acl", source, l2cap bytes)`` or ``("ctrl", source,
        ll.ControlPdu)``) delivered to ``receiver`` at its connection event."""
        conn = link.capture
        if not isinstance(conn, _Connection):
            return
        kind, source, payload = item
        from_central = source == link.central_address
        event = conn.event(self.radio.world.now)
        if kind == "acl":
            data = bytes(payload)
            chunks = [data[i : i + LL_FRAGMENT] for i in range(0, len(data), LL_FRAGMENT)] or [b""]
            for n, chunk in enumerate(chunks):
                self._write_data(
                    link, conn, from_central, LLID_START if n == 0 else LLID_CONTINUE, chunk
                )
            return
        if isinstance(payload, ll.StartEncRsp) and not from_central:
            # Bumble's controllers skip these steps of the encryption start; the capture shows
            # the procedure as the spec has it (so Wireshark follows it): the peripheral's
            # LL_START_ENC_REQ, the central's encrypted LL_START_ENC_RSP, then this one.
            self._write_data(
                link, conn, False, LLID_CONTROL, bytes(BTLE_CTRL() / LL_START_ENC_REQ())
            )
            conn.encrypted = True
            self._write_data(
                link, conn, True, LLID_CONTROL, bytes(BTLE_CTRL() / LL_START_ENC_RSP())
            )
        body = bytes(_control(payload, conn, event))
        self._write_data(link, conn, from_central, LLID_CONTROL, body)
        if isinstance(payload, ll.EncReq):
            # ... and the peripheral's LL_ENC_RSP (its session key and IV diversifiers).
            diversifier = hashlib.sha256(body).digest()
            answer = BTLE_CTRL() / LL_ENC_RSP(
                skds=int.from_bytes(diversifier[:8], "little"),
                ivs=int.from_bytes(diversifier[8:12], "little"),
            )
            self._write_data(link, conn, not from_central, LLID_CONTROL, bytes(answer))

    def _write_data(
        self, link: LinkState, conn: _Connection, from_central: bool, llid: int, body: bytes
    ) -> None:
        """One data-channel PDU, heard by the other side at the current connection event."""
        if self.writer.full(len(body) + 17):  # RF header, access address, header, CRC
            self.writer.drop(self.interface)
            conn.sent[from_central] += 1
            return
        sender, receiver = (
            (link.central, link.peripheral) if from_central else (link.peripheral, link.central)
        )
        pdu_type = _CENTRAL_TO_PERIPHERAL if from_central else _PERIPHERAL_TO_CENTRAL
        channel = conn.channel(self.radio.world.now)
        rf = _rf_header(
            channel, self._mean(sender, receiver), conn.access_address, pdu_type, conn.encrypted
        )
        sn = conn.sent[from_central] & 1
        nesn = conn.sent[not from_central] & 1
        conn.sent[from_central] += 1
        # The 2-byte data header (LLID, NESN, SN; MD 0) by hand: a GATT notification load
        # writes thousands of these, and a scapy build per PDU costs ~100 times more.
        pdu = bytes((llid | nesn << 2 | sn << 3, len(body))) + body
        raw = rf + conn.access_address.to_bytes(4, "little") + pdu + crc24(pdu, conn.crc_init)
        self.writer.write(self.interface, raw, comment=self._comment(sender, receiver))

    # -- helpers ---------------------------------------------------------------------------------
    def _adv_bytes(self, pdu: AdvertisingPdu) -> bytes:
        key = (pdu.advertiser_address, pdu.adv_type, pdu.data, pdu.target_address)
        found = self._adv_cache.get(key)
        if found is None:
            layer = _ADV_LAYERS.get(pdu.adv_type, BTLE_ADV_IND)
            tx_add = int(pdu.advertiser_address.is_random)
            if layer is BTLE_ADV_DIRECT_IND:
                target = pdu.target_address or hci.Address.ANY
                packet = (
                    BTLE()
                    / BTLE_ADV(TxAdd=tx_add, RxAdd=int(target.is_random))
                    / layer(AdvA=_bd(pdu.advertiser_address), InitA=_bd(target))
                )
            else:
                packet = (
                    BTLE()
                    / BTLE_ADV(TxAdd=tx_add)
                    / layer(AdvA=_bd(pdu.advertiser_address))
                    / Raw(pdu.data)
                )
            if len(self._adv_cache) > 10_000:
                self._adv_cache.clear()
            found = self._adv_cache[key] = bytes(packet)
        return found

    def _write_adv(
        self,
        ll_bytes: bytes,
        channel: int,
        rssi: int | None,
        sender: RadioController,
        receiver: RadioController,
    ) -> None:
        header = _rf_header(channel, rssi, ADVERTISING_ACCESS_ADDRESS, _UNSPECIFIED, False)
        self.writer.write(
            self.interface, header + ll_bytes, comment=self._comment(sender, receiver)
        )

    def _scan_channel(self, controller: Controller) -> int:
        """The advertising channel ``controller`` listens on now (one per scan interval)."""
        interval = max(int(getattr(controller, "le_scan_interval", 0x10)), 4) * 0.000625
        return 37 + int(self.radio.world.now / interval) % 3

    def _mean(self, tx: RadioController, rx: RadioController) -> int | None:
        """The noiseless received power, or None when either end has left the radio."""
        if tx not in self.radio.nodes or rx not in self.radio.nodes:
            return None
        return max(-127, min(20, round(self.radio.mean_rssi(tx, rx))))

    def _name(self, controller: RadioController) -> str:
        node = self.radio.nodes.get(controller)
        return node.name if node is not None else controller.name

    def _comment(self, sender: RadioController, receiver: RadioController) -> str:
        return f"{self._name(sender)} -> {self._name(receiver)}"


def _own_scan_address(controller: RadioController) -> hci.Address:
    if controller.le_scan_own_address_type == hci.Address.PUBLIC_DEVICE_ADDRESS:
        return controller.public_address
    return controller.random_address


def _control(pdu: ll.ControlPdu, conn: _Connection, event: int) -> Packet:
    """The on-air form of one of Bumble's LL control PDUs."""
    if isinstance(pdu, ll.TerminateInd):
        return BTLE_CTRL() / LL_TERMINATE_IND(code=pdu.error_code)
    if isinstance(pdu, ll.EncReq):
        # On air: Rand, EDIV and the central's session key/IV diversifiers (never the LTK).
        diversifier = hashlib.sha256(struct.pack("<I", conn.access_address) + pdu.rand).digest()
        return BTLE_CTRL() / LL_ENC_REQ(
            rand=int.from_bytes(pdu.rand, "little"),
            ediv=pdu.ediv,
            skdm=int.from_bytes(diversifier[:8], "little"),
            ivm=int.from_bytes(diversifier[8:12], "little"),
        )
    if isinstance(pdu, ll.StartEncRsp):
        return BTLE_CTRL() / LL_START_ENC_RSP()
    if isinstance(pdu, ll.RejectExtInd):
        return BTLE_CTRL() / LL_REJECT_EXT_IND(
            reject_opcode=pdu.reject_opcode, error_code=pdu.error_code
        )
    if isinstance(pdu, ll.FeatureRsp):
        return BTLE_CTRL() / LL_FEATURE_RSP(feature_set=int.from_bytes(pdu.feature_set, "little"))
    if isinstance(pdu, ll.PeripheralFeatureReq):
        return BTLE_CTRL() / LL_SLAVE_FEATURE_REQ(
            feature_set=int.from_bytes(pdu.feature_set, "little")
        )
    if isinstance(pdu, ll.FeatureReq):
        return BTLE_CTRL() / LL_FEATURE_REQ(feature_set=int.from_bytes(pdu.feature_set, "little"))
    if isinstance(pdu, ll.ConnectionUpdateInd):
        return BTLE_CTRL() / LL_CONNECTION_UPDATE_IND(
            win_size=1,
            win_offset=0,
            interval=pdu.interval,
            latency=pdu.latency,
            timeout=pdu.timeout,
            instant=(event + 6) & 0xFFFF,  # the usual margin of six events
        )
    return BTLE_CTRL(opcode=int(pdu.opcode))
