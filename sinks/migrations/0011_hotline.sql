-- 0011: 12345 work orders (接诉即办): the integration credential, orders as placed by the worker, their
-- events, and the clock alerts claimed. Written by sinks/hotline.py from redwall.hotline-located.v1.

-- 1. A third kind of credential: the adapter that reads the city platform posts orders with it. Only a
--    dispatcher has a role.
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'credentials'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%kind%'
    LOOP
        EXECUTE format('ALTER TABLE credentials DROP CONSTRAINT %I', c.conname);
    END LOOP;
END
$$;
ALTER TABLE credentials
    ADD CONSTRAINT credentials_kind CHECK (kind IN ('device', 'dispatcher', 'integration')),
    ADD CONSTRAINT credentials_role_of_dispatchers CHECK ((kind = 'dispatcher') = (role IS NOT NULL));

-- 2. One row per order, as placed; the state columns below the line are derived from its events by the
--    sink in the same transaction (any order of arrival, any redelivery, gives the same row). The
--    complainant's phone is held only masked and as the adapter's keyed hash.
CREATE TABLE hotline_orders (
    id               text PRIMARY KEY,
    received_at      timestamptz NOT NULL,
    dispatched_at    timestamptz NOT NULL,
    channel          text NOT NULL,
    appeal_type      text NOT NULL,
    catalogue        jsonb NOT NULL,        -- [{code, name}], top level first
    catalogue_code   text NOT NULL,         -- the most specific code
    urgency          text NOT NULL,
    content          text NOT NULL,
    address          text NOT NULL,
    lat              double precision,      -- the point it was placed at, when any
    lng              double precision,
    street_id        text NOT NULL,
    community_id     text NOT NULL,         -- 'unlocated': the street's queue
    grid_id          text,
    cell             text,
    placed_by        text NOT NULL,
    category         text NOT NULL,
    report_id        text NOT NULL,         -- the report it became: incident_reports links it to its incident
    lead_unit        text NOT NULL,
    assisting_units  jsonb NOT NULL DEFAULT '[]',
    contact_masked   text NOT NULL,
    contact_hash     text,                  -- erased after [retention] contact_hash
    contact_by       timestamptz NOT NULL,  -- the limits it was dispatched under
    resolve_by       timestamptz NOT NULL,
    warn_at          real NOT NULL,
    rules_version    text NOT NULL,
    grid_first       boolean NOT NULL,      -- 前响应: a grid report of its category near it before dispatch
    prior_report     text,                  -- that report
    -- state from hotline_order_events
    contacted_at     timestamptz,
    extended_to      timestamptz,           -- the latest extension's new resolve-by
    returned_at      timestamptz,
    returned_to      text,
    closed_at        timestamptz,
    result           text,
    callback_at      timestamptz,
    callback_resolved boolean,
    satisfaction     text,
    stored_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hotline_orders_dispatched ON hotline_orders (dispatched_at);
CREATE INDEX hotline_orders_place ON hotline_orders (community_id, grid_id, category, dispatched_at);
CREATE INDEX hotline_orders_caller ON hotline_orders (contact_hash) WHERE contact_hash IS NOT NULL;
CREATE INDEX hotline_orders_open ON hotline_orders (resolve_by) WHERE closed_at IS NULL AND returned_at IS NULL;

-- Every event as posted; the id is the adapter's, so a resend is a no-op. An event may arrive for an
-- order not stored yet: it is kept, and applied when the order comes.
CREATE TABLE hotline_order_events (
    id          text PRIMARY KEY,
    order_id    text NOT NULL,
    kind        text NOT NULL,
    event_time  timestamptz NOT NULL,
    actor       text,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hotline_order_events_by_order ON hotline_order_events (order_id, event_time);

-- The early warnings and breaches of the orders' clocks, each claimed once by whichever worker got there
-- first (streams/hotline/clocks.py); an extension makes a new limit, and so a new claim.
CREATE TABLE hotline_clock_alerts (
    order_id  text NOT NULL,
    clock     text NOT NULL CHECK (clock IN ('contact', 'resolve')),
    stage     text NOT NULL CHECK (stage IN ('warning', 'breach')),
    due       timestamptz NOT NULL,  -- the limit this stage belongs to
    alert_id  text NOT NULL,
    sent_at   timestamptz NOT NULL,
    PRIMARY KEY (order_id, clock, stage, due)
);
