"""Every query of the weekly 专报, as named constants: a reader reproduces any figure of the report by
running the constant named in the report's `queries`, and Grafana's governance dashboard runs the same
text (config/grafana/dashboards/governance.json).

Parameters, the same in every query of a week: $1 the week's first instant, $2 the next week's first
instant (consumers/report/figures.py `week_bounds`), $3 the street's id; the comparisons add $4 the first
instant of last week and $5 that of the 8th week before. Grafana binds $1/$2 to its time range, $3 to
its `street` variable, $4/$5 to 7 and 56 days before the range. Figures are as of $2: an event after the
week's end does not change them. Each query reads a time range through an index of the migrations
(reports_event_time, incident_events_by_incident, patrol_events_device_time, hotline_orders_dispatched).
"""

from __future__ import annotations

from sinks.hotline import at_a_place

STREET = "SELECT id, name FROM streets WHERE id = $1::text"

PLACE_NAMES = """
SELECT 'community' AS kind, id, name FROM communities WHERE street_id = $1::text
UNION ALL
SELECT 'grid', g.id, g.name FROM grids g JOIN communities c ON c.id = g.community_id WHERE c.street_id = $1::text
"""

# Reports of this week, last week, and the mean of the 8 weeks before this one (last week included).
TOTALS = """
SELECT count(*) FILTER (WHERE event_time >= $1::timestamptz)::int AS reports,
       count(*) FILTER (WHERE event_time >= $4::timestamptz AND event_time < $1::timestamptz)::int AS previous_week_reports,
       (count(*) FILTER (WHERE event_time < $1::timestamptz) / 8.0)::float8 AS mean_8_weeks_reports,
       (SELECT count(*) FROM incidents
        WHERE street_id = $3::text AND opened_at >= $1::timestamptz AND opened_at < $2::timestamptz)::int AS incidents_opened
FROM reports
WHERE street_id = $3::text AND event_time >= $5::timestamptz AND event_time < $2::timestamptz
"""

_COUNTS = """
       count(*) FILTER (WHERE event_time >= $1::timestamptz)::int AS now,
       count(*) FILTER (WHERE event_time >= $4::timestamptz AND event_time < $1::timestamptz)::int AS last_week,
       (count(*) FILTER (WHERE event_time < $1::timestamptz) / 8.0)::float8 AS mean_8
FROM reports
WHERE street_id = $3::text AND event_time >= $5::timestamptz AND event_time < $2::timestamptz"""

BY_CATEGORY_COMMUNITY = f"""
SELECT category, community_id AS community,{_COUNTS}
GROUP BY category, community_id
ORDER BY category, community_id
"""

BY_GRID = f"""
SELECT grid_id AS grid, community_id AS community,{_COUNTS} AND grid_id IS NOT NULL
GROUP BY grid_id, community_id
ORDER BY grid_id
"""

# The incidents opened in the week: the highest level they reached (1 grid .. 4 district), and whether
# they are overdue (超时督办) as of the week's end: a deadline missed (escalated or chased), or one past.
_WEEK_INCIDENTS = """
WITH week AS (
    SELECT i.id, i.category, i.community_id, i.grid_id, i.level, i.status, i.opened_at, i.report_count,
           coalesce(e.reached, array_position(ARRAY['grid', 'community', 'street', 'district'], i.level)) AS reached,
           e.missed OR (i.status = 'assigned' AND i.ack_by < $2::timestamptz)
               OR (i.status IN ('assigned', 'acknowledged') AND i.resolve_by < $2::timestamptz) AS overdue
    FROM incidents i
    CROSS JOIN LATERAL (
        SELECT max(array_position(ARRAY['grid', 'community', 'street', 'district'], e.to_level)) AS reached,
               coalesce(bool_or(e.reason_code LIKE 'deadline\\_%'), false) AS missed
        FROM incident_events e
        WHERE e.incident_id = i.id AND e.event_time < $2::timestamptz
    ) e
    WHERE i.street_id = $3::text AND i.opened_at >= $1::timestamptz AND i.opened_at < $2::timestamptz
)"""

