"""A SASL/PLAIN front for the embedded broker, for the tests of Kafka passwords read from files.

Tansu speaks SCRAM, but with memory storage no user can be made while it requires authentication, so
no client can ever log in to it. This front listens where docker-compose's Kafka listens (SASL_PLAINTEXT,
PLAIN): it answers ApiVersions through Tansu, then checks the client's SaslHandshake and SaslAuthenticate
itself against one user and password, and only then pipes the Kafka protocol to Tansu unchanged. A
client that sends anything else first, or the wrong password, is answered as Kafka answers and cut off.
Tansu advertises the front's port, so every connection after the bootstrap logs in here too.
"""

from __future__ import annotations

import asyncio
import struct

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
UNSUPPORTED_SASL_MECHANISM, SASL_AUTHENTICATION_FAILED = 33, 58


class SaslFront:
    def __init__(self, port: int, upstream_port: int, user: str, password: str):
        self.port, self.upstream_port, self.user, self.password = port, upstream_port, user, password
        self.logins: list[tuple[str, bool]] = []  # (user, accepted) per SaslAuthenticate
        self.refused_before_login = 0  # connections that sent a Kafka request without logging in
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> SaslFront:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _connection(self, client_reader, client_writer) -> None:
        try:
            broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        try:
            if not await self._log_in(client_reader, client_writer, broker_reader, broker_writer):
                client_writer.close()
                broker_writer.close()
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            client_writer.close()
            broker_writer.close()
            return
        for reader, writer in ((client_reader, broker_writer), (broker_reader, client_writer)):
            task = asyncio.create_task(_pipe(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _log_in(self, client_reader, client_writer, broker_reader, broker_writer) -> bool:
        """Whether the client logged in; ApiVersions may come first (and again), anything else may not."""
        while True:
            frame = await _read_frame(client_reader)
            api_key, version, correlation = struct.unpack_from(">hhi", frame)
            if api_key == API_VERSIONS:
                broker_writer.write(_framed(frame))
                client_writer.write(_framed(await _read_frame(broker_reader)))
            elif api_key == SASL_HANDSHAKE:
                mechanism = _strings(_body(frame), 1)[0]
                error = 0 if mechanism == "PLAIN" else UNSUPPORTED_SASL_MECHANISM
                client_writer.write(_framed(struct.pack(">ihi", correlation, error, 1) + _string("PLAIN")))
                if error:
                    return False
            elif api_key == SASL_AUTHENTICATE:
                (size,) = struct.unpack_from(">i", _body(frame))
                _, user, password = _body(frame)[4 : 4 + size].decode().split("\0")
                accepted = (user, password) == (self.user, self.password)
                self.logins.append((user, accepted))
                client_writer.write(_framed(_authenticated(correlation, version, accepted)))
                await client_writer.drain()
                return accepted
            else:
                self.refused_before_login += 1
                return False
            await client_writer.drain()


def _authenticated(correlation: int, version: int, accepted: bool) -> bytes:
    error, message = (0, None) if accepted else (SASL_AUTHENTICATION_FAILED, "Invalid username or password")
    answer = struct.pack(">ih", correlation, error) + (struct.pack(">h", -1) if message is None else _string(message))
    answer += struct.pack(">i", 0)  # no auth bytes back: PLAIN is one step
    return answer + (struct.pack(">q", 0) if version >= 1 else b"")  # session lifetime: unlimited


def _body(frame: bytes) -> bytes:
    """A non-flexible request's body: after api key, version, correlation id and client id."""
    (client_id,) = struct.unpack_from(">h", frame, 8)
    return frame[10 + max(client_id, 0) :]


def _strings(data: bytes, n: int) -> list[str]:
    found, offset = [], 0
    for _ in range(n):
        (size,) = struct.unpack_from(">h", data, offset)
        found.append(data[offset + 2 : offset + 2 + size].decode())
        offset += 2 + size
    return found


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def _framed(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    return await reader.readexactly(size)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # one side went away: closing the other below is all there is to do
    finally:
        writer.close()
