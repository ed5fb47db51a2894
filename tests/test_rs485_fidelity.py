"""Our reference slaves behave like real ones, proven from outside: ``hil serve rs485`` runs in
another process and this test, an outside client, writes raw bytes to its bridges (the CRC
computed here, independently of the harness) and reads the answers back raw.

Over the RTU-over-TCP bridge: exception 1 for function codes the slave does not implement or
that are reserved for exception replies, exception 3 for quantities out of range and for an
illegal coil value, silence to every broadcast, recovery from runt and header-only frames, two
frames without the silence not both answered, the device's own identity, and an input limit
(a 20 KB burst does not hold the line). Over the pty: no stale line traffic for a program that
opens it later, and a program at another baud rate garbles and hears garbage.
"""

from __future__ import annotations

import os
import socket
import termios
import time
import tty
from collections.abc import Iterator

import pytest

from tests.served import Served, served

UNIT = 1
QUIET_S = 0.3  # no byte for this long: the line has said all it will
LIMIT_S = 3.0


def crc(data: bytes) -> bytes:
    """CRC-16/MODBUS, little endian, computed bit by bit here."""
    value = 0xFFFF
    for byte in data:
        value ^= byte
        for _ in range(8):
            value = (value >> 1) ^ 0xA001 if value & 1 else value >> 1
    return value.to_bytes(2, "little")


def rtu(*fields: int | bytes) -> bytes:
    body = b"".join(f if isinstance(f, bytes) else bytes([f]) for f in fields)
    return body + crc(body)


def word(value: int) -> bytes:
    return value.to_bytes(2, "big")


def exception(unit: int, function: int, code: int) -> bytes:
    return rtu(unit, function | 0x80, code)


@pytest.fixture(scope="module")
def line() -> Iterator[Served]:
    args = ("rs485", "--port", "0", "--control-port", "0", "--pty", "--units", "1,2")
    with served(*args) as running:
        yield running
    assert "Traceback" not in running.output, running.output[-3000:]


@pytest.fixture
def tcp(line: Served) -> Iterator[socket.socket]:
    host, port = line.address("tcp").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        yield sock


def read_until_quiet(sock: socket.socket, quiet: float = QUIET_S) -> bytes:
    got = bytearray()
    deadline = time.monotonic() + LIMIT_S
    sock.settimeout(quiet)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        if not chunk:
            break
        got += chunk
    return bytes(got)


def exchange(sock: socket.socket, data: bytes) -> bytes:
    """Send ``data`` and return what the line carried back (other nodes' traffic the bridge
    passed on before is dropped first)."""
    read_until_quiet(sock, 0.01)
    sock.sendall(data)
    return read_until_quiet(sock)


def read_holding(unit: int = UNIT, address: int = 0, count: int = 1) -> bytes:
    return rtu(unit, 3, word(address), word(count))


# -- the application protocol ---------------------------------------------------------------


def test_unimplemented_and_reserved_function_codes_get_exception_1(tcp: socket.socket) -> None:
    for function in (7, 8, 50, 65, 0x80, 0x83, 0xFF):
        reply = exchange(tcp, rtu(UNIT, function, word(0), word(1)))
        assert reply == exception(UNIT, function, 1), (function, reply.hex(" "))


def test_quantities_out_of_range_and_an_illegal_coil_value_get_exception_3(
    tcp: socket.socket,
) -> None:
    for function, quantity in ((1, 0), (1, 2001), (2, 2001), (3, 0), (3, 126), (4, 126)):
        reply = exchange(tcp, rtu(UNIT, function, word(0), word(quantity)))
        assert reply == exception(UNIT, function, 3), (function, quantity, reply.hex(" "))
    too_many_coils = rtu(UNIT, 15, word(0), word(1969), 246, bytes(246))
    assert exchange(tcp, too_many_coils) == exception(UNIT, 15, 3)
    count_mismatch = rtu(UNIT, 16, word(0), word(2), 2, bytes(2))
    assert exchange(tcp, count_mismatch) == exception(UNIT, 16, 3)
    assert exchange(tcp, rtu(UNIT, 5, word(0), word(0x1234))) == exception(UNIT, 5, 3)
    assert exchange(tcp, rtu(UNIT, 1, word(0), word(1))) == rtu(UNIT, 1, 1, 0)  # coil unchanged


def test_no_broadcast_is_answered(tcp: socket.socket) -> None:
    for request in (
        rtu(0, 3, word(0), word(1)),
        rtu(0, 3, word(0), word(0)),
        rtu(0, 5, word(0), word(0x1234)),
        rtu(0, 50, word(0), word(1)),
        rtu(0, 0x83, word(0), word(1)),
        rtu(0, 17),
    ):
        assert exchange(tcp, request) == b"", request.hex(" ")
    assert exchange(tcp, rtu(0, 6, word(13), word(4242))) == b""  # applied, not answered
    for unit in (1, 2):
        assert exchange(tcp, read_holding(unit, 13)) == rtu(unit, 3, 2, word(4242))


