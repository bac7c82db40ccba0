-- 0020: dispatchers per street. A street or community dispatcher sees and acts on its street only; a district
-- dispatcher (role 'district') on every street of the district, as the level above the streets.
-- street_id: the street a dispatcher is limited to (a community dispatcher's is its community's street);
-- NULL for the district role and for a read-only dispatcher of the whole deployment.
ALTER TABLE credentials ADD COLUMN street_id text;

DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'credentials'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%''read''%'
    LOOP
        EXECUTE format('ALTER TABLE credentials DROP CONSTRAINT %I', c.conname);
    END LOOP;
END
$$;
ALTER TABLE credentials
    ADD CONSTRAINT credentials_role CHECK (role IN ('read', 'community', 'street', 'district')),
    ADD CONSTRAINT credentials_district_has_no_street CHECK (role IS DISTINCT FROM 'district' OR street_id IS NULL);

-- Credentials issued before: a community dispatcher's street is its community's; a street dispatcher's the one
-- street of a one-street deployment (with several, reissue it with --street).
UPDATE credentials c SET street_id = m.street_id FROM communities m WHERE c.role = 'community' AND m.id = c.community_id;
UPDATE credentials SET street_id = (SELECT min(id) FROM streets)
 WHERE role = 'street' AND (SELECT count(*) FROM streets) = 1;
