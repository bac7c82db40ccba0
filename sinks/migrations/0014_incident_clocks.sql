-- 0014: what a dispatcher and Grafana ask of an incident's clocks without reading its events
-- (IncidentState's rules, pause and requests; the deadlines themselves stay in ack_by and resolve_by,
-- which are NULL while an approved pause stops them). Written by sinks/incidents.py. The rest of the
-- clock's inputs (limits, clock, remaining, the requests themselves) is in the newest event's payload,
-- which the console's detail reads (sinks/incident_detail.py).
--   rules_version     the escalation rules' version the incident was opened under (state.rules)
--   paused_since      when the open pause (挂起) began; NULL: the clocks run
--   pause_reason      its reason (PAUSE_REASONS: resident, department, weather, legal, other)
--   pause_approved    approved by a street dispatcher: the clocks stand still until resumed; false: they
--                     stop only until pause_counts_until ([pause] approve_after)
--   pause_counts_until  see above; NULL when approved or not paused
--   requests_pending  pauses, extensions and returns waiting for a street dispatcher's approve or deny
ALTER TABLE incidents
    ADD COLUMN rules_version text,
    ADD COLUMN paused_since timestamptz,
    ADD COLUMN pause_reason text,
    ADD COLUMN pause_approved boolean NOT NULL DEFAULT false,
    ADD COLUMN pause_counts_until timestamptz,
    ADD COLUMN requests_pending integer NOT NULL DEFAULT 0;
CREATE INDEX incidents_paused ON incidents (paused_since) WHERE paused_since IS NOT NULL;
