-- 0002: incidents (current state), their append-only audit trail, report links, and the weekly
-- list of ceiling exceptions. Written by sinks/incidents.py from redwall.incidents.v1.

-- One row per incident: the state after its newest event (by seq); an older replay never wins.
CREATE TABLE incidents (
    id              text PRIMARY KEY,
    street_id       text NOT NULL,
    community_id    text NOT NULL,
    grid_id         text,
    category        text NOT NULL,
    severity        text NOT NULL,
    priority        text NOT NULL,
    status          text NOT NULL,
    level           text NOT NULL,
    owner           text NOT NULL,
    opened_at       timestamptz NOT NULL,
    ack_by          timestamptz,
    resolve_by      timestamptz,
    report_count    integer NOT NULL,
    last_report_at  timestamptz NOT NULL,
    sensitive_zone  boolean NOT NULL DEFAULT false,
    ceiling_exceeded boolean NOT NULL DEFAULT false,
    last_seq        integer NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX incidents_open ON incidents (community_id, status) WHERE status IN ('assigned', 'acknowledged');

-- Every transition, as published; the primary key is the event's deterministic id, so a
-- redelivered event is a no-op. Rows are never updated or deleted.
CREATE TABLE incident_events (
    id            text PRIMARY KEY,
    incident_id   text NOT NULL,
    seq           integer NOT NULL,
    kind          text NOT NULL,
    event_time    timestamptz NOT NULL,
    actor         text NOT NULL,
    reason        text NOT NULL,
    reason_code   text NOT NULL,
    from_level    text,
    to_level      text,
    community_id  text NOT NULL,
    category      text,
    report_id     text,
    action_id     text,
    ceiling       boolean NOT NULL,
    payload       jsonb NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_events_by_incident ON incident_events (incident_id, seq);
CREATE INDEX incident_events_ceiling ON incident_events (event_time) WHERE ceiling;

-- Each report that opened or joined an incident keeps its link to the parent incident.
CREATE TABLE incident_reports (
    report_id    text PRIMARY KEY,
    incident_id  text NOT NULL,
    linked_at    timestamptz NOT NULL
);
CREATE INDEX incident_reports_by_incident ON incident_reports (incident_id);

-- Weekly report data (每周分类分析): escalations beyond the street, the exception the principle
-- 小事不出社区，大事不出街道 says should not happen. Weeks start on Monday, Beijing time.
CREATE VIEW weekly_ceiling_exceeded AS
SELECT date_trunc('week', e.event_time AT TIME ZONE 'Asia/Shanghai') AS week,
       e.community_id, e.category, e.reason_code,
       count(*) AS escalations,
       array_agg(e.incident_id ORDER BY e.event_time) AS incidents
FROM incident_events e
WHERE e.ceiling
GROUP BY 1, 2, 3, 4;
