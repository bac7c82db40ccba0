-- 0019: the courtyard (院落) of an incident: the one its opening report lies in, NULL when in none (a lane) or
-- opened before this migration. No foreign key, as for the other place ids: a replay loads after the map changed.
ALTER TABLE incidents ADD COLUMN courtyard_id text;
