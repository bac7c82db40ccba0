-- 0007: credentials are not for Grafana. Its read-only role (config/postgres/grafana-reader.sh) gets
-- SELECT on every table by default privileges; a signed device request's key is the stored token
-- hash, so whoever reads this table could sign as any device. No dashboard reads it.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'grafana_reader') THEN
        REVOKE ALL ON credentials FROM grafana_reader;
    END IF;
END
$$;
