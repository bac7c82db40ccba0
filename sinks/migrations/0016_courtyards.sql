-- 0016: courtyards (院落), the places below grids, and the courtyard of each report and fix.
-- Upserted from the GeoJSON by sinks.postgres.seed_places with the street, communities and grids.
CREATE TABLE courtyards (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    name_en     text,
    grid_id     text REFERENCES grids (id),
    geometry    jsonb NOT NULL,
    properties  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX courtyards_grid ON courtyards (grid_id);

-- NULL: in no courtyard (a lane or street between them), or stored before this migration. No foreign
-- key, as for the other place ids on events: a replay must load after the geometry changed.
ALTER TABLE reports ADD COLUMN courtyard_id text;
ALTER TABLE positions ADD COLUMN courtyard_id text;  -- every day partition takes the column and the index
ALTER TABLE latest_positions ADD COLUMN courtyard_id text;

-- "Who was at this courtyard, and when?" reads a courtyard's fixes over a time window.
CREATE INDEX positions_courtyard_time ON positions (courtyard_id, event_time);
