"""Gauges read from the durable state in Postgres: the real tables, the real sink pool."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from consumers.state_gauges import StateGauges

pytestmark = pytest.mark.integration


async def test_patrol_devices_by_status_and_open_incidents_by_level_per_community(database_url, pg):
    run = uuid.uuid4().hex[:8]
    community, grid = f"cg-{run}", f"cg-{run}-g01"
    await pg.execute("INSERT INTO communities (id, name, geometry) VALUES ($1, $1, '{}')", community)
    await pg.execute("INSERT INTO grids (id, name, community_id, geometry) VALUES ($1, $1, $2, '{}')", grid, community)
    for i, status in enumerate(["on_post", "on_post", "offline", "off_duty"]):
        await pg.execute(
            "INSERT INTO patrol_status (device_id, grid_id, status, since, reason) VALUES ($1, $2, $3, now(), 'test')",
            f"{run}-dev-{i}",
            grid,
            status,
        )
    for i, (level, status) in enumerate([("street", "assigned"), ("street", "acknowledged"), ("grid", "resolved")]):
        await pg.execute(
            "INSERT INTO incidents (id, street_id, community_id, category, severity, priority, status, level, owner, "
            "opened_at, report_count, last_report_at, last_seq, updated_at) "
            "VALUES ($1, 'xichangan', $2, 'sanitation', 'low', 'normal', $3, $4, 'x', now(), 1, now(), 1, now())",
            f"{run}-inc-{i}",
            community,
            status,
            level,
        )

    registry = CollectorRegistry()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        gauges = StateGauges(pool, registry)
        await gauges.poll()
        value = registry.get_sample_value
        assert value("redwall_patrol_devices_by_status", {"community": community, "status": "on_post"}) == 2
        assert value("redwall_patrol_devices_by_status", {"community": community, "status": "offline"}) == 1
        assert value("redwall_incidents_open_by_community", {"community": community, "level": "street"}) == 2
        assert value("redwall_incidents_open_by_community", {"community": community, "level": "grid"}) is None

        # A status nobody holds any more disappears instead of staying at its last count.
        await pg.execute("UPDATE patrol_status SET status = 'on_post' WHERE device_id = $1", f"{run}-dev-2")
        await gauges.poll()
        assert value("redwall_patrol_devices_by_status", {"community": community, "status": "on_post"}) == 3
        assert value("redwall_patrol_devices_by_status", {"community": community, "status": "offline"}) is None
    finally:
        await pool.close()


async def test_a_connection_an_outage_left_mid_query_is_dropped_and_the_next_read_works(database_url, pg):
    """Seen in the PostgreSQL outage test: a query cut off mid-protocol leaves its connection saying "another
    operation is in progress"; that ended the whole sink, and the pool would have handed the same connection
    out again."""
    registry = CollectorRegistry()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    pids: list[int] = []

    class CutOff:
        async def poll(self, conn):
            pids.append(conn.get_server_pid())
            raise asyncpg.exceptions.InternalClientError("cannot perform operation: another operation is in progress")

    try:
        gauges = StateGauges(pool, registry)
        gauges.gauges.append(CutOff())
        await gauges.poll()  # kept the last values; did not raise

        gauges.gauges.pop()
        community = f"cut-{uuid.uuid4().hex[:8]}"
        await pg.execute(
            "INSERT INTO incidents (id, street_id, community_id, category, severity, priority, status, level, owner, "
            "opened_at, report_count, last_report_at, last_seq, updated_at) "
            "VALUES ($1, 'xichangan', $1, 'sanitation', 'low', 'normal', 'assigned', 'grid', 'x', now(), 1, now(), 1, now())",
            community,
        )
        await gauges.poll()  # a fresh connection from the pool: the read works again
        found = registry.get_sample_value(
            "redwall_incidents_open_by_community", {"community": community, "level": "grid"}
        )
        assert found == 1
        async with pool.acquire() as conn:
            assert conn.get_server_pid() != pids[0]  # the cut-off connection was not handed out again
    finally:
        await pool.close()
