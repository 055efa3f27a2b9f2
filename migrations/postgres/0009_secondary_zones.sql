-- Secondary zones: copies of a zone kept by zone transfer from its
-- primaries, which own its content and serial.

-- Space-separated "address:port" of the primaries; empty for a zone whose
-- content is written here.
ALTER TABLE zones ADD COLUMN primaries TEXT NOT NULL DEFAULT '';
-- Name of the TSIG key that signs transfers from the primaries; empty:
-- unsigned.
ALTER TABLE zones ADD COLUMN primary_tsig TEXT NOT NULL DEFAULT '';
-- The catalog zone (RFC 9432) the zone was learned from; empty: configured
-- by hand. A zone leaves with its catalog entry.
ALTER TABLE zones ADD COLUMN learned_from TEXT NOT NULL DEFAULT '';
-- 1 once no primary answered for the SOA expire interval: the zone is
-- answered with SERVFAIL until a transfer or SOA check succeeds again.
ALTER TABLE zones ADD COLUMN expired INTEGER NOT NULL DEFAULT 0;
-- 1 when a primary's NOTIFY arrived at any server of the fleet: the zone
-- is checked at once.
ALTER TABLE zones ADD COLUMN notified INTEGER NOT NULL DEFAULT 0;
