-- 0001: places, reports, position history, latest positions and dead letters.
-- Append-only: change the schema in a new numbered file, never by editing this one.

-- Places, upserted from the GeoJSON by sinks.postgres.seed_places; geometry is a GeoJSON object.
CREATE TABLE streets (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    name_en     text,
    geometry    jsonb NOT NULL,
    properties  jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE communities (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    name_en     text,
    street_id   text REFERENCES streets (id),
    geometry    jsonb NOT NULL,
    properties  jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE grids (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    name_en       text,
    community_id  text REFERENCES communities (id),
    geometry      jsonb NOT NULL,
    properties    jsonb NOT NULL DEFAULT '{}'
);

-- Place ids on events carry no foreign key: a replay of old events must still load after the
-- geometry changed, and an event outside the street has no place at all.
CREATE TABLE reports (
    id            text PRIMARY KEY,
    device_id     text NOT NULL,
    category      text NOT NULL,
    severity      text NOT NULL,
    text          text NOT NULL,
    lat           double precision NOT NULL,
    lng           double precision NOT NULL,
    accuracy      real,
    event_time    timestamptz NOT NULL,
    street_id     text,
    community_id  text,
    grid_id       text,
    cell          text NOT NULL,
    photos        jsonb NOT NULL DEFAULT '[]',
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reports_grid_time ON reports (grid_id, event_time);
CREATE INDEX reports_community_time ON reports (community_id, event_time);
CREATE INDEX reports_category_time ON reports (category, event_time);  -- weekly classified analysis
CREATE INDEX reports_event_time ON reports (event_time);

-- One row per fix; (device, time) identifies a fix, so a replayed ping is the same row.
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
);
CREATE INDEX positions_grid_time ON positions (grid_id, event_time);
-- Fixes arrive roughly in time order, so a BRIN index answers time ranges at almost no write cost.
CREATE INDEX positions_event_time ON positions USING brin (event_time);

CREATE TABLE latest_positions (
    device_id     text PRIMARY KEY,
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
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX latest_positions_grid ON latest_positions (grid_id);

-- A rejected record is identified by where it came from.
CREATE TABLE dead_letters (
    source_topic  text NOT NULL,
    partition     integer NOT NULL,
    "offset"      bigint NOT NULL,
    reason        text NOT NULL,
    errors        jsonb NOT NULL DEFAULT '[]',
    key           bytea,
    payload       bytea NOT NULL,
    failed_at     timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_topic, partition, "offset")
);
CREATE INDEX dead_letters_failed_at ON dead_letters (failed_at);
