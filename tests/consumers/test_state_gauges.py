"""Gauges read from the durable state in Postgres: the real tables, the real sink pool."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from consumers.state_gauges import StateGauges

pytestmark = pytest.mark.integration


async def test_patrol_devices_by_status_and_open_incidents_by_level_per_street_and_community(database_url, pg):
    run = uuid.uuid4().hex[:8]
    streets = [f"st-{run}-a", f"st-{run}-b"]
    places = [(street, f"cg-{run}-{n}", f"cg-{run}-{n}-g01") for n, street in enumerate(streets)]
    for street, community, grid in places:
        await pg.execute("INSERT INTO streets (id, name, geometry) VALUES ($1, $1, '{}')", street)
        await pg.execute(
            "INSERT INTO communities (id, name, street_id, geometry) VALUES ($1, $1, $2, '{}')", community, street
        )
        await pg.execute(
            "INSERT INTO grids (id, name, community_id, geometry) VALUES ($1, $1, $2, '{}')", grid, community
        )
    (a, community, grid), (b, other, other_grid) = places
    for i, (status, where) in enumerate(
        [("on_post", grid), ("on_post", grid), ("offline", grid), ("off_duty", grid), ("on_post", other_grid)]
    ):
        await pg.execute(
            "INSERT INTO patrol_status (device_id, grid_id, status, since, reason) VALUES ($1, $2, $3, now(), 'test')",
            f"{run}-dev-{i}",
            where,
            status,
        )
    incidents = [(a, community, "street", "assigned"), (a, community, "street", "acknowledged")]
    incidents += [(a, community, "grid", "resolved"), (b, other, "street", "assigned")]
    for i, (street, where, level, status) in enumerate(incidents):
        await pg.execute(
            "INSERT INTO incidents (id, street_id, community_id, category, severity, priority, status, level, owner, "
            "opened_at, report_count, last_report_at, last_seq, updated_at) "
            "VALUES ($1, $2, $3, 'sanitation', 'low', 'normal', $4, $5, 'x', now(), 1, now(), 1, now())",
            f"{run}-inc-{i}",
            street,
            where,
            status,
            level,
        )

    registry = CollectorRegistry()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        gauges = StateGauges(pool, registry)
        await gauges.poll()
        value = registry.get_sample_value
        here, there = {"street": a, "community": community}, {"street": b, "community": other}
        assert value("redwall_patrol_devices_by_status", {**here, "status": "on_post"}) == 2
        assert value("redwall_patrol_devices_by_status", {**here, "status": "offline"}) == 1
        assert value("redwall_patrol_devices_by_status", {**there, "status": "on_post"}) == 1
        assert value("redwall_incidents_open_by_community", {**here, "level": "street"}) == 2
        assert value("redwall_incidents_open_by_community", {**here, "level": "grid"}) is None
        assert value("redwall_incidents_open_by_community", {**there, "level": "street"}) == 1

        # A status nobody holds any more disappears instead of staying at its last count.
        await pg.execute("UPDATE patrol_status SET status = 'on_post' WHERE device_id = $1", f"{run}-dev-2")
        await gauges.poll()
        assert value("redwall_patrol_devices_by_status", {**here, "status": "on_post"}) == 3
        assert value("redwall_patrol_devices_by_status", {**here, "status": "offline"}) is None
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
            "redwall_incidents_open_by_community", {"street": "xichangan", "community": community, "level": "grid"}
        )
        assert found == 1
        async with pool.acquire() as conn:
            assert conn.get_server_pid() != pids[0]  # the cut-off connection was not handed out again
    finally:
        await pool.close()
