-- 0003: patrol roster, major-event periods, patrol status events and state, GPS-quality flags.
-- Append-only: change the schema in a new numbered file, never by editing this one.

-- The roster, loaded by `redwall roster load` from config/roster.toml; workers re-read it, so a
-- change takes effect without a restart.
CREATE TABLE roster_shifts (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    starts      time NOT NULL,
    ends        time NOT NULL,      -- at or before `starts`: the shift runs past midnight
    timezone    text NOT NULL
);

CREATE TABLE roster_workers (
    device_id   text PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL,
    grid_id     text NOT NULL,      -- no foreign key: the roster may be loaded before the places
    team        text,
    shifts      text[] NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX roster_workers_grid ON roster_workers (grid_id);

CREATE TABLE major_event_periods (
    id                   text PRIMARY KEY,
    name                 text NOT NULL,
    starts               timestamptz NOT NULL,
    ends                 timestamptz NOT NULL,
    deadline_factor      double precision NOT NULL,
    min_on_post          integer NOT NULL,
    min_on_post_by_grid  jsonb NOT NULL DEFAULT '{}'
);

-- Every status change (audit trail); the id is <device>:<status>:<time>, so a replay is the same row.
CREATE TABLE patrol_events (
    id            text PRIMARY KEY,
    device_id     text NOT NULL,
    grid_id       text NOT NULL,
    status        text NOT NULL,
    previous      text NOT NULL,
    reason        text NOT NULL,
    event_time    timestamptz NOT NULL,
    current_grid  text,
    fix_time      timestamptz,
    lat           double precision,
    lng           double precision,
    accuracy      real,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patrol_events_device_time ON patrol_events (device_id, event_time);
CREATE INDEX patrol_events_grid_time ON patrol_events (grid_id, event_time);

-- The newest status per device: what the live map shows and what a restarted worker starts from.
CREATE TABLE patrol_status (
    device_id     text PRIMARY KEY,
    grid_id       text NOT NULL,
    status        text NOT NULL,
    since         timestamptz NOT NULL,
    reason        text NOT NULL,
    current_grid  text,
    fix_time      timestamptz,
    lat           double precision,
    lng           double precision,
    accuracy      real,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patrol_status_status ON patrol_status (status);

-- Fixes that the GPS quality checks refused: stored in `positions` like every fix, never used for a
-- decision. A table of its own rather than a column on `positions`, because another consumer
-- writes those rows and the flag may arrive first; join on (device_id, event_time).
CREATE TABLE position_flags (
    device_id   text NOT NULL,
    event_time  timestamptz NOT NULL,
    reason      text NOT NULL,
    flagged_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, event_time)
);
CREATE INDEX position_flags_reason ON position_flags (reason, event_time);
