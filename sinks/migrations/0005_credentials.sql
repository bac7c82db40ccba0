-- 0005: credentials of devices (phones posting to the ingest API) and dispatchers (console and actions).

-- A token is shown once when issued and stored only as its SHA-256 (see sinks/credentials.py for why
-- a plain hash suffices). Rows are never deleted: a revoked token stays so that it is refused as
-- "revoked", not "unknown", and so the history says who held which credential when.
CREATE TABLE credentials (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('device', 'dispatcher')),
    subject       text NOT NULL,  -- the device id, or the dispatcher's name
    role          text CHECK (role IN ('read', 'community', 'street')),
    community_id  text,           -- for role 'community': the only community it may act on
    token_sha256  bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    CHECK ((kind = 'device') = (role IS NULL)),
    CHECK ((role IS NOT DISTINCT FROM 'community') = (community_id IS NOT NULL))
);
-- At most one live credential per device or dispatcher: two concurrent `add`s cannot both win.
CREATE UNIQUE INDEX credentials_one_live ON credentials (kind, subject) WHERE revoked_at IS NULL;

-- Every change reaches the workers and the console at commit (they LISTEN), so a revocation takes
-- effect without a restart; a trigger rather than a NOTIFY in the code, so a change made by hand in
-- SQL reaches them too. The payload is the row as the caches hold it (well under NOTIFY's 8000 bytes).
CREATE FUNCTION credentials_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('redwall_credentials', json_build_object(
        'id', NEW.id, 'kind', NEW.kind, 'subject', NEW.subject, 'role', NEW.role,
        'community', NEW.community_id, 'token_sha256', encode(NEW.token_sha256, 'hex'),
        'revoked', NEW.revoked_at IS NOT NULL)::text);
    RETURN NEW;
END
$$;
CREATE TRIGGER credentials_changed AFTER INSERT OR UPDATE ON credentials
    FOR EACH ROW EXECUTE FUNCTION credentials_notify();