# 小事不出社区: settled locally = never at the street or above.
PRINCIPLE = f"""{_WEEK_INCIDENTS}
SELECT count(*)::int AS incidents,
       count(*) FILTER (WHERE reached <= 2)::int AS settled_local,
       count(*) FILTER (WHERE overdue)::int AS overdue
FROM week
"""

# Closed (办结) by the week's end: the incident's last resolve, reopen, close or return before it is a resolve.
# Closed as a duplicate, placed from the unlocated queue into a community (a new incident carries the case) or
# returned as not the street's is not a case the street closed. Of those closed, closed in time: not overdue,
# no deadline of theirs ever missed. The district's comparison reads them.
CLOSED = f"""{_WEEK_INCIDENTS}
SELECT count(*) FILTER (WHERE closed)::int AS closed,
       count(*) FILTER (WHERE closed AND NOT overdue)::int AS closed_in_time
FROM (
    SELECT w.overdue, coalesce((
        SELECT e.kind = 'resolved' FROM incident_events e
        WHERE e.incident_id = w.id AND e.event_time < $2::timestamptz
          AND e.kind IN ('resolved', 'reopened', 'closed', 'returned')
        ORDER BY e.seq DESC LIMIT 1), false) AS closed
    FROM week w
) AS ended
"""

# The district's own queue (区级待定位, run with $3 the district's id, which holds it): the week's reports
# outside every grid, each an incident of community 'unlocated' that no street counts; of those, placed in a
# street (closed by the street's reassign) and still waiting, as of the week's end. The rest were closed there
# (resolved, a duplicate, returned).
UNLOCATED_QUEUE = """
SELECT count(*)::int AS received,
       count(*) FILTER (WHERE last_kind = 'closed' AND last_code = 'reassign')::int AS placed,
       count(*) FILTER (WHERE last_kind IS NULL OR last_kind = 'reopened')::int AS waiting
FROM incidents i
LEFT JOIN LATERAL (
    SELECT e.kind AS last_kind, e.reason_code AS last_code FROM incident_events e
    WHERE e.incident_id = i.id AND e.event_time < $2::timestamptz
      AND e.kind IN ('resolved', 'reopened', 'closed', 'returned')
    ORDER BY e.seq DESC LIMIT 1
) ended ON true
WHERE i.street_id = $3::text AND i.community_id = 'unlocated'
  AND i.opened_at >= $1::timestamptz AND i.opened_at < $2::timestamptz
"""

# Why the week's incidents came to the street: the first event that put each there.
ESCALATED_TO_STREET = """
SELECT why, count(*)::int AS incidents FROM (
    SELECT DISTINCT ON (e.incident_id) e.incident_id,
           CASE WHEN e.reason_code LIKE 'deadline\\_%' THEN 'deadline' ELSE e.reason_code END AS why
    FROM incidents i JOIN incident_events e ON e.incident_id = i.id
    WHERE i.street_id = $3::text AND i.opened_at >= $1::timestamptz AND i.opened_at < $2::timestamptz
      AND e.event_time < $2::timestamptz AND e.to_level = 'street'
      AND (e.kind = 'escalated' OR e.reason_code = 'sensitive_zone')
    ORDER BY e.incident_id, e.seq
) AS first_at_street
GROUP BY why
ORDER BY why
"""

# 大事不出街道: escalations beyond the street in the week (each allowed by an explicit rule).
CEILING = """
SELECT count(*)::int AS ceiling_exceptions
FROM incident_events e JOIN incidents i ON i.id = e.incident_id
WHERE e.ceiling AND e.event_time >= $1::timestamptz AND e.event_time < $2::timestamptz AND i.street_id = $3::text
"""

