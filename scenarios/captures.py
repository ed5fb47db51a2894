"""The packet captures a Local bed records as evidence (:mod:`sim.air_capture`,
:mod:`sim.ip_capture`, :mod:`sim.rs485_pcap`): written while the scenario runs into the bed's
capture folder, closed when the bed stops, and listed (copied if need be) by
``write_evidence``. What each kind holds is told in the report (``conformance/report``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sim.pcap import PcapngWriter, open_capture
from sim.world import World

# evidence kinds (the values write_evidence returns)
AIR = "air capture"
IP = "ip capture"
TLS_KEYS = "tls key log"
LINE = "line capture"
# A scenario's capture file stops growing here (a ten-minute notification load writes ~70 MB of
# TCP); the packets left out are counted in the file (pcapng interface statistics).
MAX_BYTES = 32 * 1024 * 1024


class EvidenceCaptures:
    """Captures into ``folder`` (none when ``folder`` is None: every call is then a no-op)."""

    def __init__(self, world: World, folder: Path | None) -> None:
        self.world = world
        self.folder = folder
        self.writers: dict[str, PcapngWriter] = {}
        self.files: dict[str, str] = {}  # file name -> evidence kind

    def open(self, name: str, kind: str) -> PcapngWriter | None:
        """A pcapng writer on ``folder/name`` (None without a folder)."""
        if self.folder is None:
            return None
        writer = self.writers[name] = open_capture(
            self.folder / name, self.world, max_bytes=MAX_BYTES
        )
        self.files[name] = kind
        return writer

    def path(self, name: str, kind: str) -> Path | None:
        """A file some stack writes itself (a TLS key log), listed with the captures."""
        if self.folder is None:
            return None
        self.files[name] = kind
        return self.folder / name

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()

    def write_evidence(self, folder: Path) -> dict[str, str]:
        """Close the captures; copy each file that exists into ``folder``; ``{name: kind}``."""
        self.close()
        listed: dict[str, str] = {}
        if self.folder is None:
            return listed
        for name, kind in self.files.items():
            source = self.folder / name
            if not source.exists():
                continue
            if source.parent.resolve() != folder.resolve():
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, folder / name)
            listed[name] = kind
        return listed
