-- 0013: how a report's place was found, for the reports 12345 orders become (LocatedReport.placed_by):
-- one placed only by its grid or community stands at the area's centre and marks no place (no hot spot,
-- heat cell or repeat location). NULL: a phone's report, placed by its own point.
ALTER TABLE reports ADD COLUMN placed_by text;
