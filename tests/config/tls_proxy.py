"""A TLS front for the embedded broker, for the Kafka TLS tests.

Tansu 0.6 (the embedded broker) serves plain TCP only: its `--cert` flag does not turn TLS on, so
clients connect to this proxy, which terminates TLS (optionally requiring a client certificate),
and pipes the Kafka protocol to Tansu unchanged. Tansu advertises the proxy's port, so every
connection a client makes after the bootstrap goes through TLS too.
"""

from __future__ import annotations

import asyncio
import ssl

from tests.support.pki import Pki


class TlsProxy:
    def __init__(self, pki: Pki, port: int, upstream_port: int, *, require_client_cert: bool):
        self.port, self.upstream_port = port, upstream_port
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(pki.server_cert, pki.server_key)
        if require_client_cert:
            self.context.load_verify_locations(pki.ca)
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.handshakes = 0  # connections that completed a TLS handshake
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task] = set()

    async def start(self) -> TlsProxy:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port, ssl=self.context)
        return self

    async def _connection(self, client_reader, client_writer) -> None:
        self.handshakes += 1
        try:
            broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        for reader, writer in ((client_reader, broker_writer), (broker_reader, client_writer)):
            task = asyncio.create_task(_pipe(reader, writer))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def stop(self) -> None:
        self._server.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass  # one side went away: closing the other below is all there is to do
    finally:
        writer.close()
