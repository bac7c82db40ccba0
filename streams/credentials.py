"""Who holds a token, answered from memory in the worker and the console: every credential is loaded from
Postgres at start, kept fresh by LISTEN on the store's notifications, and reloaded in full now and then."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge

from config.pg_security import masked
from sinks.credentials import Credential, load_all, load_by_id, load_live, load_one, token_hash

log = logging.getLogger(__name__)

CHANNEL = "redwall_credentials"  # the trigger in migration 0005 notifies here
RECONNECT_MAX_SECONDS = 30.0
# A token issued a moment ago may arrive before its notification; such a miss is looked up in
# Postgres, but at most this often, so a flood of made-up tokens costs the database nothing much.
MISS_LOOKUPS_PER_SECOND = 20
MISS_LOOKUP_TIMEOUT = 1.0
_DB_ERRORS = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class CredentialCache:
    """`identify(token)` in microseconds; `run()` keeps the table in step with the store until cancelled."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        *,
        reload_seconds: float = 60.0,
        registry: CollectorRegistry | None = None,
        where: str = "PostgreSQL",
    ):
        self.connect, self.reload_seconds, self.where = connect, reload_seconds, where
        self.table: dict[bytes, Credential] = {}
        self.live: dict[tuple[str, str], bytes] = {}  # (kind, subject) -> its live token's hash: the HMAC key
        self.ready = False  # False until the first full load: callers answer 503, not 401
        self._loaded = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one query at a time on the listening connection
        self._fetches: set[asyncio.Task] = set()  # rows named by notifications, being read
        self._synced_at = 0.0
        self._misses = (0.0, 0)
        registry = registry or CollectorRegistry()
        self.reloads = Counter(
            "redwall_credentials_reloads_total",
            "full reloads of the credential cache, by outcome",
            ["outcome"],
            registry=registry,
        )
        Gauge(
            "redwall_credentials_stale_seconds",
            "0 while notifications arrive; else seconds since the last full load",
            registry=registry,
        ).set_function(self.stale_seconds)

    @classmethod
    def from_settings(cls, settings, registry: CollectorRegistry | None = None) -> CredentialCache:
        return cls(
            lambda: asyncpg.connect(settings.database_dsn, timeout=10),
            reload_seconds=settings.credentials_reload_seconds,
            registry=registry,
            where=f"DATABASE_URL={masked(settings.database_url)}",
        )

    def stale_seconds(self) -> float:
        return 0.0 if self._conn is not None and not self._conn.is_closed() else time.monotonic() - self._synced_at

    async def identify(self, token: str) -> Credential | None:
        """The credential of a token (revoked ones too: check `.revoked`), or None for an unknown token."""
        digest = token_hash(token)
        found = self.table.get(digest)
        if found is None and self._may_look_up():
            found = await self._look_up(digest)
        return found

    async def live_key(self, kind: str, subject: str) -> tuple[bytes, Credential] | None:
        """`key_of`, looked up in PostgreSQL on a miss as `identify` does: a device that signs its first
        request right after its token is issued is known before the change notification arrives."""
        held = self.key_of(kind, subject)
        if held is None and self._may_look_up():
            try:
                async with asyncio.timeout(MISS_LOOKUP_TIMEOUT), self._lock:  # a reload may hold the lock
                    found = await load_live(self._conn, kind, subject)
            except (*_DB_ERRORS, AttributeError) as exc:  # AttributeError: the connection went away meanwhile
                log.debug("credentials: lookup of %s %s failed: %s", kind, subject, exc)
                return None
            if found is not None:
                self._store(*found)
            held = self.key_of(kind, subject)
        return held

    def holds(self, token: str) -> bool:
        """Whether a token already let in is still live, from memory only: for open streams."""
        found = self.table.get(token_hash(token))
        return found is not None and not found.revoked

    def start(self) -> asyncio.Task:
        """`run()` as a task of the running loop, once; await it to run until cancelled."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="credentials")
        return self._task

    async def serve(self) -> None:
        await self.start()  # cancelling the caller cancels the task too

    async def wait_ready(self, timeout: float) -> bool:
        """Whether the first load is done within `timeout`; starts loading if nobody did yet."""
        if not self.ready:
            self.start()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._loaded.wait(), timeout)
        return self.ready

    async def run(self) -> None:
        """Load, listen and reload until cancelled; reconnects with backoff, serving the last table meanwhile."""
        backoff = 1.0
        while True:
            try:
                await self._connect()
                backoff = 1.0
                await self._watch()
            except _DB_ERRORS as exc:
                log.warning(
                    "credentials: cannot read them at %s (%s: %s); serving the last loaded table, retrying in %.0f s",
                    self.where,
                    type(exc).__name__,
                    exc,
                    backoff,
                )
                self.reloads.labels("failed").inc()
            finally:
                await self._close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)

    async def _connect(self) -> None:
        self._conn = await self.connect()
        # Listen first, then load: a change committed during the load is in the load or notified after.
        await self._conn.add_listener(CHANNEL, self._notified)
        await self.reload()

    async def _watch(self) -> None:
        closed = asyncio.Event()
        self._conn.add_termination_listener(lambda _: closed.set())
        while not closed.is_set():
            try:
                await asyncio.wait_for(closed.wait(), self.reload_seconds)
            except TimeoutError:
                await self.check()  # the fallback, should a notification ever be lost
        raise ConnectionResetError("the listening connection to Postgres closed")

    async def check(self) -> bool:
        """Reloads in full when the store's counts differ from ours; whether it did. Counting is cheap at any
        scale, while a full load of 100,000 credentials keeps the event loop busy for about half a second."""
        async with self._lock:
            stored = tuple(await self._conn.fetchrow("SELECT count(*), count(revoked_at) FROM credentials"))
        held = (len(self.table), sum(c.revoked for c in self.table.values()))
        if stored == held:
            self.reloads.labels("unchanged").inc()
            return False
        log.info("credentials: %s in the store, %s held: reloading in full", stored, held)
        await self.reload()
        return True

    async def reload(self) -> None:
        async with self._lock:
            table = await load_all(self._conn)
        # A row notified during the load is read after it (the lock), so the newer state wins.
        for digest, credential in self.table.items():
            if credential.revoked:  # revocation is for good: no load may undo one
                _put(table, digest, credential)
        self.live = {(c.kind, c.subject): digest for digest, c in table.items() if not c.revoked}
        self.table, self.ready, self._synced_at = table, True, time.monotonic()
        self._loaded.set()
        self.reloads.labels("ok").inc()
        log.debug("credentials: %d loaded", len(table))

    def _notified(self, conn, pid, channel, payload: str) -> None:
        task = asyncio.get_running_loop().create_task(self._read_notified(int(payload)))
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    async def _read_notified(self, credential_id: int) -> None:
        """The row a notification names (it carries only the id: any login may LISTEN). A failed read
        is left to the periodic count check, which reloads in full when the store differs."""
        try:
            async with self._lock:
                found = await load_by_id(self._conn, credential_id)
        except (*_DB_ERRORS, AttributeError) as exc:  # AttributeError: the connection went away meanwhile
            log.warning("credentials: reading notified row %d failed: %s", credential_id, exc)
            return
        if found is not None:
            self._store(*found)

    def _may_look_up(self) -> bool:
        if self._conn is None or self._conn.is_closed():
            return False
        now, (window, used) = time.monotonic(), self._misses
        if now - window >= 1.0:
            window, used = now, 0
        self._misses = (window, used + 1)
        return used < MISS_LOOKUPS_PER_SECOND

    async def _look_up(self, digest: bytes) -> Credential | None:
        try:
            found = await asyncio.wait_for(self._load_one(digest), MISS_LOOKUP_TIMEOUT)  # a reload may hold the lock
        except (*_DB_ERRORS, AttributeError) as exc:  # AttributeError: the connection went away meanwhile
            log.debug("credentials: lookup of an unknown token failed: %s", exc)
            return None
        if found is not None:
            self._store(digest, found)
        return self.table.get(digest)

    async def _load_one(self, digest: bytes) -> Credential | None:
        async with self._lock:
            return await load_one(self._conn, digest)

    def _store(self, digest: bytes, credential: Credential) -> None:
        _put(self.table, digest, credential)
        held, key = self.table[digest], (credential.kind, credential.subject)
        if not held.revoked:
            self.live[key] = digest
        elif self.live.get(key) == digest:
            del self.live[key]

    def key_of(self, kind: str, subject: str) -> tuple[bytes, Credential] | None:
        """The live credential of a device or dispatcher and its token's hash (the key it signs with)."""
        digest = self.live.get((kind, subject))
        return None if digest is None else (digest, self.table[digest])

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # no graceful close: it may be the very connection that just failed


def _put(table: dict[bytes, Credential], digest: bytes, credential: Credential) -> None:
    held = table.get(digest)
    if held is None or not held.revoked:
        table[digest] = credential
