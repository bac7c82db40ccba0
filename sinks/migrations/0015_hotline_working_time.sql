-- 0015: 12345 limits in working time. An order keeps its limits as written (2h, 7wd) and the instants of
-- their early warnings (临期预警), computed once on the working calendar: at dispatch by the worker for
-- the limits it came under, by the sink at an extension for the new limit (from dispatch, in the measure
-- of the order's own resolve limit). The clocks (streams/hotline/clocks.py) select by these instants; an
-- order stored before this migration has none and keeps the linear share of calendar time.
ALTER TABLE hotline_orders
    ADD COLUMN contact_limit    text,         -- the limits as written, from the order's limits
    ADD COLUMN resolve_limit    text,
    ADD COLUMN contact_warn_at  timestamptz,  -- warn_at of each limit's time, in its own measure
    ADD COLUMN resolve_warn_at  timestamptz,
    ADD COLUMN extended_warn_at timestamptz;  -- the newest extension's warning (state, like extended_to)
