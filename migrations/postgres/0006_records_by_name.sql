-- Changes read the records at the names they touch: an edit of a large
-- zone costs what it changes, not a scan of the zone per name.
CREATE INDEX records_zone_name ON records (zone_id, name);
