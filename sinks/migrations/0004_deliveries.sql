-- 0004: the alert delivery log: every notification sent to a channel and every attempt at it.

-- One message to one channel. Written before the first attempt, so that a worker killed while the
-- request was in flight finds it 'sending' on restart and resends it under the same idempotency key.
CREATE TABLE alert_notifications (
    key          text PRIMARY KEY,  -- the Idempotency-Key header: channel + alert ids + sequences
    channel      text NOT NULL,
    items        jsonb NOT NULL,    -- [{"seq": n, "alert": {...}}, ...]: enough to resend it
    state        text NOT NULL DEFAULT 'sending' CHECK (state IN ('sending', 'delivered', 'dead_lettered')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX alert_notifications_in_flight ON alert_notifications (channel) WHERE state = 'sending';

-- One row per alert per attempt. seq 0 is the alert's first notice on the channel, n its n-th reminder.
CREATE TABLE alert_deliveries (
    alert_id      text NOT NULL,
    channel       text NOT NULL,
    seq           integer NOT NULL DEFAULT 0,
    attempt       integer NOT NULL,
    notification  text NOT NULL REFERENCES alert_notifications (key),
    outcome       text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'timeout', 'dead_lettered')),
    latency_ms    double precision,
    status_code   integer,
    error         text,
    attempted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, channel, seq, attempt)
);
-- An endpoint that acknowledged an alert is never sent it again: at most one success per notice.
CREATE UNIQUE INDEX alert_deliveries_one_success ON alert_deliveries (alert_id, channel, seq)
    WHERE outcome = 'delivered';
CREATE INDEX alert_deliveries_time ON alert_deliveries (attempted_at);
