"""A TCP relay on loopback that a test can cut and restore: PostgreSQL going away, as a network sees it
(established connections reset, new ones refused), without stopping the session's server."""

from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from streams.demo.embedded import free_port


class Relay:
    """Listens on 127.0.0.1:`port`; `upstream` is a loopback port or a Unix socket's path."""

    def __init__(self, upstream: int | str):
        self.upstream, self.port = upstream, free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> Relay:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Refuse new connections and reset every open one."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone leaves it listening
            listener.close()
        with self._lock:
            for sock in self._open:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = self._connect()
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def _connect(self) -> socket.socket:
        if isinstance(self.upstream, int):
            return socket.create_connection(("127.0.0.1", self.upstream))
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(self.upstream)
        return sock


def relayed_url(database_url: str) -> tuple[str, int | str]:
    """A DSN through a relay on `{port}` (to .format), and where the relay connects: the server's
    loopback port, or its Unix socket (the embedded server's DSN names only a socket directory)."""
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    upstream = parts.port or f"{query.pop('host')}/.s.PGSQL.{query.pop('port', 5432)}"
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{{port}}", query=urlencode(query))), upstream


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
