"""The fault proxy relays faithfully and breaks connections on demand."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mp_testing.faults import TcpProxy


@pytest.fixture
def echo_server() -> Iterator[int]:
    """A loopback server that echoes what it receives and records it."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=echo, args=(connection,), daemon=True).start()

    def echo(connection: socket.socket) -> None:
        with connection:
            while True:
                try:
                    data = connection.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                connection.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join()
    listener.close()


def _client(port: int, timeout: float = 2.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def test_relays_both_ways(echo_server: int) -> None:
    """Bytes go through and come back unchanged."""
    with TcpProxy("127.0.0.1", echo_server) as proxy, _client(proxy.port) as client:
        client.sendall(b"hello")
        assert client.recv(5) == b"hello"
        assert proxy.stats.connections == 1


@pytest.mark.scenario("faults_survived")
def test_blackhole_makes_a_half_open_connection(echo_server: int) -> None:
    """While blackholed, the connection stays open but nothing comes back."""
    with TcpProxy("127.0.0.1", echo_server) as proxy, _client(proxy.port, 0.5) as client:
        proxy.blackhole()
        client.sendall(b"ping")
        with pytest.raises(TimeoutError):
            client.recv(4)
        proxy.heal()
        client.sendall(b"pong")
        assert client.recv(4) == b"pong"


@pytest.mark.scenario("faults_survived")
def test_cut_closes_connections(echo_server: int) -> None:
    """cut() ends open connections; with refuse, new ones are closed at once."""
    with TcpProxy("127.0.0.1", echo_server) as proxy:
        client = _client(proxy.port)
        client.sendall(b"x")
        assert client.recv(1) == b"x"
        assert proxy.cut(refuse=True) == 1
        assert client.recv(1) == b""
        late = _client(proxy.port)
        assert late.recv(1) == b""
        client.close()
        late.close()


def test_delay_holds_traffic(echo_server: int) -> None:
    """delay() holds each chunk before relaying it."""
    with TcpProxy("127.0.0.1", echo_server) as proxy, _client(proxy.port) as client:
        proxy.delay(0.3)
        started = time.monotonic()
        client.sendall(b"slow")
        assert client.recv(4) == b"slow"
        assert time.monotonic() - started >= 0.5


@pytest.mark.scenario("faults_survived")
def test_cut_after_marker_passes_it_on_and_drops_the_reply(echo_server: int) -> None:
    """The marked chunk reaches the server; its reply never reaches the client."""
    with TcpProxy("127.0.0.1", echo_server) as proxy, _client(proxy.port) as client:
        proxy.cut_after(b"COMMIT")
        client.sendall(b"COMMIT")
        assert client.recv(6) == b""
        assert proxy.stats.markers_seen == 1
