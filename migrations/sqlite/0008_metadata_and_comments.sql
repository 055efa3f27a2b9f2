-- Zone metadata kept for PowerDNS API clients (ALLOW-AXFR-FROM,
-- ALSO-NOTIFY, TSIG-ALLOW-AXFR, X-...): one row per value, in order.
CREATE TABLE zone_metadata (
    zone_id  INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    kind     TEXT    NOT NULL,
    position INTEGER NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (zone_id, kind, position)
);

-- Comments on RRsets, as the PowerDNS API keeps them; never served. An
-- RRset may have comments without records.
CREATE TABLE rrset_comments (
    zone_id     INTEGER NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
    -- Absolute, lowercase owner name; uppercase type mnemonic.
    name        TEXT    NOT NULL,
    rtype       TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    content     TEXT    NOT NULL,
    account     TEXT    NOT NULL,
    modified_at INTEGER NOT NULL,
    PRIMARY KEY (zone_id, name, rtype, position)
);
