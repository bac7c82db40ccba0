-- 0017: "who was here" (sinks/presence.py) reads the position history by place and time. A courtyard or a
-- grid is read through its id with time: (courtyard_id, event_time) of 0016 and (grid_id, event_time) of
-- 0006. A drawn polygon is read through a coarse cell with time, then the exact test in Python.

-- 0016 adds the courtyard of each fix and its index; repeated here, idempotently, so that this file stands
-- on a database of either order. An index on courtyard_id first, by whatever name, counts as there.
ALTER TABLE positions ADD COLUMN IF NOT EXISTS courtyard_id text;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                   WHERE i.indrelid = 'positions'::regclass AND a.attname = 'courtyard_id') THEN
        CREATE INDEX positions_courtyard_time ON positions (courtyard_id, event_time);
    END IF;
END
$$;

-- 0006's grid index again, now carrying the device and the accuracy: who was in a grid over a week reads some
-- 100,000 entries of it and, on days vacuumed, no heap page at all (an index-only scan). Measured by
-- benchmarks/history.py on 3 days of 200 workers: grid p50 154 ms before.
DROP INDEX positions_grid_time;
CREATE INDEX positions_grid_time ON positions (grid_id, event_time) INCLUDE (device_id, accuracy);

-- The coarse cell of a fix: 0.001 degree of latitude by 0.001 of longitude (about 111 m by 85 m in
-- Beijing), as one number. A few cells cover a courtyard-sized polygon, and a cell holds few enough fixes
-- that the exact test has little to throw away. IMMUTABLE and plain SQL: the planner inlines it, so the
-- index below matches the query's expression.
CREATE FUNCTION position_cell(lat double precision, lng double precision) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT floor(lat * 1000)::bigint * 1000000 + floor(lng * 1000)::bigint
$$;

-- Every cell a box touches (south, west, north, east in degrees), for `position_cell(lat, lng) = ANY(...)`.
CREATE FUNCTION position_cells(south double precision, west double precision, north double precision,
                               east double precision) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(i * 1000000 + j)
    FROM generate_series(floor(south * 1000)::bigint, floor(north * 1000)::bigint) AS i,
         generate_series(floor(west * 1000)::bigint, floor(east * 1000)::bigint) AS j
$$;

CREATE INDEX positions_cell_time ON positions (position_cell(lat, lng), event_time);
