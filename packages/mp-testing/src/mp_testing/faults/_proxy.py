"""An in-process TCP proxy that can delay, blackhole or cut traffic (a small Toxiproxy).

Clients connect to :attr:`TcpProxy.port`; each connection is relayed to the target by two
threads. Faults apply to every connection, live:

* ``delay(seconds)``: hold each chunk for that long before passing it on;
* ``blackhole()``: accept traffic and drop it silently (a half-open connection: nothing is
  refused, nothing answers);
* ``cut()``: close every open connection now; new ones are closed at once while ``refusing``;
* ``cut_after(marker)``: pass the first client chunk containing ``marker`` (``b"COMMIT"``) to
  the server, then cut that connection before the reply comes back: an ambiguous commit.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

__all__ = ["ProxyStats", "TcpProxy"]


@dataclass
class ProxyStats:
    """What the proxy saw."""

    connections: int = 0
    cut_connections: int = 0
    markers_seen: int = 0


@dataclass
class _Pair:
    client: socket.socket
    server: socket.socket
    closed: bool = False
    #: Set when a cut_after marker went through: nothing more travels back to the client.
    frozen: bool = False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for side in (self.client, self.server):
            with contextlib.suppress(OSError):
                side.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                side.close()


@dataclass
class TcpProxy:
    """A loopback TCP proxy in front of ``target_host:target_port``; use as a context manager.

    Attributes:
        port: where clients should connect (127.0.0.1).
        stats: counters of what happened.
    """

    target_host: str
    target_port: int
    port: int = 0
    stats: ProxyStats = field(default_factory=ProxyStats)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._delay = 0.0
        self._blackhole = False
        self._refusing = False
        self._cut_marker: bytes | None = None
        self._running = True
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="mp-proxy-accept", daemon=True
        )
        self._acceptor.start()

    # -- faults --------------------------------------------------------------------------------

    def delay(self, seconds: float) -> None:
        """Hold every chunk, both ways, for ``seconds`` (0 turns it off)."""
        self._delay = seconds

    def blackhole(self, enabled: bool = True) -> None:
        """Drop all traffic silently while enabled (connections stay open: half-open)."""
        self._blackhole = enabled

    def cut(self, *, refuse: bool = False) -> int:
        """Close every open connection; with ``refuse``, close new ones at once too."""
        self._refusing = refuse
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair.close()
        self.stats.cut_connections += len(pairs)
        return len(pairs)

    def cut_after(self, marker: bytes | None) -> None:
        """Cut a connection right after forwarding a client chunk that contains ``marker``."""
        self._cut_marker = marker

    def heal(self) -> None:
        """Back to a faithful relay."""
        self._delay = 0.0
        self._blackhole = False
        self._refusing = False
        self._cut_marker = None

    # -- relay -----------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._refusing:
                client.close()
                continue
            try:
                server = socket.create_connection((self.target_host, self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            pair = _Pair(client, server)
            with self._lock:
                self._pairs.append(pair)
            self.stats.connections += 1
            for source, sink, upstream in ((client, server, True), (server, client, False)):
                threading.Thread(
                    target=self._pump,
                    args=(pair, source, sink, upstream),
                    name="mp-proxy-pump",
                    daemon=True,
                ).start()

    def _pump(
        self, pair: _Pair, source: socket.socket, sink: socket.socket, upstream: bool
    ) -> None:
        selector = selectors.DefaultSelector()
        try:
            source.setblocking(False)
            selector.register(source, selectors.EVENT_READ)
            while self._running and not pair.closed:
                if not selector.select(timeout=0.2):
                    continue
                try:
                    chunk = source.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                if self._blackhole or (pair.frozen and not upstream):
                    continue
                if self._delay:
                    time.sleep(self._delay)
                marker = self._cut_marker
                cutting = upstream and marker is not None and marker in chunk
                if cutting:
                    pair.frozen = True  # before forwarding: the reply must never get back
                try:
                    sink.sendall(chunk)
                except OSError:
                    break
                if cutting:
                    self.stats.markers_seen += 1
                    # Give the server a moment to receive (and act on) the chunk, then cut
                    # before its reply can travel back.
                    time.sleep(0.05)
                    self.stats.cut_connections += 1
                    break
        finally:
            selector.close()
            pair.close()

    def close(self) -> None:
        """Stop accepting and close every connection."""
        self._running = False
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()
        self._acceptor.join(timeout=2)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