# Time to acknowledge and to resolve at a level, counted from when the incident came to that level.
MEDIANS = """
WITH steps AS (
    SELECT e.kind, e.to_level AS level, extract(epoch FROM e.event_time - came.event_time)::float8 AS seconds
    FROM incidents i
    JOIN incident_events e ON e.incident_id = i.id AND e.kind IN ('acknowledged', 'resolved')
    CROSS JOIN LATERAL (
        SELECT p.event_time FROM incident_events p
        WHERE p.incident_id = e.incident_id AND p.seq < e.seq AND p.kind IN ('opened', 'escalated', 'assigned', 'reopened')
        ORDER BY p.seq DESC LIMIT 1
    ) came
    WHERE i.street_id = $3::text AND i.opened_at >= $1::timestamptz AND i.opened_at < $2::timestamptz
      AND e.event_time < $2::timestamptz
)
SELECT level,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE kind = 'acknowledged') AS ack_seconds,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FILTER (WHERE kind = 'resolved') AS resolve_seconds
FROM steps
GROUP BY level
ORDER BY level
"""

# Reports per H3 cell of the pipeline's resolution; the heat map and the hot spots add them up to a
# coarser parent cell (h3.cell_to_parent), which PostgreSQL cannot do without the h3 extension.
HEAT = f"""
SELECT cell, grid_id AS grid, community_id AS community, category, count(*)::int AS n
FROM reports
WHERE street_id = $3::text AND event_time >= $1::timestamptz AND event_time < $2::timestamptz
  AND grid_id IS NOT NULL AND {at_a_place("reports")}
GROUP BY cell, grid_id, community_id, category
ORDER BY cell, category
"""

# The same place (cell of the pipeline's resolution) and category again within the week.
REPEATS = f"""
SELECT grid_id AS grid, cell, category, count(*)::int AS n
FROM reports
WHERE street_id = $3::text AND event_time >= $1::timestamptz AND event_time < $2::timestamptz
  AND grid_id IS NOT NULL AND {at_a_place("reports")}
GROUP BY grid_id, cell, category
HAVING count(*) >= 2
ORDER BY n DESC, grid, cell, category
"""

# Each device's statuses as intervals clipped to the week: its last status before the week, then every
# change in it. On a tie in time `unknown` (the start of a shift) comes first, as the worker emits it.
_INTERVALS = """
WITH street_grids AS (
    SELECT g.id, g.community_id FROM grids g JOIN communities c ON c.id = g.community_id WHERE c.street_id = $3::text
), changes AS (
    SELECT p.device_id, p.grid_id, p.status, p.event_time, p.id
    FROM patrol_status d JOIN patrol_events p
      ON p.device_id = d.device_id AND p.event_time >= $1::timestamptz AND p.event_time < $2::timestamptz
    UNION ALL
    SELECT b.device_id, b.grid_id, b.status, $1::timestamptz, b.id
    FROM patrol_status d CROSS JOIN LATERAL (
        SELECT p.device_id, p.grid_id, p.status, p.id FROM patrol_events p
        WHERE p.device_id = d.device_id AND p.event_time < $1::timestamptz
        ORDER BY p.event_time DESC, p.id DESC LIMIT 1
    ) b
), intervals AS (
    SELECT device_id, grid_id, status, event_time AS since,
           lead(event_time, 1, $2::timestamptz)
               OVER (PARTITION BY device_id ORDER BY event_time, status = 'unknown' DESC, id) AS until
    FROM changes
)"""

PATROL = f"""{_INTERVALS}
SELECT g.id AS grid, g.community_id AS community,
       (sum(extract(epoch FROM t.until - t.since)) FILTER (WHERE t.status = 'on_post')
        / nullif(sum(extract(epoch FROM t.until - t.since)) FILTER (WHERE t.status <> 'off_duty'), 0))::float8
           AS on_post_share,
       coalesce(sum(extract(epoch FROM t.until - t.since)) FILTER (WHERE t.status = 'offline') / 60, 0)::float8
           AS offline_minutes
FROM street_grids g LEFT JOIN intervals t ON t.grid_id = g.id
GROUP BY g.id, g.community_id
ORDER BY g.id
"""

