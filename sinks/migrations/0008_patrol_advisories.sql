-- 0008: the last patrol advisory (前响应) of each hot H3 cell. A worker claims a cell here, in the
-- transaction that holds while the advisory is produced, only if its last advisory is at least the
-- repeat interval old: the promise of one advisory per cell per interval holds across worker
-- restarts, rebalances and a worker that thinks it still owns partition 0 after losing it.
CREATE TABLE patrol_advisories (
    cell        text PRIMARY KEY,
    advised_at  timestamptz NOT NULL,
    alert_id    text NOT NULL
);
