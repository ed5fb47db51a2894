"""What each evidence file holds, by its name: the report shows it on each evidence link (hover)
and lists the kinds a run produced under "What the evidence holds", with how to open them."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatch
from pathlib import PurePosixPath

# (file name pattern, what it is, what it holds and how to open it); the first match wins
KINDS: tuple[tuple[str, str, str], ...] = (
    (
        "trace.jsonl",
        "timeline",
        "every world event of the scenario (world time, node, layer, event), one JSON per line",
    ),
    (
        "http.jsonl",
        "HTTP transcript",
        "every request the harness made to the SUT's API, with the response and its timing",
    ),
    ("sse.jsonl", "SSE transcript", "every Server-Sent Event the scenario's streams received"),
    ("status.jsonl", "status stream", "every device status change the status streams reported"),
    (
        "sut-world-trace.jsonl",
        "far-side timeline",
        "the outside SUT's world events over the scenario, from its world-control API",
    ),
    (
        "hci-chip*.btsnoop",
        "HCI capture",
        "the HCI commands, events and ACL data of one router chip (btsnoop; Wireshark, btmon)",
    ),
    (
        "air.pcapng",
        "BLE air capture",
        "the radio as a sniffer sees it (pcapng, BLUETOOTH_LE_LL_WITH_PHDR): advertising, scan "
        "requests and responses, CONNECT_IND, and each connection's LL control, ATT and SMP "
        "PDUs, with channel and RSSI; the packet comment names sender and receiver. Wireshark "
        "follows GATT and pairing; filter btle.advertising_address or btle.access_address",
    ),
    (
        "ip.pcapng",
        "IP capture",
        "the in-world TCP streams (pcapng, Ethernet/IPv4/TCP): handshakes, data, FIN/RST, and "
        "partitions as lost segments retransmitted after the heal. Wireshark dissects HTTP; "
        "hosts named in the world carry their names (View > Name Resolution)",
    ),
    (
        "tls.keylog",
        "TLS key log",
        "the secrets of every TLS session in ip.pcapng (SSLKEYLOGFILE format): Wireshark > "
        "Preferences > Protocols > TLS > (Pre)-Master-Secret log filename decrypts them",
    ),
    (
        "rs485-*.pcapng",
        "RS485 line capture",
        "one packet per line frame (pcapng, Wireshark exported PDUs): Modbus RTU dissected with "
        "no setting, OSDP as data labelled OSDP; the comment names the driver and decodes the "
        "frame; collisions and noise carry the CRC-error flag",
    ),
    (
        "rs485-*.log",
        "RS485 hex log",
        "one line per line frame: times, drivers, the bytes in hex and a decoded summary",
    ),
    ("*.pcapng", "packet capture", "a pcapng capture (Wireshark, tshark, scapy)"),
    ("*.jsonl", "records", "JSON lines"),
)


def kind_of(path: str) -> tuple[str, str] | None:
    """(kind, what it holds) of an evidence file, by its name; None for a name not known."""
    name = PurePosixPath(path.replace("\\", "/")).name
    for pattern, kind, holds in KINDS:
        if fnmatch(name, pattern):
            return kind, holds
    return None


def kinds_present(paths: Iterable[str]) -> list[tuple[str, str, str]]:
    """(pattern, kind, holds) of each known kind among ``paths``, in the table's order."""
    names = {PurePosixPath(p.replace("\\", "/")).name for p in paths}
    found = []
    for pattern, kind, holds in KINDS:
        if any(kind_of(n) == (kind, holds) for n in names if fnmatch(n, pattern)):
            found.append((pattern, kind, holds))
    return found
