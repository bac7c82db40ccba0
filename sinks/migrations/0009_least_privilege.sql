-- 0009: the sink makes and drops days of the position history without owning a table. Both functions run
-- as their owner (SECURITY DEFINER) with a fixed search path, and only the roles sinks/grants.py names may
-- call them (`redwall migrate` grants EXECUTE after every migration; PUBLIC may not). The roles and all
-- other grants are applied by `redwall migrate` from sinks/grants.py, not here: their passwords come from
-- files at run time.

-- Drops the partition of UTC day `day`, if it is a partition of `positions` by the name
-- positions_create_partition gives it; true when this call dropped it. Nothing else can be dropped through it.
CREATE FUNCTION positions_drop_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    name text := 'positions_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF NOT EXISTS (SELECT FROM pg_inherits
                   WHERE inhrelid = to_regclass(quote_ident(name)) AND inhparent = 'positions'::regclass) THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TABLE %I', name);
    RETURN true;
END
$$;

-- The schema is the one this migration runs in (pg_catalog is searched first anyway); pg_temp last, so that
-- no temporary table of the caller's can stand in for `positions`.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION positions_create_partition(date) SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION positions_drop_partition(date) SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
END
$$;

REVOKE ALL ON FUNCTION positions_create_partition(date) FROM PUBLIC;
REVOKE ALL ON FUNCTION positions_drop_partition(date) FROM PUBLIC;