# Major-event periods of the roster in which a grid had fewer workers on post than the period asks, at
# any moment: the on-post count of each grid after every change (a running sum of +1/-1), taken at the
# period's start and at every change within it.
COVERAGE_GAPS = f"""{_INTERVALS}, need AS (
    SELECT p.id AS period, g.id AS grid, greatest(p.starts, $1::timestamptz) AS starts,
           least(p.ends, $2::timestamptz) AS ends,
           coalesce((p.min_on_post_by_grid ->> g.id)::int, p.min_on_post) AS need
    FROM major_event_periods p CROSS JOIN street_grids g
    WHERE p.starts < $2::timestamptz AND p.ends > $1::timestamptz
), changes_on_post AS (
    SELECT grid_id, since AS at, 1 AS step FROM intervals WHERE status = 'on_post' AND until > since
    UNION ALL
    SELECT grid_id, until, -1 FROM intervals WHERE status = 'on_post' AND until > since
), levels AS (
    SELECT grid_id, at, sum(step) OVER (PARTITION BY grid_id ORDER BY at) AS on_post FROM changes_on_post
), at_start AS (
    SELECT DISTINCT ON (n.period, n.grid) n.period, n.grid, n.need, coalesce(l.on_post, 0) AS on_post
    FROM need n LEFT JOIN levels l ON l.grid_id = n.grid AND l.at <= n.starts
    ORDER BY n.period, n.grid, l.at DESC NULLS LAST
), lows AS (
    SELECT period, grid, need, on_post FROM at_start
    UNION ALL
    SELECT n.period, n.grid, n.need, l.on_post FROM need n
    JOIN levels l ON l.grid_id = n.grid AND l.at > n.starts AND l.at < n.ends
)
SELECT grid, count(DISTINCT period)::int AS coverage_gaps
FROM lows
WHERE on_post < need
GROUP BY grid
ORDER BY grid
"""

# 前响应 advisories of the week (the table keeps each cell's newest), the grid of the newest report of the
# cell before the advisory (within 7 days), and whether a report came from the cell within $4 after it.
# One join over a bounded range of reports_event_time: reports has no index on its cell.
ADVISORIES = """
SELECT a.cell, a.advised_at,
       (array_agg(r.grid_id ORDER BY r.event_time DESC)
            FILTER (WHERE r.event_time <= a.advised_at AND r.grid_id IS NOT NULL))[1] AS grid,
       coalesce(bool_or(r.event_time > a.advised_at), false) AS followed
FROM patrol_advisories a
JOIN reports r ON r.cell = a.cell AND r.street_id = $3::text
     AND r.event_time > a.advised_at - interval '7 days' AND r.event_time <= a.advised_at + $4::interval
     AND r.event_time > $1::timestamptz - interval '7 days' AND r.event_time <= $2::timestamptz + $4::interval
WHERE a.advised_at >= $1::timestamptz AND a.advised_at < $2::timestamptz
GROUP BY a.cell, a.advised_at
HAVING count(*) FILTER (WHERE r.event_time <= a.advised_at AND r.grid_id IS NOT NULL) > 0
ORDER BY a.advised_at, a.cell
"""

HOTLINE_ORDERS = """
SELECT count(*)::int AS orders FROM hotline_orders
WHERE street_id = $3::text AND dispatched_at >= $1::timestamptz AND dispatched_at < $2::timestamptz
"""

# 案例剖析: the week's most significant incidents: highest level reached, then reports merged, then
# overdue; `why` is the reason of the event that first brought each to that level.
CASES = f"""{_WEEK_INCIDENTS}
SELECT w.id AS incident, w.category, w.community_id AS community, w.grid_id AS grid,
       (ARRAY['grid', 'community', 'street', 'district'])[w.reached] AS level, w.status, w.opened_at,
       w.report_count AS reports, w.overdue, why.reason AS why
FROM week w
LEFT JOIN LATERAL (
    SELECT e.reason FROM incident_events e
    WHERE e.incident_id = w.id AND e.to_level = (ARRAY['grid', 'community', 'street', 'district'])[w.reached]
    ORDER BY e.seq LIMIT 1
) why ON true
ORDER BY w.reached DESC, w.report_count DESC, w.overdue DESC, w.opened_at, w.id
LIMIT 3
"""

CASE_TIMELINE = """
SELECT incident_id AS incident, event_time AS "when", kind, actor, reason
FROM incident_events
WHERE incident_id = ANY($1::text[]) AND event_time < $2::timestamptz
ORDER BY incident_id, seq
"""
