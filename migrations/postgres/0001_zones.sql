-- Zones and their records. Record data is kept in presentation format, as
-- PowerDNS does, so the store can be read and repaired with plain SQL.

-- One row per zone served.
CREATE TABLE zones (
    id         BIGSERIAL PRIMARY KEY,
    -- Absolute, lowercase, with the trailing dot: "example.test."
    name       TEXT   NOT NULL UNIQUE,
    -- Bumped by every write to the zone; servers reload a zone when it moves.
    version    BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per resource record.
CREATE TABLE records (
    id      BIGSERIAL PRIMARY KEY,
    zone_id BIGINT NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    -- Absolute owner name as written, trailing dot included.
    name    TEXT   NOT NULL,
    -- Type mnemonic ("A", "LUA", "TYPE65534").
    type    TEXT   NOT NULL,
    ttl     BIGINT NOT NULL,
    -- RDATA in presentation format, names absolute.
    content TEXT   NOT NULL
);

CREATE INDEX records_zone_id ON records (zone_id);