def test_the_slave_reports_its_own_identity(tcp: socket.socket) -> None:
    reply = exchange(tcp, rtu(UNIT, 17))
    server_id = b"gateway-hil standard slave"
    assert reply == rtu(UNIT, 17, len(server_id) + 1, server_id, 0xFF)
    assert b"pymodbus" not in reply.lower()
    reply = exchange(tcp, rtu(UNIT, 43, 14, 1, 0))
    objects = b"".join(
        bytes([i, len(v)]) + v for i, v in enumerate((b"gateway-hil", b"standard slave", b"1.0"))
    )
    assert reply == rtu(UNIT, 43, 14, 1, 0x81, 0, 0, 3, objects)
    assert exchange(tcp, rtu(UNIT, 43, 14, 4, 9)) == exception(UNIT, 43, 2)
    assert exchange(tcp, rtu(UNIT, 43, 14, 7, 0)) == exception(UNIT, 43, 3)
    assert exchange(tcp, rtu(UNIT, 43, 13, 0, 0)) == exception(UNIT, 43, 1)


# -- framing by the line's silence ----------------------------------------------------------


def test_runt_and_header_only_frames_are_discarded_and_the_next_request_answered(
    tcp: socket.socket,
) -> None:
    good = read_holding()
    assert exchange(tcp, bytes([UNIT, 3])) == b""
    assert exchange(tcp, good)[:3] == bytes([UNIT, 3, 2])
    header_only = rtu(0, 16, word(0), word(123), 246)  # byte count 246, no data
    assert exchange(tcp, header_only) == b""
    assert exchange(tcp, good)[:3] == bytes([UNIT, 3, 2])
    assert exchange(tcp, good[:-1]) == b""  # truncated: the CRC fails
    assert exchange(tcp, good)[:3] == bytes([UNIT, 3, 2])


def test_two_requests_without_the_silence_are_not_both_answered(tcp: socket.socket) -> None:
    good = read_holding()
    reply = exchange(tcp, good + good)
    assert len(reply) < 2 * 7, reply.hex(" ")
    assert exchange(tcp, good)[:3] == bytes([UNIT, 3, 2])


# -- the bridges -----------------------------------------------------------------------------


def test_a_burst_does_not_hold_the_line(line: Served, tcp: socket.socket) -> None:
    """20 KB would take 21 s at 9600 baud; the bridge keeps a bounded part and says so once."""
    tcp.sendall(bytes(range(256)) * 80)
    started = time.monotonic()
    read_until_quiet(tcp)
    while time.monotonic() - started < 5:
        if exchange(tcp, read_holding())[:3] == bytes([UNIT, 3, 2]):
            break
    took = time.monotonic() - started
    assert took < 5, f"the line was held {took:.1f} s"
    while "dropping the excess" not in line.output and time.monotonic() - started < 10:
        time.sleep(0.05)
    assert line.output.count("dropping the excess") == 1, line.output[-2000:]


def _open_pty(path: str, baud: int) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[4] = attrs[5] = getattr(termios, f"B{baud}")
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return fd


def _read_pty(fd: int, quiet: float = QUIET_S) -> bytes:
    got = bytearray()
    last = time.monotonic()
    deadline = last + LIMIT_S
    while time.monotonic() < deadline and time.monotonic() - last < quiet:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            time.sleep(0.01)
            continue
        got += chunk
        last = time.monotonic()
    return bytes(got)


def test_a_program_that_opens_the_pty_later_gets_no_stale_traffic(
    line: Served, tcp: socket.socket
) -> None:
    for unit in (1, 2):  # line traffic while nobody has the pty open
        assert exchange(tcp, read_holding(unit))[:3] == bytes([unit, 3, 2])
    fd = _open_pty(line.address("pty"), 9600)
    try:
        assert _read_pty(fd) == b""
        os.write(fd, read_holding())
        assert _read_pty(fd)[:3] == bytes([UNIT, 3, 2])
    finally:
        os.close(fd)


def test_a_program_at_another_baud_rate_garbles_and_hears_garbage(
    line: Served, tcp: socket.socket
) -> None:
    fd = _open_pty(line.address("pty"), 19200)
    try:
        time.sleep(0.1)
        os.write(fd, read_holding())
        assert _read_pty(fd) == b""  # the slaves heard garbage and did not answer
        request = read_holding(2)
        reply = exchange(tcp, request)
        assert reply[:3] == bytes([2, 3, 2])
        heard = _read_pty(fd)  # the request and the reply, as a 19200-baud UART makes them out
        assert heard and request not in heard and reply not in heard, heard.hex(" ")
        attrs = termios.tcgetattr(fd)
        attrs[4] = attrs[5] = termios.B9600
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        os.write(fd, read_holding())
        assert _read_pty(fd)[:3] == bytes([UNIT, 3, 2])
    finally:
        os.close(fd)
