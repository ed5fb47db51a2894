"""The report says what each evidence file holds: on every evidence link (hover) and in a table
of the kinds the run produced, captures included."""

from __future__ import annotations

from types import SimpleNamespace

from conformance.report.evidence_kinds import kind_of, kinds_present
from conformance.report.html import _evidence_kinds, _links


def test_every_capture_kind_is_described_by_its_file_name() -> None:
    assert kind_of("evidence/s1/air.pcapng")[0] == "BLE air capture"  # type: ignore[index]
    assert kind_of("evidence/s1/ip.pcapng")[0] == "IP capture"  # type: ignore[index]
    assert kind_of("evidence/s1/tls.keylog")[0] == "TLS key log"  # type: ignore[index]
    assert kind_of("rs485-line.pcapng")[0] == "RS485 line capture"  # type: ignore[index]
    assert kind_of("rs485-line.log")[0] == "RS485 hex log"  # type: ignore[index]
    assert kind_of("hci-chip0.btsnoop")[0] == "HCI capture"  # type: ignore[index]
    assert kind_of("notes.txt") is None
    assert "SSLKEYLOGFILE" in kind_of("tls.keylog")[1]  # type: ignore[index]


def test_links_carry_what_they_hold_and_the_report_lists_the_kinds_present() -> None:
    paths = ["evidence/s1/trace.jsonl", "evidence/s1/air.pcapng", "evidence/s2/air.pcapng"]
    html = _links(paths)
    assert 'title="BLE air capture: the radio as a sniffer sees it' in html
    assert [k for _, k, _ in kinds_present(paths)] == ["timeline", "BLE air capture"]
    section = _evidence_kinds(SimpleNamespace(records=[{"evidence": paths}]))  # type: ignore[arg-type]
    assert section.startswith('<section id="evidence">') and "BLUETOOTH_LE_LL_WITH_PHDR" in section
    assert _evidence_kinds(SimpleNamespace(records=[{"evidence": []}])) == ""  # type: ignore[arg-type]
