"""A client for clamd's INSTREAM command (ClamAV's daemon), standard library only.

    verdict = scan_file("/run/clamav/clamd.ctl", path)   # None: clean; else the signature name

The file is sent in chunks (`<4-byte big-endian length><bytes>`, then a zero length), so it is
never read whole. Anything but a clear "OK" or "FOUND" answer raises ScannerUnavailable:
uploads fail closed when the scanner cannot give a verdict. clamd refuses streams longer
than its StreamMaxLength (25 MB by default): set it at least to MAX_UPLOAD_BYTES.
"""

from __future__ import annotations

import socket

CHUNK = 256 * 1024
TIMEOUT = 60.0


class ScannerUnavailable(Exception):
    pass


def _connect(address: str, timeout: float) -> socket.socket:
    if address.startswith("unix:"):
        address = address[len("unix:"):]
    if address.startswith("/") or address.startswith("."):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(address)
        return sock
    if address.startswith("tcp://"):
        address = address[len("tcp://"):]
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ScannerUnavailable(f"CLAMD_ADDRESS {address!r} is neither a socket path nor host:port")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)


def _reply(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\0"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.rstrip(b"\0").decode("utf-8", "replace").strip()


def scan_file(address: str, path: str, timeout: float = TIMEOUT) -> str | None:
    """None when clamd finds the file clean, the signature name when it is infected."""
    try:
        with _connect(address, timeout) as sock:
            sock.sendall(b"zINSTREAM\0")
            try:
                with open(path, "rb") as handle:
                    while chunk := handle.read(CHUNK):
                        sock.sendall(len(chunk).to_bytes(4, "big") + chunk)
                sock.sendall(b"\0\0\0\0")
            except (BrokenPipeError, ConnectionResetError):
                pass  # clamd stopped reading (e.g. size limit): its reply says why
            reply = _reply(sock)
    except OSError as exc:
        raise ScannerUnavailable(f"clamd at {address} unreachable: {exc}") from exc
    # "stream: OK", "stream: Eicar-Test-Signature FOUND", "INSTREAM size limit exceeded. ERROR"
    if reply.endswith(" FOUND"):
        return reply.removeprefix("stream:").removesuffix(" FOUND").strip() or "unknown"
    if reply == "stream: OK":
        return None
    raise ScannerUnavailable(f"clamd gave no verdict: {reply[:200]!r}")


def ping(address: str, timeout: float = 5.0) -> bool:
    try:
        with _connect(address, timeout) as sock:
            sock.sendall(b"zPING\0")
            return _reply(sock) == "PONG"
    except (OSError, ScannerUnavailable):
        return False
