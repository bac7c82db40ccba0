-- 0006: position history partitioned by UTC day of event_time, so that retention drops whole days
-- (sinks/retention.py) instead of deleting fixes row by row. Existing rows move into the new table.
--
-- There is deliberately no DEFAULT partition: a row parked there for a day with no partition would
-- make creating that day's partition fail later. Instead the sink creates a missing day before it
-- inserts (sinks/partitions.py), and the retention job creates the next days ahead of time.

-- Creates the partition holding UTC day `day` unless it exists; true when this call made it.
-- One place for the name and bounds, used by this migration, the sink and the retention job.
CREATE FUNCTION positions_create_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    name text := 'positions_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(quote_ident(name)) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Bounds as instants with an explicit offset, so the session's TimeZone cannot shift the day.
    EXECUTE format('CREATE TABLE %I PARTITION OF positions FOR VALUES FROM (%L) TO (%L)', name,
                   to_char(day, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(day + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
    RETURN true;
EXCEPTION WHEN duplicate_table OR unique_violation THEN
    RETURN false;  -- another sink created it between the check and the CREATE
END
$$;

ALTER TABLE positions RENAME TO positions_unpartitioned;
ALTER INDEX positions_pkey RENAME TO positions_unpartitioned_pkey;
ALTER INDEX positions_grid_time RENAME TO positions_unpartitioned_grid_time;
ALTER INDEX positions_event_time RENAME TO positions_unpartitioned_event_time;

-- Same columns; the key (device, time) already holds the partition key, so the sink's
-- INSERT ... ON CONFLICT DO NOTHING stays idempotent.
CREATE TABLE positions (
    device_id     text NOT NULL,
    event_time    timestamptz NOT NULL,
    lat           double precision NOT NULL,
    lng           double precision NOT NULL,
    accuracy      real NOT NULL,
    speed         real,
    heading       real,
    battery       real,
    street_id     text,
    community_id  text,
    grid_id       text,
    PRIMARY KEY (device_id, event_time)
) PARTITION BY RANGE (event_time);
CREATE INDEX positions_grid_time ON positions (grid_id, event_time);
-- Within a day fixes still arrive roughly in time order: BRIN answers hour ranges almost for free.
CREATE INDEX positions_event_time ON positions USING brin (event_time);

SELECT positions_create_partition(day)
FROM (SELECT DISTINCT (event_time AT TIME ZONE 'UTC')::date AS day FROM positions_unpartitioned
      UNION SELECT (now() AT TIME ZONE 'UTC')::date + ahead FROM generate_series(0, 3) AS ahead) AS days;

INSERT INTO positions (device_id, event_time, lat, lng, accuracy, speed, heading, battery, street_id, community_id, grid_id)
SELECT device_id, event_time, lat, lng, accuracy, speed, heading, battery, street_id, community_id, grid_id
FROM positions_unpartitioned;

DROP TABLE positions_unpartitioned;
