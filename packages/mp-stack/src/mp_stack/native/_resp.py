"""A few Redis commands spoken over a raw socket.

The supervisor and the status probes send single commands (PING, AUTH, INFO, CLUSTER INFO,
FLUSHALL, SHUTDOWN, a fault test's CLIENT KILL) to servers that may be starting, stopping or
gone, and need the server's replies as sent. redis-py was tried in this place: it strips the
error code from error replies (``NOAUTH Authentication required.`` arrives as "Authentication
required."), turns some replies into connection errors (``LOADING``, max clients), parses
replies per command and retries by default; switching all of that off left less than these
sixty lines of RESP reading, which stay.
"""

from __future__ import annotations

import socket

__all__ = ["RespError", "redis_command"]

RespReply = str | int | None | list["RespReply"]


class RespError(Exception):
    """The server answered with an error reply."""


def _encode(*parts: str) -> bytes:
    chunks = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        chunks.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(chunks)


class _Reader:
    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._buffer = b""

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            chunk = self._connection.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def _exact(self, size: int) -> bytes:
        while len(self._buffer) < size + 2:
            chunk = self._connection.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by the server")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size + 2 :]
        return data

    def reply(self) -> RespReply:
        line = self._line()
        kind, rest = line[:1], line[1:].decode()
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RespError(rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self._exact(size).decode(errors="replace")
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self.reply() for _ in range(count)]
        raise RespError(f"unexpected reply type {kind!r}")


def redis_command(
    host: str,
    port: int,
    *command: str,
    password: str | None = None,
    username: str | None = None,
    timeout: float = 2.0,
) -> RespReply:
    """Send one command (after AUTH when a password is given) and return its reply.

    Raises:
        RespError: the server returned an error.
        OSError: the server could not be reached.
    """
    with socket.create_connection((host, port), timeout=timeout) as connection:
        reader = _Reader(connection)
        if password is not None:
            auth = ("AUTH", username, password) if username else ("AUTH", password)
            connection.sendall(_encode(*auth))
            reader.reply()
        connection.sendall(_encode(*command))
        if command and command[0].upper() == "SHUTDOWN":
            try:
                return reader.reply()
            except ConnectionError:
                return None
        return reader.reply()
