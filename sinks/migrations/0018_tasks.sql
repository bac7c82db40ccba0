-- 0018: tasks to a person (任务), as the worker's tasks agent emits them on redwall.tasks.v1.
-- `tasks` holds each task's newest state (the event with the highest seq wins); `task_events` its history.
CREATE TABLE tasks (
    id              text PRIMARY KEY,
    kind            text NOT NULL,
    status          text NOT NULL,
    device          text NOT NULL,
    created_by      text NOT NULL,
    created_role    text NOT NULL,
    street_id       text,
    community_id    text,
    grid_id         text,
    courtyard_id    text,
    lat             double precision NOT NULL,
    lng             double precision NOT NULL,
    radius_m        double precision NOT NULL,
    note            text NOT NULL,
    incident_id     text,
    report_id       text,
    created_at      timestamptz NOT NULL,
    arrive_by       timestamptz NOT NULL,
    done_by         timestamptz NOT NULL,
    accepted_at     timestamptz,
    arrived_at      timestamptz,
    arrive_seconds  double precision,
    done_at         timestamptz,
    unconfirmed     boolean NOT NULL DEFAULT false,  -- done with no arrival confirmed by GPS
    late_arrive     timestamptz,                     -- the arrival deadline passed unmet at
    late_done       timestamptz,
    seq             integer NOT NULL,
    state           jsonb NOT NULL
);
-- A phone reads its own tasks, newest first; the console a community's or the street's over a window; the
-- daily patrol summary a worker's tasks done on a day.
CREATE INDEX tasks_device ON tasks (device, created_at DESC);
CREATE INDEX tasks_community ON tasks (community_id, created_at DESC);
CREATE INDEX tasks_created ON tasks (created_at);
CREATE INDEX tasks_open ON tasks (status) WHERE status NOT IN ('done', 'cancelled');

CREATE TABLE task_events (
    task_id   text NOT NULL,
    seq       integer NOT NULL,
    event     text NOT NULL,
    at        timestamptz NOT NULL,
    device    text NOT NULL,
    actor     text NOT NULL,
    record    jsonb NOT NULL,
    PRIMARY KEY (task_id, seq)
);
-- A refused action on a task nobody knows has no seq of its own: it is stored once by its action id.
CREATE TABLE task_refusals (
    action_id  text PRIMARY KEY,
    task_id    text NOT NULL,
    at         timestamptz NOT NULL,
    record     jsonb NOT NULL
);
