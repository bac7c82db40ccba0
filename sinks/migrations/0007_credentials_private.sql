-- 0007: the credentials table is for Redwall alone. A signed device request's key is the stored token
-- hash, so whoever reads a hash could sign as that device.
-- 1. Grafana's read-only role (config/postgres/grafana-reader.sh) gets SELECT on every table by
--    default privileges; no dashboard reads this one.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana_reader') THEN
        REVOKE ALL ON credentials FROM grafana_reader;
    END IF;
END
$$;

-- 2. Any database login may LISTEN on any channel, so a change notification carries only the row's
--    id; the caches read the row itself (streams/credentials.py).
CREATE OR REPLACE FUNCTION credentials_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('redwall_credentials', NEW.id::text);
    RETURN NEW;
END
$$;
