-- 0012: the weekly 专报, one row per street and ISO week: claimed by the sink that makes it (so a restart
-- or a second sink never makes or sends it twice), then its files and figures, then when its alert went
-- out. Written by sinks/weekly_reports.py; the console reads it.
CREATE TABLE weekly_reports (
    street_id     text NOT NULL,
    week          text NOT NULL CHECK (week ~ '^[0-9]{4}-W[0-9]{2}$'),  -- ISO week in the street's zone
    claimed_by    text NOT NULL,          -- the process making it
    claimed_at    timestamptz NOT NULL,
    made_at       timestamptz,            -- null until the files below are stored
    html          text,
    pdf           bytea,
    summary       text,                   -- the markdown the robots receive
    figures       jsonb,                  -- every figure of the report (consumers/report/figures.py)
    alert_id      text,                   -- report:weekly:<street>:<week>
    announced_at  timestamptz,            -- its alert is on redwall.alerts.v1
    PRIMARY KEY (street_id, week),
    CHECK ((made_at IS NULL) = (html IS NULL) AND (made_at IS NULL) = (pdf IS NULL)),
    CHECK (announced_at IS NULL OR made_at IS NOT NULL)
);
CREATE INDEX weekly_reports_unannounced ON weekly_reports (street_id) WHERE made_at IS NOT NULL AND announced_at IS NULL;
