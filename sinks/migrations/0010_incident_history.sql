-- 0010: what the escalation engine rebuilds from, so that its history outlives the Kafka topics:
-- how far the sink has written into each partition of a topic, which topic each incident's state
-- came from, and the major-event periods put in force at run time. Written by the sink
-- (sinks/incidents.py, sinks/major_events.py), read by the worker (streams/incident_rebuild.py).

-- The offset after the last record written, per topic partition, recorded in the transaction that
-- wrote the rows: everything below it is in PostgreSQL. `epoch` is the broker's
-- (streams/broker_epoch.py): a broker that lost its log numbers offsets from 0 again, so an offset
-- of another epoch says nothing about the log of this one.
CREATE TABLE sink_offsets (
    topic        text NOT NULL,
    partition    integer NOT NULL,
    epoch        text NOT NULL,
    next_offset  bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

-- The incidents topic the state came from: a rebuild takes only the incidents of the topic it reads
-- (tests and replays run on topics of their own over one database). Rows written before this
-- migration came from the default topic; NULL: written by hand, never rebuilt.
ALTER TABLE incidents ADD COLUMN topic text;
UPDATE incidents SET topic = 'redwall.incidents.v1';
CREATE INDEX incidents_by_topic ON incidents (topic, community_id, updated_at);

-- `redwall major-event start` (a control record on every partition of the actions topic), as the
-- sink read it there: the roster's periods (major_event_periods) are replaced by every
-- `redwall roster load`, these are not. Keyed by the actions topic it came on, as above.
CREATE TABLE runtime_major_events (
    topic            text NOT NULL,
    id               text NOT NULL,
    name             text NOT NULL,
    starts           timestamptz NOT NULL,
    ends             timestamptz NOT NULL,
    deadline_factor  double precision NOT NULL,
    commanded_at     timestamptz NOT NULL,
    PRIMARY KEY (topic, id)
);
